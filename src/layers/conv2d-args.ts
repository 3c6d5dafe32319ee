// The Conv2D host of the adapters (docs/math.md §10): the arguments of `tf.layers.conv2d`,
// resolved by a private template Conv2D, the kernel flattened channel-major to the `[d, n]`
// matrix that `R` rotates, and the convolution itself.
import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { ConvLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/convolutional';
import type { ResolvedDenseArgs } from './dense-args';

export type { ConvLayerArgs };

/** What a template Conv2D holds once it has resolved its arguments (private fields in tfjs). */
export interface ResolvedConv2DArgs extends ResolvedDenseArgs {
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dilationRate: [number, number];
}

/** Keys of a serialized Conv2D config that describe the computation (not the layer's identity). */
const CONV2D_KEYS = ['filters', 'kernelSize', 'strides', 'padding', 'dataFormat', 'dilationRate', 'activation',
  'useBias', 'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer', 'activityRegularizer',
  'kernelConstraint', 'biasConstraint'] as const;

/** Same fixed name as the Dense templates: no draw on tfjs' automatic layer names. */
const TEMPLATE_NAME = 'tfjs_oft_template';

/**
 * Builds the template Conv2D for `args` (tfjs' own errors for invalid Conv2D arguments); refuses
 * what the adapters do not support, naming the layer `who`.
 */
export function conv2dTemplate(who: string, args: ConvLayerArgs): { template: layers.Layer;
  resolved: ResolvedConv2DArgs; units: number } {
  if (args == null || !Number.isInteger(args.filters) || args.filters <= 0) {
    throw new Error(`${who}: filters must be a positive integer, got ${args?.filters}.`);
  }
  if (args.dataFormat != null && args.dataFormat !== 'channelsLast') {
    throw new Error(`${who}: dataFormat '${args.dataFormat}' is not supported; the Conv2D adapters take ` +
      `channelsLast inputs [batch, height, width, channels]. Transpose the input, or use dataFormat: 'channelsLast'.`);
  }
  if ((args.padding as string | undefined) === 'causal') {
    throw new Error(`${who}: padding 'causal' is not supported by Conv2D; use 'valid' or 'same'.`);
  }
  const template = layers.conv2d({
    name: TEMPLATE_NAME, filters: args.filters, kernelSize: args.kernelSize, strides: args.strides,
    padding: args.padding, dataFormat: 'channelsLast', dilationRate: args.dilationRate,
    activation: args.activation, useBias: args.useBias, kernelInitializer: args.kernelInitializer,
    biasInitializer: args.biasInitializer, kernelRegularizer: args.kernelRegularizer,
    biasRegularizer: args.biasRegularizer, activityRegularizer: args.activityRegularizer,
    kernelConstraint: args.kernelConstraint, biasConstraint: args.biasConstraint,
  });
  const resolved = template as unknown as ResolvedConv2DArgs;
  if (resolved.strides.some((s) => s > 1) && resolved.dilationRate.some((r) => r > 1)) {
    throw new Error(`${who}: strides [${resolved.strides}] and dilationRate [${resolved.dilationRate}] are both ` +
      'above 1; tfjs convolutions take one or the other. Set strides: 1 or dilationRate: 1.');
  }
  return { template, resolved, units: args.filters };
}

/** The Conv2D-specific part of the template's config (camelCase keys). */
export function conv2dConfigOf(template: layers.Layer): Record<string, unknown> {
  const full = template.getConfig() as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of CONV2D_KEYS) if (full[key] !== undefined) out[key] = full[key];
  return out;
}

/** `d = cin·kh·kw` and the kernel shape `[kh, kw, cin, filters]` for an input `[batch, h, w, cin]`. */
export function conv2dKernelShape(who: string, conv: ResolvedConv2DArgs,
  shape: Array<number | null>): { d: number; kernelShape: number[] } {
  const cin = shape[shape.length - 1];
  if (cin == null) throw new Error(`${who}: the channel dimension of the input must be known.`);
  const [kh, kw] = conv.kernelSize;
  return { d: cin * kh * kw, kernelShape: [kh, kw, cin, conv.filters] };
}

/** `[kh, kw, cin, n]` → `[d, n]` with channel-major rows `t = c·kh·kw + i·kw + j` (PEFT's order). */
export function flattenConvKernel(kernel: tf.Tensor): tf.Tensor2D {
  const [kh, kw, cin, n] = kernel.shape;
  return tf.tidy(() => tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), [cin * kh * kw, n]) as tf.Tensor2D);
}

/** `[d, n]` → `[kh, kw, cin, n]`: the inverse of `flattenConvKernel`. */
export function unflattenConvKernel(flat: tf.Tensor2D, kernelShape: number[]): tf.Tensor4D {
  const [kh, kw, cin, n] = kernelShape;
  return tf.tidy(() => tf.transpose(tf.reshape(flat, [cin, kh, kw, n]), [1, 2, 0, 3]) as tf.Tensor4D);
}

/** A zero input just large enough for one output position (builds the layer through `apply`). */
export function conv2dProbeShape(conv: ResolvedConv2DArgs, kernelShape: number[]): number[] {
  const [kh, kw, cin] = kernelShape;
  const [dh, dw] = conv.dilationRate;
  return [1, (kh - 1) * dh + 1, (kw - 1) * dw + 1, cin];
}

/**
 * Whether rotating each pixel's channels (`conv(x · R, K)`, cost `pixels·cin·b`) beats rotating
 * the kernel (`conv(x, R · K)`, cost `cin·b·filters`): only for 1×1 kernels, where both compute
 * the same function, and only when the input has fewer pixels than the layer has filters.
 */
export function conv2dPrefersInputCentric(conv: ResolvedConv2DArgs, x: tf.Tensor): boolean {
  const [kh, kw] = conv.kernelSize;
  const pixels = x.shape.slice(0, -1).reduce((a, v) => a * v, 1);
  return kh === 1 && kw === 1 && pixels < conv.filters;
}

/**
 * `kernel` with `rate − 1` zero rows between its rows along `axis` (0 or 1): a convolution with
 * it and dilation 1 computes the dilated convolution with `kernel`. tfjs 4.22 has no gradient for
 * dilated `conv2d`; pad, reshape and slice have one on every backend.
 */
function dilateKernel(kernel: tf.Tensor4D, axis: 0 | 1, rate: number): tf.Tensor4D {
  if (rate === 1) return kernel;
  const shape = kernel.shape;
  const k = shape[axis];
  const spread = tf.pad(tf.expandDims(kernel, axis + 1), axis === 0
    ? [[0, 0], [0, rate - 1], [0, 0], [0, 0], [0, 0]] : [[0, 0], [0, 0], [0, rate - 1], [0, 0], [0, 0]]);
  const long = tf.reshape(spread, axis === 0 ? [k * rate, shape[1], shape[2], shape[3]]
    : [shape[0], k * rate, shape[2], shape[3]]);
  const size = axis === 0 ? [(k - 1) * rate + 1, -1, -1, -1] : [-1, (k - 1) * rate + 1, -1, -1];
  return tf.slice(long, [0, 0, 0, 0], size) as tf.Tensor4D;
}

/**
 * `act(conv(x, kernel) + c)` with the template's strides, padding and dilation (a dilation is
 * applied to the kernel, so that the convolution has a gradient).
 */
export function convolve(conv: ResolvedConv2DArgs, x: tf.Tensor4D, kernel: tf.Tensor4D,
  bias: tf.Tensor | null): tf.Tensor4D {
  return tf.tidy(() => {
    const [dh, dw] = conv.dilationRate;
    const dilated = dilateKernel(dilateKernel(kernel, 0, dh), 1, dw);
    let y: tf.Tensor = tf.conv2d(x, dilated, conv.strides, conv.padding, 'NHWC', 1);
    if (bias != null) y = tf.add(y, bias);
    return conv.activation.apply(y) as tf.Tensor4D;
  });
}
