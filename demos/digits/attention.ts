// The attention core of the demo's vision transformer: softmax(q·kᵀ/√h)·v over several heads.
// It holds no weights: the query/key/value/output projections around it are plain `Dense`
// layers, so that model surgery (applyOft, applyBoft, LoRA) can swap them. tfjs-layers has no
// MultiHeadAttention layer, hence this small serializable one.
import * as tf from '@tensorflow/tfjs';

/** Arguments of {@link SelfAttentionCore}. */
export interface SelfAttentionCoreArgs {
  /** Number of attention heads; must divide the hidden size. */
  numHeads: number;
  /** Layer name. */
  name?: string;
  /** Whether the layer's weights train (default true). */
  trainable?: boolean;
}

/**
 * Scaled dot-product attention over `numHeads` heads. Input: `[query, key, value]`, each
 * `[batch, tokens, hidden]`. Output: `[batch, tokens, hidden]` (heads concatenated).
 */
export class SelfAttentionCore extends tf.layers.Layer {
  static className = 'SelfAttentionCore';
  readonly numHeads: number;

  constructor(args: SelfAttentionCoreArgs) {
    super({ name: args.name, trainable: args.trainable });
    this.numHeads = checkedNumHeads('SelfAttentionCore', args.name, args.numHeads);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    return shapes[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [q, k, v] = inputs as tf.Tensor[];
      if (!Array.isArray(inputs) || inputs.length !== 3) {
        throw new Error(
          `SelfAttentionCore '${this.name}': expects [query, key, value], got ` +
            `${Array.isArray(inputs) ? inputs.length : 1} input(s)`,
        );
      }
      const hidden = q.shape[2] as number;
      const h = this.numHeads;
      if (hidden % h !== 0) {
        throw new Error(
          `SelfAttentionCore '${this.name}': hidden size ${hidden} is not divisible by numHeads ${h}; pick numHeads ` +
            `dividing ${hidden}`,
        );
      }
      return multiHeadAttention(q, k, v, h);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads };
  }
}
tf.serialization.registerClass(SelfAttentionCore);

/** `numHeads` of an attention layer, refused unless a positive integer (the error names the layer). */
export function checkedNumHeads(className: string, name: string | undefined, numHeads: number): number {
  if (!Number.isInteger(numHeads) || numHeads < 1) {
    throw new Error(`${className} '${name ?? ''}': numHeads must be a positive integer, got ${numHeads}`);
  }
  return numHeads;
}

/**
 * Scaled dot-product attention over `numHeads` heads: `q`, `k`, `v` `[batch, tokens, hidden]` →
 * `[batch, tokens, hidden]` (heads concatenated). `mask` `[tokens, tokens]`, when given, is added
 * to the scores before the softmax (0 where a query may see a key, a large negative elsewhere).
 */
export function multiHeadAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, numHeads: number,
  mask?: tf.Tensor2D): tf.Tensor3D {
  const [, tokens, hidden] = q.shape as number[];
  const dh = hidden / numHeads;
  // [B, T, D] -> [B·H, T, dh]: explicit batch dims (broadcast matMul has a wrong gradient).
  const split = (x: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(x, [-1, tokens, numHeads, dh]), [0, 2, 1, 3]), [-1, tokens, dh]) as tf.Tensor3D;
  const scaled = tf.mul(tf.matMul(split(q), split(k), false, true), 1 / Math.sqrt(dh));
  const scores = mask == null ? scaled : tf.add(scaled, mask);
  const ctx = tf.matMul(tf.softmax(scores) as tf.Tensor3D, split(v)); // [B·H, T, dh]
  return tf.reshape(tf.transpose(tf.reshape(ctx, [-1, numHeads, tokens, dh]), [0, 2, 1, 3]),
    [-1, tokens, hidden]) as tf.Tensor3D;
}
