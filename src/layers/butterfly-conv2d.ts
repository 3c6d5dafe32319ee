// ButterflyConv2D: ButterflyDense's adapter on a Conv2D kernel (docs/math.md §10). The kernel
// [kh, kw, cin, filters] is rotated as the channel-major [cin·kh·kw, filters] matrix, and the
// base convolution runs with the rotated kernel (or, for 1×1 kernels on few pixels, on the
// rotated channels).
import * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { Shape } from './adapter-dense';
import { CONV2D_HOST_ARGUMENTS, HostArguments } from './adapter-options';
import { ButterflyDense, ButterflyDenseArgs } from './butterfly-dense';
import type { BoftOptions } from './boft-options';
import {
  ConvLayerArgs, conv2dConfigOf, conv2dKernelShape, conv2dPrefersInputCentric, conv2dProbeShape, conv2dTemplate,
  convolve, flattenConvKernel, ResolvedConv2DArgs, unflattenConvKernel,
} from './conv2d-args';

/** Arguments of `ButterflyConv2D`: those of `tf.layers.conv2d` (channelsLast) plus the BOFT options. */
export interface ButterflyConv2DArgs extends ConvLayerArgs, BoftOptions {
  /** Whether `fit` may update the bias (default `false`). The kernel is always frozen. */
  biasTrainable?: boolean;
}

/**
 * A drop-in `Conv2D` with BOFT on its kernel: computes
 * `act(conv(x, K') + c)` with `K'_flat = B · K_flat · diag(s)` over channel-major patches; after
 * merging, a plain `Conv2D` with `K'` computes the same. Weights as `ButterflyDense`'s, with
 * `kernel` `[kh, kw, cin, filters]`.
 */
export class ButterflyConv2D extends ButterflyDense {
  static override className = 'ButterflyConv2D';

  constructor(args: ButterflyConv2DArgs) {
    super(args as unknown as ButterflyDenseArgs);
    this.inputSpec = [{ ndim: 4 }];
  }

  /**
   * Builds a `ButterflyConv2D` that copies an existing built `Conv2D`'s configuration, kernel and
   * bias, with the given adapter options. The Conv2D is not modified.
   */
  static fromConv2D(conv: layers.Layer, options: Partial<ButterflyConv2DArgs> = {}): ButterflyConv2D {
    return ButterflyDense.fromDense.call(ButterflyConv2D as never, conv, options as never) as ButterflyConv2D;
  }

  override build(inputShape: Shape | Shape[]): void {
    super.build(inputShape);
    this.inputSpec = [{ ndim: 4, axes: { [-1]: this.baseKernel.shape[2] as number } }];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return this.template.computeOutputShape(inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const training = kwargs?.training === true;
      const inputCentric = conv2dPrefersInputCentric(this.conv, x);
      const { input, kernel } = this.adaptedOperands(x, training, inputCentric);
      const bias = this.baseBias?.read() ?? null;
      return convolve(this.conv, input as tf.Tensor4D, kernel as tf.Tensor4D, bias, training);
    });
  }

  private get conv(): ResolvedConv2DArgs {
    return this.dense as ResolvedConv2DArgs;
  }

  protected override hostTemplate(args: unknown): ReturnType<typeof conv2dTemplate> {
    return conv2dTemplate(`${this.getClassName()} '${this.name}'`, args as ConvLayerArgs);
  }

  protected override hostArguments(): HostArguments {
    return CONV2D_HOST_ARGUMENTS;
  }

  protected override hostConfig(): Record<string, unknown> {
    return conv2dConfigOf(this.template);
  }

  protected override kernelShapeFor(shape: Shape): { d: number; kernelShape: number[] } {
    return conv2dKernelShape(`${this.getClassName()} '${this.name}'`, this.conv, shape);
  }

  protected override flatKernel(kernel: tf.Tensor): tf.Tensor2D {
    return flattenConvKernel(kernel);
  }

  protected override unflatKernel(flat: tf.Tensor2D): tf.Tensor {
    return unflattenConvKernel(flat, this.baseKernel.shape as number[]);
  }

  protected override probeInputShape(kernelShape: number[]): number[] {
    return conv2dProbeShape(this.conv, kernelShape);
  }
}
