// One training step (forward + backward + Adam update) of a 64 → 64 channel convolution on a
// batch of 16 32×32 images, 3×3 ('same') and 1×1: OrthogonalConv2D (Cayley–Neumann, b = 32) and
// ButterflyConv2D (m = 2) against a frozen convolution in plain ops (gradient to the input only).
// An adapter rotates the kernel and needs the kernel's gradient (about one more convolution: on
// tensorflow the row "+ kernel gradient" times that alone); a 1×1 adapter on fewer pixels than
// filters rotates each pixel's channels instead.
import * as tf from '@tensorflow/tfjs';
import { ButterflyConv2D, OrthogonalConv2D } from '../src/index';
import { BenchCase, BenchResult, printTable, runCases, trainingStep } from './harness';

const CIN = 64; const FILTERS = 64; const B = 32;
// tfjs' cpu backend convolves in plain JS: at 16 × 32×32 a 3×3 step takes minutes (the bench did
// not finish in 15 minutes), so there it times 4 images of 8×8 instead (64× less arithmetic).
let SIZE = 32; let BATCH = 16;
let INPUT = [BATCH, SIZE, SIZE, CIN];

/** A step that differentiates a squared-output loss w.r.t. the input and the layer's trainables. */
function layerStep(name: string, layer: tf.layers.Layer, kernel: tf.Tensor, bias: tf.Tensor): BenchCase {
  tf.dispose(layer.apply(tf.zeros([1, SIZE, SIZE, CIN])) as tf.Tensor); // build
  const adapter = layer as OrthogonalConv2D | ButterflyConv2D;
  adapter.baseKernel.write(kernel);
  adapter.baseBias?.write(bias);
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  return trainingStep<tf.Rank.R4>(name, INPUT, (x) => layer.apply(x, { training: true }) as tf.Tensor,
    params); // training: as fit runs it (on wasm, the path that needs no kernel gradient of conv2d)
}

/**
 * The frozen convolution with the kernel's gradient computed too (no update): the one convolution
 * of extra arithmetic that a rotated kernel needs, so the rest of an adapter's ratio is its blocks,
 * its optimizer update and their kernels.
 */
function kernelGradientStep(name: string, kernel: tf.Tensor4D, bias: tf.Tensor): BenchCase {
  const k = tf.variable(kernel.clone(), true) as tf.Variable<tf.Rank.R4>;
  const c = trainingStep<tf.Rank.R4>(name, INPUT, (x) => tf.add(tf.conv2d(x, k, 1, 'same'), bias), [k], false);
  return { ...c, dispose: () => { c.dispose?.(); k.dispose(); } };
}

async function runOne(k: number, repeats: number): Promise<BenchResult[]> {
  const kernel = tf.randomNormal([k, k, CIN, FILTERS], 0, 1 / Math.sqrt(k * k * CIN));
  const bias = tf.zeros([FILTERS]);
  const common = { filters: FILTERS, kernelSize: k, padding: 'same' as const };
  const baseline = `frozen ${k}×${k} conv (plain ops)`;
  const cases = [
    trainingStep<tf.Rank.R4>(baseline, INPUT, (x) => tf.add(tf.conv2d(x, kernel as tf.Tensor4D, 1, 'same'), bias), []),
    layerStep(`OFT Neumann b=${B}`, new OrthogonalConv2D({ ...common, oftBlockSize: B, useCayleyNeumann: true }),
      kernel, bias),
    layerStep('BOFT m=2 b=8', new ButterflyConv2D({ ...common, boftBlockSize: 8, boftNButterflyFactor: 2 }),
      kernel, bias),
    // tensorflow only: wasm has no kernel gradient of conv2d and cpu's is plain loops (the adapters
    // convolve by slices there). Last in each round, so that the adapters follow the frozen step.
    ...(tf.getBackend() === 'tensorflow'
      ? [kernelGradientStep(`frozen ${k}×${k} conv + kernel gradient`, kernel as tf.Tensor4D, bias)] : []),
  ];
  const results = await runCases(cases, repeats);
  printTable(`Conv2D adapter training step, ${k}×${k} kernel, ${CIN}→${FILTERS} channels, ${SIZE}×${SIZE} input, ` +
    `batch ${BATCH}, backend ${tf.getBackend()}`, results, [baseline]);
  for (const c of cases) c.dispose?.();
  tf.dispose([kernel, bias]);
  return results;
}

export async function runConvBench(repeats = 5): Promise<BenchResult[]> {
  [SIZE, BATCH] = tf.getBackend() === 'cpu' ? [8, 4] : [32, 16];
  INPUT = [BATCH, SIZE, SIZE, CIN];
  const results = [...await runOne(3, repeats), ...await runOne(1, repeats)];
  console.log('targets on tensorflow, ÷ frozen conv: ≤ 1.6× for 3×3, ≤ 1.3× for 1×1');
  return results;
}
