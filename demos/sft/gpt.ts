// A small decoder-only transformer (GPT-2 layout) for the SFT demo: learned token and position
// embeddings, pre-norm blocks of causal self-attention and a GELU MLP, a final layer norm and
// an untied `lm_head` that outputs logits. Every linear layer is a plain `Dense` named as in
// Hugging Face's GPT-2 (`h0.attn.c_attn`, `h0.attn.c_proj`, `h0.mlp.c_fc`, `h0.mlp.c_proj`),
// so PEFT's `target_modules="all-linear"` means the same layers here.
import * as tf from '@tensorflow/tfjs';
import { TokenLayerNorm } from '../digits/layer-norm';
import { CausalSelfAttention } from './causal-attention';
import { GptEmbeddings } from './gpt-embeddings';
import { VOCAB_SIZE } from './tokenizer';

/** Size of the transformer. */
export interface GptConfig {
  hiddenSize: number;
  numLayers: number;
  /** Must divide hiddenSize. */
  numHeads: number;
  /** Longest sequence (position table size). */
  maxLength: number;
  /** Seed of every initializer. */
  seed: number;
}

/**
 * Width 48 on purpose: OFT's guide block size 32 does not divide it, so applyOft adjusts it (with
 * its warning) on the attention and c_fc inputs, and keeps 32 on the 192-wide mlp.c_proj input.
 */
export const DEFAULT_GPT: GptConfig = { hiddenSize: 48, numLayers: 2, numHeads: 4, maxLength: 64, seed: 11 };

/** Builds the untrained model: input `[batch, tokens]` token ids, output logits `[batch, tokens, VOCAB_SIZE]`. */
export function buildGpt(cfg: GptConfig = DEFAULT_GPT): tf.LayersModel {
  const { hiddenSize: d, numLayers, numHeads, maxLength, seed } = cfg;
  if (d % numHeads !== 0) throw new Error(`buildGpt: numHeads ${numHeads} does not divide hiddenSize ${d}`);
  let s = seed;
  const dense = (name: string, units: number, activation?: 'gelu', useBias = true) =>
    tf.layers.dense({
      name,
      units,
      activation,
      useBias,
      kernelInitializer: tf.initializers.randomNormal({ stddev: 0.02, seed: s++ }),
      biasInitializer: 'zeros',
    });
  const norm = (name: string) => new TokenLayerNorm({ name, epsilon: 1e-5 });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [null], name: 'input_ids' });
  let x = apply(
    new GptEmbeddings({ name: 'embeddings', vocabSize: VOCAB_SIZE, hiddenSize: d, maxLength, seed: s++ }),
    input,
  );
  s++;
  for (let i = 0; i < numLayers; i++) {
    const h = `h${i}`;
    let a = apply(norm(`${h}.ln_1`), x);
    a = apply(dense(`${h}.attn.c_attn`, 3 * d), a);
    a = apply(new CausalSelfAttention({ name: `${h}.attn.core`, numHeads }), a);
    a = apply(dense(`${h}.attn.c_proj`, d), a);
    x = apply(tf.layers.add({ name: `${h}.residual_1` }), [x, a]);
    let m = apply(norm(`${h}.ln_2`), x);
    m = apply(dense(`${h}.mlp.c_fc`, 4 * d, 'gelu'), m);
    m = apply(dense(`${h}.mlp.c_proj`, d), m);
    x = apply(tf.layers.add({ name: `${h}.residual_2` }), [x, m]);
  }
  x = apply(norm('ln_f'), x);
  const logits = apply(dense('lm_head', VOCAB_SIZE, undefined, false), x);
  return tf.model({ inputs: input, outputs: logits, name: 'char_gpt' });
}
