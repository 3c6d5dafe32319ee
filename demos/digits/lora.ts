// LoRA baseline for the digits demo: a small serializable low-rank adapter layer and a model
// surgery that swaps Dense layers for it by name, the baseline a user would otherwise pick.
// y = act(x·K + (α/r)·(x·A)·B + c), K and c frozen, A [d, r] and B [r, n] trained, B = 0 at
// the start so the adapted model equals the base model.
import * as tf from '@tensorflow/tfjs';

/** Arguments of {@link LoraDense}. */
export interface LoraDenseArgs {
  /** Output units, as in the replaced Dense. */
  units: number;
  /** Rank `r` of the update. */
  rank: number;
  /** Scale numerator: the update is multiplied by `alpha / rank`. */
  alpha: number;
  /** Activation of the replaced Dense (tfjs identifier, default linear). */
  activation?: string;
  /** Whether there is a bias (default true). It is frozen. */
  useBias?: boolean;
  /** Seed of the uniform initializer of `lora_A` (±1/√d, as in PEFT). */
  seed?: number;
  /** Layer name. */
  name?: string;
  /** Whether the layer's trainable weights train (default true). */
  trainable?: boolean;
}

/** A frozen Dense plus a trainable rank-`r` update (LoRA). Weights `kernel`, `bias`, `lora_A`, `lora_B`. */
export class LoraDense extends tf.layers.Layer {
  static className = 'LoraDense';
  readonly units: number;
  readonly rank: number;
  readonly alpha: number;
  readonly activation: string;
  readonly useBias: boolean;
  readonly seed: number | undefined;
  private readonly act: tf.layers.Layer;
  private kernel!: tf.LayerVariable;
  private bias: tf.LayerVariable | null = null;
  private loraA!: tf.LayerVariable;
  private loraB!: tf.LayerVariable;

  constructor(args: LoraDenseArgs) {
    super({ name: args.name, trainable: args.trainable });
    const who = `LoraDense '${args.name ?? ''}'`;
    if (!Number.isInteger(args.units) || args.units < 1)
      throw new Error(`${who}: units must be a positive integer, got ${args.units}`);
    if (!Number.isInteger(args.rank) || args.rank < 1)
      throw new Error(`${who}: rank must be a positive integer, got ${args.rank}`);
    if (!(args.alpha > 0)) throw new Error(`${who}: alpha must be > 0, got ${args.alpha}`);
    this.units = args.units;
    this.rank = args.rank;
    this.alpha = args.alpha;
    this.activation = args.activation ?? 'linear';
    this.useBias = args.useBias ?? true;
    this.seed = args.seed ?? undefined;
    this.act = tf.layers.activation({ activation: this.activation as 'linear' });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const d = shape[shape.length - 1];
    if (d == null) throw new Error(`LoraDense '${this.name}': the last input dimension must be known, got [${shape}]`);
    this.kernel = this.addWeight('kernel', [d, this.units], 'float32', tf.initializers.zeros(), undefined, false);
    if (this.useBias)
      this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros(), undefined, false);
    const lim = 1 / Math.sqrt(d);
    this.loraA = this.addWeight('lora_A', [d, this.rank], 'float32',
      tf.initializers.randomUniform({ minval: -lim, maxval: lim, seed: this.seed }), undefined, true);
    this.loraB = this.addWeight('lora_B', [this.rank, this.units], 'float32', tf.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = inputShape as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const d = this.kernel.shape[0] as number;
      const flat = tf.reshape(x, [-1, d]) as tf.Tensor2D;
      let y: tf.Tensor = tf.matMul(flat, this.kernel.read() as tf.Tensor2D);
      const low = tf.matMul(tf.matMul(flat, this.loraA.read() as tf.Tensor2D), this.loraB.read() as tf.Tensor2D);
      y = tf.add(y, tf.mul(low, this.alpha / this.rank));
      if (this.bias) y = tf.add(y, this.bias.read());
      y = this.act.apply(y) as tf.Tensor;
      return tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }

  /** Trainable parameter count of the adapter: `r · (d + n)`. */
  adapterParams(): number {
    return this.rank * ((this.kernel.shape[0] as number) + this.units);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, rank: this.rank, alpha: this.alpha,
             activation: this.activation, useBias: this.useBias, seed: this.seed ?? null };
  }
}
tf.serialization.registerClass(LoraDense);

/** Options of {@link applyLora}. */
export interface LoraOptions {
  rank: number;
  /** Default `2 · rank`. */
  alpha?: number;
  /** Names of the Dense layers to adapt (matched as in tfjs-oft: equal, or ending in `.name`/`/name`). */
  targets: string[] | ((layerName: string) => boolean);
  /** Layers that stay fully trainable (e.g. the classifier). All others are frozen. */
  modulesToSave?: string[];
  /** Seed of the lora_A initializers (layer i gets seed + i). */
  seed?: number;
}

function matches(name: string, entries: string[]): boolean {
  return entries.some((e) => name === e || name.endsWith(`.${e}`) || name.endsWith(`/${e}`));
}

/**
 * Returns a new model in which the targeted Dense layers are LoraDense layers (base weights
 * copied, update zero) and every other layer is frozen except `modulesToSave`. The input
 * model is not changed. Rebuilds through the model's JSON so the graph is kept as it is.
 */
export async function applyLora(model: tf.LayersModel, opts: LoraOptions): Promise<tf.LayersModel> {
  const isTarget =
    typeof opts.targets === 'function' ? opts.targets : (n: string) => matches(n, opts.targets as string[]);
  const save = opts.modulesToSave ?? [];
  const json = JSON.parse(JSON.stringify(model.toJSON(null, false))) as {
    config: { layers: Array<{ class_name: string; config: Record<string, unknown>; name?: string }> };
  };
  let i = 0, adapted = 0;
  for (const layer of json.config.layers) {
    const name = layer.config.name as string;
    if (layer.class_name === 'Dense' && isTarget(name)) {
      const c = layer.config;
      layer.class_name = 'LoraDense';
      layer.config = { name, trainable: true, units: c.units, activation: c.activation, use_bias: c.use_bias,
                       rank: opts.rank, alpha: opts.alpha ?? 2 * opts.rank, seed: (opts.seed ?? 0) + i++ };
      adapted++;
    } else {
      layer.config.trainable = matches(name, save);
    }
  }
  if (adapted === 0)
    throw new Error('applyLora: no Dense layer matched the targets; check the layer names with model.summary()');
  const out = await tf.models.modelFromJSON({ modelTopology: json } as unknown as tf.io.ModelJSON);
  // Set the flags on the layers too (a custom layer may not read `trainable` from its config).
  for (const layer of out.layers) layer.trainable = layer instanceof LoraDense || matches(layer.name, save);
  return copyWeightsByName(model, out);
}

function copyWeightsByName(from: tf.LayersModel, to: tf.LayersModel): tf.LayersModel {
  for (const layer of to.layers) {
    const src = from.getLayer(layer.name);
    const w = src.getWeights();
    if (w.length === 0) continue;
    if (layer instanceof LoraDense) {
      // Base kernel and bias; lora_A/lora_B keep their fresh initial values.
      const own = layer.weights;
      const kernel = own.find((v) => v.originalName.endsWith('/kernel'));
      const bias = own.find((v) => v.originalName.endsWith('/bias'));
      kernel?.write(w[0]);
      if (bias && w[1]) bias.write(w[1]);
    } else {
      layer.setWeights(w);
    }
  }
  return to;
}
