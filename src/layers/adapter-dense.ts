// The part every dense adapter shares: Dense arguments, a frozen kernel, an optional bias,
// `y = act(adapt(x) · K ⊙ s + c)`, a switch to run without the adapter, and merging.
import * as tf from '@tensorflow/tfjs-core';
import { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { Regularizer } from '@tensorflow/tfjs-layers/dist/regularizers';
import { checkRate } from '../helpers';
import { denseConfigOf, denseTemplate, DenseLayerArgs, ResolvedDenseArgs, serializeRegularizer } from './dense-args';
import { DENSE_HOST_ARGUMENTS, HostArguments } from './adapter-options';

/** Arguments every adapter layer accepts on top of the usual `Dense` ones. */
export interface AdapterDenseArgs extends DenseLayerArgs {
  /**
   * Whether `fit` may update the bias. Default `false`: like PEFT's `bias: 'none'`, only the
   * adapter trains. The kernel is always frozen.
   */
  biasTrainable?: boolean;
}

export type Shape = Array<number | null>;

/**
 * Base class of the adapter layers. Subclasses create their adapter weights in `buildAdapter`,
 * compute `(x · R) · K` in `adaptedProduct`, rotate inputs in `adaptInput` and kernels in
 * `adaptKernel`, and give the dense rotation `R` (`d × d`) in `denseRotation`. The host layer
 * is a `Dense`; the Conv2D adapters override the host hooks (arguments, template, kernel shape
 * and flattening, `call`). Not meant to be used directly.
 */
export abstract class AdapterDense extends layers.Layer {
  readonly units: number;
  readonly biasTrainable: boolean;
  /** When `false`, the layer computes the frozen base `Dense` (adapter switched off). */
  adapterEnabled = true;
  protected kernel!: LayerVariable;
  protected bias: LayerVariable | null = null;
  protected readonly dense: ResolvedDenseArgs;
  private rate = 0;
  protected readonly template: layers.Layer;

  constructor(args: AdapterDenseArgs) {
    super(args);
    const { template, resolved, units } = this.hostTemplate(args);
    this.template = template;
    this.dense = resolved;
    this.units = units;
    this.biasTrainable = args.biasTrainable ?? false; // type-checked by the subclass with its other options
    if (args.batchInputShape == null && args.inputShape == null && args.inputDim != null) {
      this.batchInputShape = [null, args.inputDim];
    }
    this.inputSpec = [{ minNDim: 2 }];
    this.supportsMasking = true;
  }

  /**
   * Host hook: checks the host layer's arguments and builds the private template layer that
   * resolves them (activation, initializers…); `units` is the number of outputs.
   */
  protected hostTemplate(args: AdapterDenseArgs): { template: layers.Layer; resolved: ResolvedDenseArgs;
    units: number } {
    if (args == null || !Number.isInteger(args.units) || args.units <= 0) {
      throw new Error(`${this.getClassName()} '${this.name}': units must be a positive integer, got ${args?.units}.`);
    }
    return { ...denseTemplate(args), units: args.units };
  }

  /** Host hook: the arguments of the host layer's tfjs factory that the adapter accepts as they are. */
  protected hostArguments(): HostArguments {
    return DENSE_HOST_ARGUMENTS;
  }

  /** Host hook: the host-specific entries of the config (camelCase keys). */
  protected hostConfig(): Record<string, unknown> {
    return denseConfigOf(this.template);
  }

  /** Host hook: the rotated dimension `d` and the kernel shape for an input shape. */
  protected kernelShapeFor(shape: Shape): { d: number; kernelShape: number[] } {
    const d = shape[shape.length - 1];
    if (d == null) throw new Error(`${this.getClassName()} '${this.name}': the last input dimension must be known.`);
    return { d, kernelShape: [d, this.units] };
  }

  /** Host hook: the kernel as the `[d, n]` matrix that `R` rotates. */
  protected flatKernel(kernel: tf.Tensor): tf.Tensor2D {
    return kernel as tf.Tensor2D;
  }

  /** Host hook: a `[d, n]` matrix back in the kernel's own shape (inverse of `flatKernel`). */
  protected unflatKernel(flat: tf.Tensor2D): tf.Tensor {
    return flat;
  }

  /** Host hook: the shape of a zero input that builds the layer for a source kernel (see `fromDense`). */
  protected probeInputShape(kernelShape: number[]): number[] {
    return [1, kernelShape[0]];
  }

  /** The rotated dimension `d` once built: the Dense input dimension, `cin·kh·kw` for a conv. */
  get inputDim(): number {
    return this.flatShape[0];
  }

  /** `[d, n]`: the shape of the kernel as the matrix `R` rotates. */
  protected get flatShape(): [number, number] {
    const shape = this.kernel.shape as number[];
    return [shape.slice(0, -1).reduce((a, v) => a * v, 1), shape[shape.length - 1]];
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const { d, kernelShape } = this.kernelShapeFor(shape);
    // Adapter weights first (validation may throw before anything is created).
    this.buildAdapter(d);
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', this.dense.kernelInitializer,
      this.dense.kernelRegularizer, false, this.dense.kernelConstraint);
    if (this.dense.useBias) {
      this.bias = this.addWeight('bias', [this.units], 'float32', this.dense.biasInitializer,
        this.dense.biasRegularizer, this.biasTrainable, this.dense.biasConstraint);
    }
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: shape[shape.length - 1] as number } }];
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const training = kwargs?.training === true;
      // Reshapes only where the shape changes: on tfjs-node every reshape is a kernel launch.
      const flat = (x.rank === 2 ? x : tf.reshape(x, [-1, this.inputDim])) as tf.Tensor2D;
      const kernel = this.flatKernel(this.kernel.read());
      let y: tf.Tensor = this.adapterEnabled ? this.adaptedProduct(flat, kernel, training) : tf.matMul(flat, kernel);
      if (this.adapterEnabled) y = this.scaleOutput(y);
      if (this.bias != null) y = tf.add(y, this.bias.read());
      y = this.dense.activation.apply(y);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }

  /**
   * What the host multiplies for one call: the rotated input with the (scaled) base kernel
   * (`inputCentric`), or the input with the rotated kernel; the base pair when the adapter is off.
   */
  protected adaptedOperands(x: tf.Tensor, training: boolean, inputCentric: boolean): { input: tf.Tensor;
    kernel: tf.Tensor } {
    const kernel = this.kernel.read();
    if (!this.adapterEnabled) return { input: x, kernel };
    if (!inputCentric) return { input: x, kernel: this.adaptedKernel(training) };
    const s = this.outputScale();
    return { input: this.adaptInput(x, training),
      kernel: s == null ? kernel : this.unflatKernel(tf.mul(this.flatKernel(kernel), s) as tf.Tensor2D) };
  }

  /** Whether blocks use the Cayley–Neumann series (otherwise the exact Cayley transform). */
  abstract readonly useCayleyNeumann: boolean;

  /** The name of the method's dropout option (`moduleDropout`, `boftDropout`), for messages. */
  protected abstract readonly dropoutOption: string;

  /**
   * The layer's dropout rate under one name (`moduleDropout` of OFT, `boftDropout` of BOFT),
   * for code that drives every adapter alike, such as `ModuleDropoutSchedule`. In [0, 1);
   * may be changed between batches.
   */
  get dropoutRate(): number {
    return this.rate;
  }

  set dropoutRate(rate: number) {
    checkRate(`${this.getClassName()} '${this.name}'`, this.dropoutOption, rate);
    this.rate = rate;
  }

  /** The trainable packed skew-symmetric parameters (`oft_r`, `boft_r`), blocks on the last axis. */
  abstract get packedParameters(): LayerVariable;

  /** Every block rotation of the layer, `[blocks, b, b]` (no dropout). */
  abstract blockRotations(): tf.Tensor3D;

  /** The dense `d × d` rotation `R` of docs/math.md §1 (for inspection, tests and merging). */
  abstract denseRotation(): tf.Tensor2D;

  /**
   * The merged kernel `K' = R · K · diag(s)` (in the kernel's own shape): with it, the plain
   * host layer (`Dense`, `Conv2D`) computes what this layer computes (dropout aside).
   */
  mergedKernel(): tf.Tensor {
    return tf.tidy(() => {
      const rk = tf.matMul(this.denseRotation(), this.flatKernel(this.kernel.read()));
      const s = this.outputScale();
      return this.unflatKernel((s == null ? rk : tf.mul(rk, s)) as tf.Tensor2D);
    });
  }

  /**
   * The kernel as this call uses it: `R · K · diag(s)` with `R` built block by block (never
   * densely) and dropout applied in training. The Conv2D adapters convolve with it.
   */
  protected adaptedKernel(training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const rk = this.adaptKernel(this.flatKernel(this.kernel.read()), training);
      const s = this.outputScale();
      return this.unflatKernel((s == null ? rk : tf.mul(rk, s)) as tf.Tensor2D);
    });
  }

  /**
   * Config of the plain host layer (`Dense`, `Conv2D`) that replaces this layer after merging
   * (same name, units or filters, activation, bias, initializers…). Pair it with
   * `[mergedKernel(), bias]` as weights.
   */
  toBaseConfig(): Record<string, unknown> {
    const base = super.getConfig() as Record<string, unknown>;
    return { ...base, ...this.hostConfig() };
  }

  /** The name of `toBaseConfig` in 0.1.0, when every adapter replaced a `Dense`. */
  toDenseConfig(): Record<string, unknown> {
    return this.toBaseConfig();
  }

  /** Base kernel `K` (frozen). */
  get baseKernel(): LayerVariable {
    return this.kernel;
  }

  /** Bias `c`, or null when `useBias` is false. */
  get baseBias(): LayerVariable | null {
    return this.bias;
  }

  override getConfig(): Record<string, unknown> & ReturnType<layers.Layer['getConfig']> {
    return { ...super.getConfig(), ...this.hostConfig(), biasTrainable: this.biasTrainable,
             ...this.adapterConfig() };
  }

  /** Creates the adapter weights for input dimension `d` (validating against it). */
  protected abstract buildAdapter(d: number): void;

  /**
   * `(x · R) · K` for rows `x` (`[rows, d]`) and the frozen kernel `K`; `training` enables
   * dropout. One fused op: gradients reach `x` and the adapter, never `K`.
   */
  protected abstract adaptedProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, training: boolean): tf.Tensor2D;

  /** `x` (`[..., d]`) rotated by the adapter, `x · R`; `training` enables dropout. */
  protected abstract adaptInput(x: tf.Tensor, training: boolean): tf.Tensor;

  /** `R · K` for a `[d, n]` kernel, without a dense `R`; `training` enables dropout. */
  protected abstract adaptKernel(kernel: tf.Tensor2D, training: boolean): tf.Tensor2D;

  /**
   * The names of the method's options (`OFT_OPTION_KEYS`, `BOFT_OPTION_KEYS`): the layer keeps
   * each in a field of the same name, and its config lists them in this order.
   */
  protected abstract readonly optionKeys: readonly string[];

  /**
   * The adapter options as the layer resolved them (defaults filled in, block sizes as
   * adjusted), `biasTrainable` included, in serialized form: what surgery and adapter
   * checkpoints store to make the same adapter again.
   */
  adapterOptions(): Record<string, unknown> {
    return JSON.parse(JSON.stringify({ biasTrainable: this.biasTrainable, ...this.adapterConfig() }));
  }

  /** The adapter's own config entries, camelCase keys (tfjs snake-cases them on save). */
  private adapterConfig(): Record<string, unknown> {
    const fields = this as unknown as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of this.optionKeys) {
      out[key] = key.endsWith('Regularizer')
        ? serializeRegularizer(fields[key] as Regularizer | undefined)
        : fields[key];
    }
    return out;
  }

  /** Per-output scale `s` (`[n]`), or null when the method has none. */
  protected outputScale(): tf.Tensor1D | null {
    return null;
  }

  private scaleOutput(y: tf.Tensor): tf.Tensor {
    const s = this.outputScale();
    return s == null ? y : tf.mul(y, s);
  }

  /**
   * Builds this layer for input dimension `d` and copies the kernel and bias of an existing
   * built `Dense` layer (values are copied, the Dense is untouched).
   */
  protected copyBaseWeights(source: layers.Layer): void {
    const weights = source.getWeights();
    const kernel = weights[0];
    const rank = this.kernelShapeFor([null, 1]).kernelShape.length;
    if (kernel == null || kernel.rank !== rank) {
      throw new Error(
        `${this.getClassName()} '${this.name}': source layer '${source.name}' has no ${rank}-D kernel; build it first.`,
      );
    }
    // Build through apply() so that the weights get the layer-name prefix of tfjs' name scope
    // (`name/kernel`); a direct build() names them `kernel`, which collide and do not reload.
    if (!this.built) tf.dispose(this.apply(tf.zeros(this.probeInputShape(kernel.shape))) as tf.Tensor);
    this.kernel.write(kernel);
    if (this.bias != null) {
      if (weights[1] == null)
        throw new Error(
          `${this.getClassName()} '${this.name}': source '${source.name}' has no bias but useBias is true.`,
        );
      this.bias.write(weights[1]);
    }
  }

  /**
   * Builds an adapter of this class that copies an existing built `Dense`'s configuration,
   * kernel and bias, with the given adapter options. The Dense is not modified.
   *
   * ```ts
   * const oft = OrthogonalDense.fromDense(dense, { oftBlockSize: 16 });
   * ```
   */
  static fromDense<T extends AdapterDense, A extends AdapterDenseArgs>(this: new (args: A) => T,
    dense: layers.Layer, options: Partial<A> = {}): T {
    const layer = new this({ ...(dense.getConfig() as unknown as A), ...options });
    layer.copyBaseWeights(dense);
    return layer;
  }
}
