// Small models for the surgery specs: a ViT-shaped functional block, a model with a shared
// Dense and a nested Sequential, and a Sequential MLP. Seeded initializers, non-zero biases.
import * as tf from '@tensorflow/tfjs';

export const VIT_TOKENS = 4;
export const VIT_DIM = 64;
export const VIT_HIDDEN = 128;
export const VIT_CLASSES = 3;
/** Input size d and units n of every Dense of `tinyVit`, for closed-form parameter counts. */
export const VIT_DENSE: Record<string, { d: number; n: number }> = {
  query: { d: VIT_DIM, n: VIT_DIM },
  key: { d: VIT_DIM, n: VIT_DIM },
  value: { d: VIT_DIM, n: VIT_DIM },
  'output.dense': { d: VIT_DIM, n: VIT_DIM },
  'mlp.fc1': { d: VIT_DIM, n: VIT_HIDDEN },
  'mlp.fc2': { d: VIT_HIDDEN, n: VIT_DIM },
  classifier: { d: VIT_DIM, n: VIT_CLASSES },
};

function dense(name: string, units: number, seed: number, activation?: 'relu' | 'softmax') {
  return tf.layers.dense({
    name, units, activation,
    kernelInitializer: tf.initializers.glorotNormal({ seed }),
    biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: seed + 1000 }),
  });
}

/**
 * One transformer block on `[batch, 4, 64]` tokens: single-head attention from Dot layers,
 * `output.dense`, residuals, layer norm, `mlp.fc1`/`mlp.fc2`, mean pooling, `classifier`.
 */
export function tinyVit(): tf.LayersModel {
  const x = tf.input({ shape: [VIT_TOKENS, VIT_DIM], name: 'tokens' });
  const q = dense('query', VIT_DIM, 1).apply(x) as tf.SymbolicTensor;
  const k = dense('key', VIT_DIM, 2).apply(x) as tf.SymbolicTensor;
  const v = dense('value', VIT_DIM, 3).apply(x) as tf.SymbolicTensor;
  const scores = tf.layers.dot({ axes: 2, name: 'scores' }).apply([q, k]) as tf.SymbolicTensor;
  const probs = tf.layers.softmax({ name: 'attention_probs', axis: -1 }).apply(scores) as tf.SymbolicTensor;
  const context = tf.layers.dot({ axes: [2, 1], name: 'context' }).apply([probs, v]) as tf.SymbolicTensor;
  const attn = dense('output.dense', VIT_DIM, 4).apply(context) as tf.SymbolicTensor;
  const h1 = tf.layers.add({ name: 'residual1' }).apply([x, attn]) as tf.SymbolicTensor;
  const n1 = tf.layers.layerNormalization({ name: 'norm1' }).apply(h1) as tf.SymbolicTensor;
  const f1 = dense('mlp.fc1', VIT_HIDDEN, 5, 'relu').apply(n1) as tf.SymbolicTensor;
  const f2 = dense('mlp.fc2', VIT_DIM, 6).apply(f1) as tf.SymbolicTensor;
  const h2 = tf.layers.add({ name: 'residual2' }).apply([n1, f2]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(h2) as tf.SymbolicTensor;
  const logits = dense('classifier', VIT_CLASSES, 7, 'softmax').apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: logits, name: 'tiny_vit' });
}

/**
 * `shared` (16→16) applied twice, then a nested Sequential `encoder` (`fc1` 16→8 relu, `fc2`
 * 8→16), then `head` (16→2).
 */
export function sharedNestedModel(): tf.LayersModel {
  const encoder = tf.sequential({
    name: 'encoder',
    layers: [
      tf.layers.dense({
        name: 'fc1',
        units: 8,
        inputShape: [16],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotNormal({ seed: 11 }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 12 }),
      }),
      dense('fc2', 16, 13),
    ],
  });
  const x = tf.input({ shape: [16], name: 'features' });
  const shared = dense('shared', 16, 14);
  const a = shared.apply(x) as tf.SymbolicTensor;
  const b = shared.apply(a) as tf.SymbolicTensor;
  const c = encoder.apply(b) as tf.SymbolicTensor;
  const y = dense('head', 2, 15).apply(c) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: 'shared_nested' });
}

/** A Sequential MLP 12 → 24 (relu) → 12 → 4. */
export function sequentialMlp(): tf.Sequential {
  return tf.sequential({
    name: 'mlp',
    layers: [
      tf.layers.dense({
        name: 'up',
        units: 24,
        inputShape: [12],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotNormal({ seed: 21 }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 22 }),
      }),
      dense('down', 12, 23),
      dense('out', 4, 24),
    ],
  });
}

/** Deterministic pseudo-random inputs (a linear congruential generator; no tfjs RNG). */
export function seededTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return tf.tensor(data, shape);
}
