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
    throw new Error(`${who}: filters must be a positive integer, got ${args?.filters}; pass the number of ` +
      'output channels, as for tf.layers.conv2d.');
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
  if (cin == null) {
    throw new Error(`${who}: the channel dimension of the input must be known, got input shape ` +
      `[${shape.map(String).join(', ')}]; give the model input a fixed channel count (inputShape [h, w, channels]).`);
  }
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
 * the same function, and only when the input has fewer pixels than the layer has filters. (In
 * training the kernel form adds the kernel gradient, one convolution; the pixel form two more
 * rotations and their transposes, which measured slower on tensorflow even where they are fewer
 * multiply-adds: 64 channels, 16 384 pixels, BOFT m = 2, b = 8. Either way the base `conv2d`
 * runs, so an identity rotation gives the base layer's output bit for bit.)
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

/** Output size and padding (before, after) along one axis, as TensorFlow defines 'valid' and 'same'. */
function outputAxis(size: number, k: number, stride: number, rate: number, padding: 'valid' | 'same') {
  const span = (k - 1) * rate + 1;
  if (padding === 'valid') return { out: Math.ceil((size - span + 1) / stride), before: 0, after: 0, spare: false };
  const out = Math.ceil(size / stride);
  const needed = (out - 1) * stride + span - size;
  const total = Math.max(needed, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2), spare: needed < 0 };
}

/**
 * The convolution as `kh·kw` matmuls of shifted, strided views of the padded input with the
 * kernel's `[cin, filters]` slices: pad, slice, reshape and matMul only, whose gradients every
 * backend has (wasm has no `Conv2DBackpropFilter`, the kernel gradient of `conv2d`).
 */
export function convolveBySlices(conv: Pick<ResolvedConv2DArgs, 'strides' | 'dilationRate' | 'padding'>,
  x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [batch, h, w, cin] = x.shape;
  const [kh, kw, , n] = kernel.shape;
  const [sh, sw] = conv.strides;
  const [dh, dw] = conv.dilationRate;
  const rows = outputAxis(h, kh, sh, dh, conv.padding);
  const cols = outputAxis(w, kw, sw, dw, conv.padding);
  // Extra zeros at the end so that every view spans whole strides (oh·sh rows from its offset).
  const padded = tf.pad(x, [[0, 0], [rows.before, rows.after + sh], [cols.before, cols.after + sw], [0, 0]]);
  const terms: tf.Tensor2D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const view = tf.slice(padded, [0, i * dh, j * dw, 0], [batch, rows.out * sh, cols.out * sw, cin]);
      const strided = tf.slice(tf.reshape(view, [batch, rows.out, sh, cols.out, sw, cin]), [0, 0, 0, 0, 0, 0],
        [batch, rows.out, 1, cols.out, 1, cin]);
      const tap = tf.reshape(tf.slice(kernel, [i, j, 0, 0], [1, 1, cin, n]), [cin, n]) as tf.Tensor2D;
      terms.push(tf.matMul(tf.reshape(strided, [-1, cin]) as tf.Tensor2D, tap));
    }
  }
  return tf.reshape(terms.length === 1 ? terms[0] : tf.addN(terms), [batch, rows.out, cols.out, n]);
}

/**
 * Whether training should differentiate `conv2d` itself with respect to its kernel: not where the
 * backend lacks that gradient (wasm), nor on tfjs' cpu backend, whose `Conv2DBackpropFilter` is
 * plain loops (a 3×3 64 → 64 training step by slices measured 5× faster there).
 */
function usesConv2dKernelGradient(): boolean {
  const backend = tf.getBackend();
  return backend !== 'cpu' && tf.getKernel('Conv2DBackpropFilter', backend) != null;
}

/**
 * `act(conv(x, kernel) + c)` with the template's strides, padding and dilation. A dilation is
 * applied to the kernel (tfjs 4.22 has no gradient for dilated `conv2d`); in training on wasm (no
 * kernel gradient of `conv2d`) and cpu (a slow one), the convolution is computed by slices.
 */
export function convolve(conv: ResolvedConv2DArgs, x: tf.Tensor4D, kernel: tf.Tensor4D,
  bias: tf.Tensor | null, training: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    let y: tf.Tensor;
    if (training && !usesConv2dKernelGradient()) {
      y = convolveBySlices(conv, x, kernel);
    } else {
      const [dh, dw] = conv.dilationRate;
      const dilated = dilateKernel(dilateKernel(kernel, 0, dh), 1, dw);
      // tfjs-backend-wasm 4.22 computes 'same' wrongly where the window would fit with room to spare
      // (3×1 kernel, stride 2, width 6: off by up to 1.6 for outputs of order 1); there, pad the input
      // and convolve 'valid' (tfjs-node refuses explicit padding in the kernel gradient).
      const rows = outputAxis(x.shape[1], kernel.shape[0], conv.strides[0], dh, conv.padding);
      const cols = outputAxis(x.shape[2], kernel.shape[1], conv.strides[1], dw, conv.padding);
      if (rows.spare || cols.spare) {
        const padded = tf.pad(x, [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]]);
        y = tf.conv2d(padded, dilated, conv.strides, 'valid', 'NHWC', 1);
      } else {
        y = tf.conv2d(x, dilated, conv.strides, conv.padding, 'NHWC', 1);
      }
    }
    if (bias != null) y = tf.add(y, bias);
    return conv.activation.apply(y) as tf.Tensor4D;
  });
}
