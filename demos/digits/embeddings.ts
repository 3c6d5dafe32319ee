// Token embeddings of the demo's vision transformer, named after DINOv2's `embeddings`: prepends
// a learned [CLS] token to the patch tokens and adds learned position embeddings.
import * as tf from '@tensorflow/tfjs';

/** Arguments of {@link ViTEmbeddings}. */
export interface ViTEmbeddingsArgs {
  /** Seed of the truncated-normal initializer (std 0.02) of both weights. */
  seed?: number;
  /** Layer name. */
  name?: string;
  /** Whether the layer's weights train (default true). */
  trainable?: boolean;
}

/**
 * Input `[batch, patches, hidden]`; output `[batch, patches + 1, hidden]`: the [CLS] token
 * first, then the patches, each plus its position embedding. Weights: `cls_token` `[hidden]`
 * and `position_embeddings` `[patches + 1, hidden]`.
 */
export class ViTEmbeddings extends tf.layers.Layer {
  static className = 'ViTEmbeddings';
  readonly seed: number | undefined;
  private cls!: tf.LayerVariable;
  private pos!: tf.LayerVariable;

  constructor(args: ViTEmbeddingsArgs = {}) {
    super({ name: args.name, trainable: args.trainable });
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const patches = shape[1], hidden = shape[2];
    if (patches == null || hidden == null) {
      throw new Error(
        `ViTEmbeddings '${this.name}': needs a known number of patches and hidden size, got input shape [${shape}]`,
      );
    }
    const init = (offset: number) =>
      tf.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed == null ? undefined : this.seed + offset });
    this.cls = this.addWeight('cls_token', [hidden], 'float32', init(0));
    this.pos = this.addWeight('position_embeddings', [patches + 1, hidden], 'float32', init(1));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    return [s[0], s[1] == null ? null : s[1] + 1, s[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const hidden = x.shape[2];
      // Broadcast the token over the batch with an add (tile's gradient is one slice per copy).
      const cls = tf.add(
        tf.zerosLike(tf.slice(x, [0, 0, 0], [-1, 1, -1])),
        tf.reshape(this.cls.read(), [1, 1, hidden]),
      );
      return tf.add(tf.concat([cls, x], 1), this.pos.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed ?? null };
  }
}
tf.serialization.registerClass(ViTEmbeddings);
