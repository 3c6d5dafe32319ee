// The Conv2D host of an adapter: the hooks that make an OrthogonalDense or ButterflyDense adapt a
// Conv2D kernel instead of a Dense one (docs/math.md §10). One mixin, so that OrthogonalConv2D and
// ButterflyConv2D differ only in the method they inherit.
import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { AdapterDense, Shape } from './adapter-dense';
import { CONV2D_HOST_ARGUMENTS, HostArguments } from './adapter-options';
import {
  ConvLayerArgs, conv2dConfigOf, conv2dKernelShape, conv2dPrefersInputCentric, conv2dProbeShape, conv2dTemplate,
  convolve, flattenConvKernel, ResolvedConv2DArgs, unflattenConvKernel,
} from './conv2d-args';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AdapterClass = abstract new (...args: any[]) => AdapterDense;

/**
 * `Base` with a Conv2D host: kernel `[kh, kw, cin, filters]` rotated as the channel-major
 * `[cin·kh·kw, filters]` matrix, then the base convolution runs with the rotated kernel (or, for
 * 1×1 kernels on few pixels, on the rotated channels). The return type is `Base`'s own: the mixin
 * only overrides hooks that `AdapterDense` declares, so the public shape does not change.
 */
export function withConv2DHost<T extends AdapterClass>(Base: T): T {
  abstract class Conv2DHost extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      this.inputSpec = [{ ndim: 4 }];
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
        const conv = this.dense as ResolvedConv2DArgs;
        const { input, kernel } = this.adaptedOperands(x, training, conv2dPrefersInputCentric(conv, x));
        const bias = this.baseBias?.read() ?? null;
        return convolve(conv, input as tf.Tensor4D, kernel as tf.Tensor4D, bias, training);
      });
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
      return conv2dKernelShape(`${this.getClassName()} '${this.name}'`, this.dense as ResolvedConv2DArgs, shape);
    }

    protected override flatKernel(kernel: tf.Tensor): tf.Tensor2D {
      return flattenConvKernel(kernel);
    }

    protected override unflatKernel(flat: tf.Tensor2D): tf.Tensor {
      return unflattenConvKernel(flat, this.baseKernel.shape as number[]);
    }

    protected override probeInputShape(kernelShape: number[]): number[] {
      return conv2dProbeShape(this.dense as ResolvedConv2DArgs, kernelShape);
    }
  }
  return Conv2DHost;
}
