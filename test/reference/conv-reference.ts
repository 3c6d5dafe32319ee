// Conv2D adapters (docs/math.md §10) in float64, straight from the text: an explicit im2col whose
// patch columns are channel-major (t = c·kh·kw + i·kw + j), a kernel flattened the same way,
// and a dense rotation from oft-reference.ts / boft-reference.ts. Nothing here uses the code under test.
import { Mat, mat, matmul } from './dense-math';

export interface ConvGeometry {
  /** Input [batch, h, w, cin]. */
  inputShape: [number, number, number, number];
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dilation: [number, number];
}

/** Output size and the padding before the first row/column, as TensorFlow defines 'valid' and 'same'. */
function axis(size: number, k: number, stride: number, dilation: number, padding: 'valid' | 'same') {
  const span = (k - 1) * dilation + 1;
  if (padding === 'valid') return { out: Math.ceil((size - span + 1) / stride), before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + span - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/**
 * TensorFlow's padding of `g` as explicit `[[0, 0], [top, bottom], [left, right], [0, 0]]` (for
 * a plain `tf.conv2d` in tests: wasm's own 'same' is wrong where an axis needs no padding).
 */
export function explicitPadding(g: ConvGeometry): [[number, number], [number, number], [number, number],
  [number, number]] {
  const [, h, w] = g.inputShape;
  const pads = [h, w].map((size, a) => {
    const k = g.kernelSize[a];
    const span = (k - 1) * g.dilation[a] + 1;
    const { out, before } = axis(size, k, g.strides[a], g.dilation[a], g.padding);
    const total = g.padding === 'valid' ? 0 : Math.max((out - 1) * g.strides[a] + span - size, 0);
    return [before, total - before] as [number, number];
  });
  return [[0, 0], pads[0], pads[1], [0, 0]];
}

/**
 * The patch matrix `[batch·oh·ow, cin·kh·kw]` of input `x` (NHWC, row-major), rows in
 * (batch, oh, ow) order, columns channel-major; zeros where a patch reaches into the padding.
 */
export function im2col(x: ArrayLike<number>, g: ConvGeometry): { patches: Mat; outH: number; outW: number } {
  const [batch, h, w, cin] = g.inputShape;
  const [kh, kw] = g.kernelSize;
  const rows = axis(h, kh, g.strides[0], g.dilation[0], g.padding);
  const cols = axis(w, kw, g.strides[1], g.dilation[1], g.padding);
  const d = cin * kh * kw;
  const patches = mat(batch * rows.out * cols.out, d);
  let r = 0;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < rows.out; oh++) {
      for (let ow = 0; ow < cols.out; ow++, r++) {
        for (let c = 0; c < cin; c++) {
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const y = oh * g.strides[0] + i * g.dilation[0] - rows.before;
              const xw = ow * g.strides[1] + j * g.dilation[1] - cols.before;
              if (y < 0 || y >= h || xw < 0 || xw >= w) continue;
              patches.data[r * d + c * kh * kw + i * kw + j] = x[((n * h + y) * w + xw) * cin + c];
            }
          }
        }
      }
    }
  }
  return { patches, outH: rows.out, outW: cols.out };
}

/** A tfjs kernel `[kh, kw, cin, n]` (row-major) as the channel-major `[cin·kh·kw, n]` matrix. */
export function flattenKernel(k: ArrayLike<number>, shape: [number, number, number, number]): Mat {
  const [kh, kw, cin, n] = shape;
  const out = mat(cin * kh * kw, n);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < n; o++) out.data[(c * kh * kw + i * kw + j) * n + o] = k[((i * kw + j) * cin + c) * n + o];
      }
    }
  }
  return out;
}

/** The inverse of `flattenKernel`: `[cin·kh·kw, n]` back to a row-major `[kh, kw, cin, n]` array. */
export function unflattenKernel(m: Mat, shape: [number, number, number, number]): Float64Array {
  const [kh, kw, cin, n] = shape;
  const out = new Float64Array(kh * kw * cin * n);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < n; o++) out[((i * kw + j) * cin + c) * n + o] = m.data[(c * kh * kw + i * kw + j) * n + o];
      }
    }
  }
  return out;
}

/** `K'_flat = R · K_flat · diag(s)` (s = null: OFT). */
export function mergedFlatKernel(rot: Mat, kernel: Mat, s: ArrayLike<number> | null): Mat {
  const out = matmul(rot, kernel);
  if (s == null) return out;
  for (let r = 0; r < out.rows; r++) for (let c = 0; c < out.cols; c++) out.data[r * out.cols + c] *= s[c];
  return out;
}

/** The adapter's output `patches · K'_flat + c`, `[batch·oh·ow, n]` = NHWC row-major. */
export function convForward(x: ArrayLike<number>, g: ConvGeometry, mergedFlat: Mat,
  bias: ArrayLike<number> | null): Float64Array {
  const { patches } = im2col(x, g);
  const y = matmul(patches, mergedFlat);
  if (bias != null) for (let r = 0; r < y.rows; r++) for (let c = 0; c < y.cols; c++) y.data[r * y.cols + c] += bias[c];
  return y.data;
}
