// Layer normalization over the last axis, written with broadcasting ops. The demo uses it
// instead of tf.layers.layerNormalization because, in tfjs 4.22, that layer broadcasts its
// gamma/beta with `tile`, whose gradient issues one `slice` per repeated element: ~11,000
// kernels per training step for this small ViT, which made an epoch 3× slower on every backend.
import * as tf from '@tensorflow/tfjs';

/** Arguments of {@link TokenLayerNorm}. */
export interface TokenLayerNormArgs {
  /** Added to the variance before the square root. */
  epsilon?: number;
  /** Layer name. */
  name?: string;
  /** Whether the layer's weights train (default true). */
  trainable?: boolean;
}

/**
 * `y = (x − mean) / √(var + ε) · gamma + beta` over the last axis. Weights `gamma` (ones) and
 * `beta` (zeros), shape `[lastDim]`.
 */
export class TokenLayerNorm extends tf.layers.Layer {
  static className = 'TokenLayerNorm';
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;

  constructor(args: TokenLayerNormArgs = {}) {
    super({ name: args.name, trainable: args.trainable });
    this.epsilon = args.epsilon ?? 1e-6;
    if (!(this.epsilon > 0))
      throw new Error(`TokenLayerNorm '${args.name ?? ''}': epsilon must be > 0, got ${this.epsilon}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const dim = shape[shape.length - 1];
    if (dim == null)
      throw new Error(`TokenLayerNorm '${this.name}': the last input dimension must be known, got [${shape}]`);
    this.gamma = this.addWeight('gamma', [dim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const axis = x.rank - 1;
      const { mean, variance } = tf.moments(x, axis, true);
      const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normed, this.gamma.read()), this.beta.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(TokenLayerNorm);
