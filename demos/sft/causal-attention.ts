// The attention core of the demo's GPT: causal softmax(q·kᵀ/√h)·v over several heads, reading
// GPT-2's fused `c_attn` output [q | k | v]. No weights: the projections around it are plain
// Dense layers (`attn.c_attn`, `attn.c_proj`) that model surgery can swap.
import * as tf from '@tensorflow/tfjs';
import { checkedNumHeads, multiHeadAttention } from '../digits/attention';

/** Arguments of {@link CausalSelfAttention}. */
export interface CausalSelfAttentionArgs {
  /** Number of heads; must divide the hidden size. */
  numHeads: number;
  name?: string;
  trainable?: boolean;
}

/** Input `[batch, tokens, 3·hidden]` (q, k, v side by side); output `[batch, tokens, hidden]`. */
export class CausalSelfAttention extends tf.layers.Layer {
  static className = 'CausalSelfAttention';
  readonly numHeads: number;

  constructor(args: CausalSelfAttentionArgs) {
    super({ name: args.name, trainable: args.trainable });
    this.numHeads = checkedNumHeads('CausalSelfAttention', args.name, args.numHeads);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    return [s[0], s[1], s[2] == null ? null : s[2] / 3];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const qkv = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [, tokens, width] = qkv.shape;
      const hidden = width / 3,
        h = this.numHeads;
      if (!Number.isInteger(hidden) || hidden % h !== 0) {
        throw new Error(
          `CausalSelfAttention '${this.name}': input width ${width} is not 3 × a multiple of numHeads ${h}`,
        );
      }
      const [q, k, v] = tf.split(qkv, 3, 2);
      return multiHeadAttention(q, k, v, h, causalMask(tokens));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads };
  }
}
tf.serialization.registerClass(CausalSelfAttention);

/** `[T, T]`: 0 where a query may see a key (key ≤ query), −1e9 above the diagonal. */
function causalMask(tokens: number): tf.Tensor2D {
  const m = new Float32Array(tokens * tokens);
  for (let i = 0; i < tokens; i++) for (let j = i + 1; j < tokens; j++) m[i * tokens + j] = -1e9;
  return tf.tensor2d(m, [tokens, tokens]);
}
