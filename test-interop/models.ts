// Small adapted models for the interop tests (applyOft / applyBoft on a plain tfjs model),
// trained a few steps with a large learning rate so the rotations are far from the identity.
import * as tf from '@tensorflow/tfjs';
import { applyBoft, applyOft, withAdaptersDisabled } from '../src/index';

export interface TrainedCase {
  model: tf.LayersModel;
  /** Shape of one example (without the batch axis). */
  inputShape: number[];
  /** Predictions of the same model with every adapter switched off (the frozen base). */
  predictBase(x: tf.Tensor): Float32Array;
  dispose(): void;
}

const D = 16;

/** features[16] → fc1 (24, relu) → fc2 (16, sigmoid) → dropout → head (4). */
function baseModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const inp = tf.input({ shape: [D], name: 'features' });
  let h = tf.layers
    .dense({
      units: 24,
      activation: 'relu',
      name: 'fc1',
      kernelInitializer: init(1),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 2 }),
    })
    .apply(inp) as tf.SymbolicTensor;
  h = tf.layers
    .dense({ units: 16, activation: 'sigmoid', name: 'fc2', kernelInitializer: init(3) })
    .apply(h) as tf.SymbolicTensor;
  // (fc2 is sigmoid, not tanh: TF fuses MatMul+BiasAdd+Tanh into _FusedMatMul, and the tfjs CPU
  // backend has no tanh in fused matMul, so the graph model would fail to run there.)
  // (No LayerNormalization: TF lowers it to FusedBatchNormV3 in training mode, which a tfjs
  // graph model evaluates to NaN; a tfjs-converter limitation, unrelated to the adapters.)
  h = tf.layers.dropout({ rate: 0.1, name: 'drop', seed: seed + 5 }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, name: 'head', kernelInitializer: init(4) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: 'interop_base' });
}

/** OFT on fc1 (exact Cayley, b = 4) and fc2 (Cayley–Neumann, b = 8); head trains too. */
export function buildOft(): tf.LayersModel {
  const base = baseModel(10);
  const model = applyOft(base, { targetModules: ['fc1', 'fc2'], oftBlockSize: 4, useCayleyNeumann: false,
                                 bias: 'oft_only', modulesToSave: ['head'] });
  base.dispose();
  return model;
}

/** OFT with r = 2 shared blocks (blockShare) and the Cayley–Neumann series, on fc1 and fc2. */
export function buildOftSharedNeumann(): tf.LayersModel {
  const base = baseModel(30);
  const model = applyOft(base, {
    targetModules: ['fc1', 'fc2'],
    r: 2,
    oftBlockSize: 0,
    blockShare: true,
    useCayleyNeumann: true,
    numCayleyNeumannTerms: 6,
  });
  base.dispose();
  return model;
}

/** BOFT on fc1 and fc2 (b = 2, 3 butterfly factors), biases of the adapted layers train. */
export function buildBoft(): tf.LayersModel {
  const base = baseModel(20);
  const model = applyBoft(base, {
    targetModules: ['fc1', 'fc2'],
    boftBlockSize: 2,
    boftNButterflyFactor: 3,
    bias: 'boft_only',
  });
  base.dispose();
  return model;
}

const IMAGE = [8, 8, 4];

/**
 * image[8, 8, 4] → conv1 (3×3, 'same', relu) → conv2 (3×3, stride 2, 'valid', relu) → conv3 (1×1)
 * → flatten → head (4). Patch sizes d = 36, 72 and 8: block size 4 divides each, BOFT b = 2 with
 * m = 2 too.
 */
function convBaseModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const bias = (s: number) => tf.initializers.randomNormal({ stddev: 0.1, seed: seed + s });
  const inp = tf.input({ shape: IMAGE, name: 'image' });
  let h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1',
                             kernelInitializer: init(1), biasInitializer: bias(2) }).apply(inp) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'conv2',
                         kernelInitializer: init(3), biasInitializer: bias(4) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'conv3', kernelInitializer: init(5),
                         biasInitializer: bias(6) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten({ name: 'flat' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, name: 'head', kernelInitializer: init(7) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: 'interop_conv_base' });
}

/** OFT (exact Cayley, b = 4) on the three Conv2D layers; head trains too. */
export function buildConvOft(): tf.LayersModel {
  const base = convBaseModel(40);
  const model = applyOft(base, { targetModules: ['conv1', 'conv2', 'conv3'], oftBlockSize: 4,
                                 useCayleyNeumann: false, modulesToSave: ['head'] });
  base.dispose();
  return model;
}

/** BOFT (b = 2, m = 2) on the three Conv2D layers, their biases train. */
export function buildConvBoft(): tf.LayersModel {
  const base = convBaseModel(50);
  const model = applyBoft(base, { targetModules: ['conv1', 'conv2', 'conv3'], boftBlockSize: 2,
                                  boftNButterflyFactor: 2, bias: 'boft_only' });
  base.dispose();
  return model;
}

/** The example shape of a model built here (its single input's shape without the batch axis). */
function exampleShape(model: tf.LayersModel): number[] {
  return model.inputs[0].shape.slice(1) as number[];
}

/** Trains `model` for 12 Adam steps on fixed random data (large step so the rotations move). */
export async function trainFewSteps(model: tf.LayersModel): Promise<TrainedCase> {
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  const inputShape = exampleShape(model);
  const xs = tf.randomNormal([96, ...inputShape], 0, 1, 'float32', 1);
  const ys = tf.randomNormal([96, 4], 0, 1, 'float32', 2);
  for (let step = 0; step < 12; step++) {
    const i = (step % 6) * 16;
    const xb = tf.slice(xs, i, 16);
    const yb = tf.slice(ys, i, 16);
    await model.trainOnBatch(xb, yb);
    tf.dispose([xb, yb]);
  }
  tf.dispose([xs, ys]);
  return {
    model,
    inputShape,
    predictBase: (x) =>
      withAdaptersDisabled(model, () => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array)),
    dispose: () => model.dispose(),
  };
}
