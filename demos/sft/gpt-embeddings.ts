// Token and learned position embeddings of the demo's GPT, as one layer (GPT-2's `wte` and
// `wpe`). The lookup is a one-hot matMul, not tf.gather: gather's gradient needs
// UnsortedSegmentSum, which the wasm backend lacks. Not a Dense, so 'all-linear' skips it.
import * as tf from '@tensorflow/tfjs';

/** Arguments of {@link GptEmbeddings}. */
export interface GptEmbeddingsArgs {
  /** Number of token ids. */
  vocabSize: number;
  /** Width of the token vectors. */
  hiddenSize: number;
  /** Longest sequence the position table covers. */
  maxLength: number;
  /** Seed of the normal initializers (std 0.02). */
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/** Input `[batch, tokens]` of token ids (float); output `[batch, tokens, hidden]`. Weights `wte`, `wpe`. */
export class GptEmbeddings extends tf.layers.Layer {
  static className = 'GptEmbeddings';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly maxLength: number;
  readonly seed: number | undefined;
  private wte!: tf.LayerVariable;
  private wpe!: tf.LayerVariable;

  constructor(args: GptEmbeddingsArgs) {
    super({ name: args.name, trainable: args.trainable });
    for (const key of ['vocabSize', 'hiddenSize', 'maxLength'] as const) {
      if (!Number.isInteger(args[key]) || args[key] < 1) {
        throw new Error(`GptEmbeddings '${args.name ?? ''}': ${key} must be a positive integer, got ${args[key]}`);
      }
    }
    this.vocabSize = args.vocabSize;
    this.hiddenSize = args.hiddenSize;
    this.maxLength = args.maxLength;
    this.seed = args.seed;
  }

  override build(): void {
    const init = (offset: number) =>
      tf.initializers.randomNormal({ stddev: 0.02, seed: this.seed == null ? undefined : this.seed + offset });
    this.wte = this.addWeight('wte', [this.vocabSize, this.hiddenSize], 'float32', init(0));
    this.wpe = this.addWeight('wpe', [this.maxLength, this.hiddenSize], 'float32', init(1));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    return [s[0], s[1], this.hiddenSize];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const ids = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
      const tokens = ids.shape[1];
      if (tokens > this.maxLength) {
        throw new Error(
          `GptEmbeddings '${this.name}': ${tokens} tokens exceed maxLength ${this.maxLength}; shorten the input`,
        );
      }
      const oneHot = tf.oneHot(tf.reshape(tf.cast(ids, 'int32'), [-1]), this.vocabSize);
      const tok = tf.matMul(tf.cast(oneHot, 'float32'), this.wte.read() as tf.Tensor2D);
      const pos = tf.slice(this.wpe.read(), [0, 0], [tokens, this.hiddenSize]);
      return tf.add(tf.reshape(tok, [-1, tokens, this.hiddenSize]), pos);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      vocabSize: this.vocabSize,
      hiddenSize: this.hiddenSize,
      maxLength: this.maxLength,
      seed: this.seed ?? null,
    };
  }
}
tf.serialization.registerClass(GptEmbeddings);
