// `npx tsx bench/batch-size.bench.ts [--backend tensorflow|cpu|wasm] [--repeats N] [--rows 256,1024,4096]`:
// how an adapter's overhead shrinks as the batch grows. For each number of rows, the plain-ops frozen
// step of bench/oft.bench.ts (x·K + c, 1024 → 1024, gradient to x) and the OFT and BOFT steps of
// `npm run bench` (with their Adam update), interleaved round by round, as ratios to the frozen step.
// Most of what an adapter adds on tfjs-node is per step (its blocks, its optimizer update and the
// launch of every kernel), not per row, so the ratio falls with the batch.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../scripts/tfjs-backend';
import { ButterflyDense, OrthogonalDense } from '../src/index';
import { BenchCase, flag, printTable, runCases, trainingStep } from './harness';

const D = 1024;
const BASELINE = 'frozen x·K+c (plain ops)';

/** The adapters of `npm run bench`, freshly built, with the frozen kernel and bias written in. */
function adapters(kernel: tf.Tensor, bias: tf.Tensor): Array<[string, OrthogonalDense | ButterflyDense]> {
  const layers: Array<[string, OrthogonalDense | ButterflyDense]> = [
    ['OFT Neumann b=32', new OrthogonalDense({ units: D, oftBlockSize: 32, useCayleyNeumann: true })],
    ['OFT exact b=32', new OrthogonalDense({ units: D, oftBlockSize: 32, useCayleyNeumann: false })],
    ['BOFT m=2 b=8', new ButterflyDense({ units: D, boftBlockSize: 8, boftNButterflyFactor: 2 })],
    ['BOFT m=4 b=8', new ButterflyDense({ units: D, boftBlockSize: 8, boftNButterflyFactor: 4 })],
  ];
  for (const [, layer] of layers) {
    tf.dispose(layer.apply(tf.zeros([1, D])) as tf.Tensor); // build
    layer.baseKernel.write(kernel);
    layer.baseBias?.write(bias);
  }
  return layers;
}

async function main(): Promise<void> {
  await useBackend(flag('backend', 'tensorflow'));
  const repeats = Number(flag('repeats', '15'));
  const rowCounts = flag('rows', '256,1024,4096').split(',').map(Number);
  if (rowCounts.some((r) => !Number.isInteger(r) || r < 1 || r > 65536)) {
    throw new Error(`--rows takes integers from 1 to 65536, comma-separated; got '${flag('rows', '')}'.`);
  }
  const kernel = tf.randomNormal([D, D], 0, 1 / Math.sqrt(D));
  const bias = tf.zeros([D]);
  const summary: string[] = [];
  for (const rows of rowCounts) {
    const layers = adapters(kernel, bias);
    const cases: BenchCase[] = [
      trainingStep(BASELINE, [rows, D], (x) => tf.add(tf.matMul(x, kernel as tf.Tensor2D), bias), []),
      ...layers.map(([name, layer]) => trainingStep(name, [rows, D], (x) => layer.apply(x) as tf.Tensor,
        layer.trainableWeights.map((w) => w.read() as tf.Variable))),
    ];
    const results = await runCases(cases, repeats);
    printTable(`training step, ${D}→${D}, ${rows} rows, backend ${tf.getBackend()}`, results, [BASELINE]);
    for (const c of cases) c.dispose?.();
    for (const [, layer] of layers) layer.dispose();
    summary.push(`${rows} rows: frozen step ${results[0].medianMs.toFixed(1)} ms`);
  }
  console.log(`\n${summary.join('; ')}`);
  tf.dispose([kernel, bias]);
}

main().catch((e) => { console.error(e); process.exit(1); });
