// A small vision transformer for 28×28 digits, built from stock tfjs-layers plus three small
// serializable layers of this demo (ViTEmbeddings, SelfAttentionCore, TokenLayerNorm). Its linear layers are
// plain `Dense` layers named as in Hugging Face's DINOv2 (`…attention.attention.query`,
// `…key`, `…value`, `…attention.output.dense`, `…mlp.fc1`, `…mlp.fc2`, `classifier`) so that
// the PEFT-style target lists work on it unchanged.
import * as tf from '@tensorflow/tfjs';
import { SelfAttentionCore } from './attention';
import { ViTEmbeddings } from './embeddings';
import { TokenLayerNorm } from './layer-norm';
import { IMAGE_SIZE, NUM_CLASSES } from './data';

/** Size of the transformer. */
export interface VitConfig {
  /** Side of a square patch; must divide 28. */
  patchSize: number;
  /** Width of the token vectors. */
  hiddenSize: number;
  /** Number of transformer blocks. */
  numLayers: number;
  /** Attention heads per block; must divide hiddenSize. */
  numHeads: number;
  /** Width of the MLP inside each block. */
  mlpSize: number;
  /** Seed of every initializer. */
  seed: number;
}

export const DEFAULT_VIT: VitConfig = { patchSize: 7, hiddenSize: 32, numLayers: 2, numHeads: 2, mlpSize: 64, seed: 7 };

/**
 * Builds the (untrained) ViT: input `[batch, 28, 28]` grey levels, output class probabilities
 * `[batch, 10]`. Pre-norm blocks as in DINOv2 (without layer scale); the classifier reads the
 * mean of the tokens after the final layer norm.
 */
export function buildVit(cfg: VitConfig = DEFAULT_VIT): tf.LayersModel {
  const { patchSize: p, hiddenSize: d, numLayers, numHeads, mlpSize, seed } = cfg;
  if (IMAGE_SIZE % p !== 0) throw new Error(`buildVit: patchSize ${p} does not divide the image size ${IMAGE_SIZE}`);
  if (d % numHeads !== 0) throw new Error(`buildVit: numHeads ${numHeads} does not divide hiddenSize ${d}`);
  const g = IMAGE_SIZE / p; // patches per side
  let s = seed;
  const kernelInit = () => tf.initializers.glorotUniform({ seed: s++ });
  const dense = (name: string, units: number, activation?: 'gelu' | 'softmax') =>
    tf.layers.dense({ name, units, activation, kernelInitializer: kernelInit(), biasInitializer: 'zeros' });
  const norm = (name: string) => new TokenLayerNorm({ name, epsilon: 1e-6 });

  const input = tf.input({ shape: [IMAGE_SIZE, IMAGE_SIZE], name: 'pixel_values' });
  // [28, 28] -> [g, p, g, p] -> [g, g, p, p] -> [g·g, p·p]: one row per patch.
  let x = tf.layers
    .reshape({ targetShape: [g, p, g, p], name: 'embeddings.patch_embeddings.split' })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers
    .permute({ dims: [1, 3, 2, 4], name: 'embeddings.patch_embeddings.permute' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .reshape({ targetShape: [g * g, p * p], name: 'embeddings.patch_embeddings.flatten' })
    .apply(x) as tf.SymbolicTensor;
  x = dense('embeddings.patch_embeddings.projection', d).apply(x) as tf.SymbolicTensor;
  x = new ViTEmbeddings({ name: 'embeddings', seed: s++ }).apply(x) as tf.SymbolicTensor;

  for (let i = 0; i < numLayers; i++) {
    const pre = `encoder.layer.${i}`;
    const h = norm(`${pre}.norm1`).apply(x) as tf.SymbolicTensor;
    const q = dense(`${pre}.attention.attention.query`, d).apply(h) as tf.SymbolicTensor;
    const k = dense(`${pre}.attention.attention.key`, d).apply(h) as tf.SymbolicTensor;
    const v = dense(`${pre}.attention.attention.value`, d).apply(h) as tf.SymbolicTensor;
    const a = new SelfAttentionCore({ numHeads, name: `${pre}.attention.attention.core` }).apply([
      q,
      k,
      v,
    ]) as tf.SymbolicTensor;
    const o = dense(`${pre}.attention.output.dense`, d).apply(a) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `${pre}.residual1` }).apply([x, o]) as tf.SymbolicTensor;
    const h2 = norm(`${pre}.norm2`).apply(x) as tf.SymbolicTensor;
    const f1 = dense(`${pre}.mlp.fc1`, mlpSize, 'gelu').apply(h2) as tf.SymbolicTensor;
    const f2 = dense(`${pre}.mlp.fc2`, d).apply(f1) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `${pre}.residual2` }).apply([x, f2]) as tf.SymbolicTensor;
  }
  x = norm('layernorm').apply(x) as tf.SymbolicTensor;
  // Mean over all tokens ([CLS] included; DINOv2's classifier also reads the patch mean).
  x = tf.layers.globalAveragePooling1d({ name: 'pooler' }).apply(x) as tf.SymbolicTensor;
  const out = dense('classifier', NUM_CLASSES, 'softmax').apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'digits_vit' });
}
