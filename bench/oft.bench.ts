// One training step (forward + backward + Adam update) of a 1024 → 1024 layer on 256 rows:
// OrthogonalDense (Neumann and exact, b = 32) against a frozen Dense (gradient to the input
// only) and a fully trained Dense. Every step also computes the gradient to the input, as a
// layer inside a network must.
import * as tf from '@tensorflow/tfjs';
import { OrthogonalDense } from '../src/index';
import { BenchCase, BenchResult, printTable, runCases, settle, trainingStep } from './harness';

const D = 1024; const N = 1024; const ROWS = 256;

/** A step that differentiates a squared-output loss w.r.t. the input and the layer's trainables. */
function layerStep(name: string, layer: tf.layers.Layer, trainable: boolean): BenchCase {
  tf.dispose(layer.apply(tf.zeros([1, D])) as tf.Tensor); // build
  const params = trainable ? layer.trainableWeights.map((w) => w.read() as tf.Variable) : [];
  return trainingStep(name, [ROWS, D], (x) => layer.apply(x) as tf.Tensor, params);
}

type PlainMode = 'frozen' | 'full' | 'floor';
const PLAIN_NAMES: Record<PlainMode, string> = {
  frozen: 'frozen x·K+c (plain ops)',
  full: 'full x·K+c (plain ops)',
  floor: 'frozen x·K+c + Adam on oft_r',
};

/**
 * The same arithmetic in plain ops (x·K + c; gradient to x, and with `full` to K and c plus an
 * Adam update): tells how much of a ratio is tfjs' Dense layer itself (its fused matmul is
 * slow to differentiate on wasm). `floor` adds to the frozen step only the Adam update of a
 * variable shaped like OFT's `oft_r` (b = 32): what any adapter step costs beyond the frozen one
 * before it computes anything, since the user's optimizer runs its own kernels per variable.
 */
function plainStep(kernel: tf.Tensor, bias: tf.Tensor, mode: PlainMode): BenchCase {
  const x = tf.variable(tf.randomNormal([ROWS, D]), true);
  const k = tf.variable(kernel.clone(), true);
  const c = tf.variable(bias.clone(), true);
  const packed = tf.variable(tf.zeros([D / 32, (32 * 31) / 2]), true);
  const packedGrad = tf.onesLike(packed);
  const optimizer = tf.train.adam(1e-3);
  return {
    name: PLAIN_NAMES[mode],
    step: () => {
      tf.tidy(() => {
        const vars = mode === 'full' ? [x, k, c] : [x];
        const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.add(tf.matMul(x, k), c))) as tf.Scalar, vars);
        if (mode === 'full') optimizer.applyGradients([k, c].map((v) => ({ name: v.name, tensor: grads[v.name] })));
        if (mode === 'floor') optimizer.applyGradients([{ name: packed.name, tensor: packedGrad }]);
        // Wait for what the step changed, as trainingStep does: downloading the frozen K would
        // inflate the baseline.
        settle([grads[x.name], ...(mode === 'full' ? [k, c] : mode === 'floor' ? [packed] : [])]);
      });
    },
    dispose: () => { tf.dispose([x, k, c, packed, packedGrad]); optimizer.dispose(); },
  };
}

export async function runOftBench(repeats = 5): Promise<BenchResult[]> {
  const kernel = tf.randomNormal([D, N], 0, 1 / Math.sqrt(D));
  const bias = tf.zeros([N]);
  const frozen = tf.layers.dense({ units: N, trainable: false });
  const full = tf.layers.dense({ units: N });
  const neumann = new OrthogonalDense({ units: N, oftBlockSize: 32, useCayleyNeumann: true });
  const exact = new OrthogonalDense({ units: N, oftBlockSize: 32, useCayleyNeumann: false });
  const cases = [
    layerStep('frozen Dense', frozen, false),
    plainStep(kernel, bias, 'frozen'),
    plainStep(kernel, bias, 'full'),
    plainStep(kernel, bias, 'floor'),
    layerStep('full Dense', full, true),
    layerStep('OFT Neumann b=32', neumann, true),
    layerStep('OFT exact b=32', exact, true),
  ];
  for (const l of [frozen, full]) l.setWeights([kernel, bias]);
  for (const l of [neumann, exact]) { l.baseKernel.write(kernel); l.baseBias?.write(bias); }
  const results = await runCases(cases, repeats);
  printTable(`OrthogonalDense training step, ${D}→${N}, ${ROWS} rows, backend ${tf.getBackend()}`,
    results, ['frozen Dense', 'full Dense', 'frozen x·K+c (plain ops)', 'full x·K+c (plain ops)']);
  console.log('targets: OFT Neumann ≤ 1.25× frozen Dense and ≤ 0.9× full Dense; on tensorflow, ÷ frozen x·K+c: ' +
    'OFT Neumann ≤ 1.10×, OFT exact ≤ 1.20×; the row "+ Adam on oft_r" is the floor that the optimizer alone sets');
  for (const c of cases) c.dispose?.();
  tf.dispose([kernel, bias]);
  return results;
}
