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

/**
 * The same arithmetic in plain ops (x·K + c; gradient to x, and with `train` to K and c plus an
 * Adam update): tells how much of a ratio is tfjs' Dense layer itself (its fused matmul is
 * slow to differentiate on wasm).
 */
function plainStep(kernel: tf.Tensor, bias: tf.Tensor, train: boolean): BenchCase {
  const x = tf.variable(tf.randomNormal([ROWS, D]), true);
  const k = tf.variable(kernel.clone(), true);
  const c = tf.variable(bias.clone(), true);
  const optimizer = tf.train.adam(1e-3);
  return {
    name: train ? 'full x·K+c (plain ops)' : 'frozen x·K+c (plain ops)',
    step: () => {
      tf.tidy(() => {
        const vars = train ? [x, k, c] : [x];
        const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.add(tf.matMul(x, k), c))) as tf.Scalar, vars);
        if (train) optimizer.applyGradients([k, c].map((v) => ({ name: v.name, tensor: grads[v.name] })));
        settle([grads[x.name], k, c]);
      });
    },
    dispose: () => { tf.dispose([x, k, c]); optimizer.dispose(); },
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
    plainStep(kernel, bias, false),
    plainStep(kernel, bias, true),
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
    'OFT Neumann ≤ 1.10×, OFT exact ≤ 1.20×');
  for (const c of cases) c.dispose?.();
  tf.dispose([kernel, bias]);
  return results;
}
