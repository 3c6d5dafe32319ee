// Packed skew-symmetric blocks (docs/math.md §2): a block of size b is stored as the b(b−1)/2 entries
// of the strict upper triangle of Q in row-major order, and Q = U − Uᵀ.
import * as tf from '@tensorflow/tfjs-core';
import { opConstant } from './constants';

/** Number of packed parameters of one skew-symmetric block of size `b`: b(b−1)/2. */
export function packedSize(b: number): number {
  return (b * (b - 1)) / 2;
}

/**
 * Block size `b` whose packed length is `p`; throws when `p` is not of the form b(b−1)/2
 * (`what`, e.g. the layer, starts the message).
 */
export function blockSizeFromPacked(p: number, what = 'A packed skew vector'): number {
  const b = Math.round((1 + Math.sqrt(1 + 8 * p)) / 2);
  if (packedSize(b) !== p) {
    throw new Error(`${what}: a packed skew vector of length ${p} is not b(b−1)/2 for any block size b.`);
  }
  return b;
}

/**
 * The constant tensors that map packed `v` to `Q` and `∂L/∂Q` back to `∂L/∂v` for block size `b`,
 * made once per block size and backend (`opConstant`): a training step uploads no index tensors.
 */
function skewConstants(b: number): SkewConstants {
  return {
    source: opConstant(`skew source ${b}`, () => tf.tensor1d(skewIndex(b).source, 'int32')),
    upper: opConstant(`skew upper ${b}`, () => tf.tensor1d(skewIndex(b).upper, 'int32')),
    lower: opConstant(`skew lower ${b}`, () => tf.tensor1d(skewIndex(b).lower, 'int32')),
  };
}

interface SkewConstants {
  /** For each of the b·b entries of Q, the packed index k of its pair (0 on the diagonal). */
  source: tf.Tensor1D;
  /** Flat positions (i·b + j) of the upper-triangle entries, in packing order. */
  upper: tf.Tensor1D;
  /** Flat positions (j·b + i) of their mirror images. */
  lower: tf.Tensor1D;
}

/** The index arrays behind `skewConstants`. */
function skewIndex(b: number) {
  const p = packedSize(b);
  const source = new Int32Array(b * b);
  const sign = new Float32Array(b * b);
  const upper = new Int32Array(p);
  const lower = new Int32Array(p);
  let k = 0;
  for (let i = 0; i < b; i++) {
    for (let j = i + 1; j < b; j++) {
      source[i * b + j] = k;
      source[j * b + i] = k;
      sign[i * b + j] = 1;
      sign[j * b + i] = -1;
      upper[k] = i * b + j;
      lower[k] = j * b + i;
      k++;
    }
  }
  return { source, sign, upper, lower };
}

/**
 * `scale · Q`, `Q = U − Uᵀ`, from packed `v` (`[k, p]`) with plain ops and no gradient of its own:
 * one gather of every entry's pair, times its signed scale (three kernels).
 */
export function skewOf(v: tf.Tensor2D, b: number, scale = 1): tf.Tensor3D {
  const [k] = v.shape;
  const { source } = skewConstants(b);
  const sign = opConstant(`skew sign ${b} × ${scale}`, () => tf.tensor1d(skewIndex(b).sign.map((s) => s * scale)));
  return tf.tidy(() => tf.reshape(tf.mul(tf.gather(v, source, 1), sign), [k, b, b]) as tf.Tensor3D);
}

/**
 * `∂L/∂v` from `∂L/∂Q` (`[k, b, b]`) for `Q = skew(v)`: `∂L/∂v_k = ∂L/∂Q[i,j] − ∂L/∂Q[j,i]`,
 * times `scale` (for callers whose `∂L/∂Q` is a multiple of `dq`).
 */
export function packedGradient(dq: tf.Tensor3D, scale = 1): tf.Tensor2D {
  const [k, b] = dq.shape;
  const { upper, lower } = skewConstants(b);
  return tf.tidy(() => {
    const flat = tf.reshape(dq, [k, b * b]);
    const dv = tf.sub(tf.gather(flat, upper, 1), tf.gather(flat, lower, 1)) as tf.Tensor2D;
    return scale === 1 ? dv : tf.mul(dv, scale);
  });
}

/**
 * Packed vectors `[k, b(b−1)/2]` → skew-symmetric matrices `[k, b, b]` with `Q = U − Uᵀ`.
 * Built with a gather whose gradient is given explicitly (the map is one-to-one onto the
 * off-diagonal entries), because tfjs' own gather gradient needs UnsortedSegmentSum, which
 * the wasm backend lacks.
 */
export function skewFromPacked(v: tf.Tensor2D, b: number): tf.Tensor3D {
  const [, p] = v.shape;
  if (p !== packedSize(b)) {
    throw new Error(`skewFromPacked: packed length ${p} does not match block size ${b} (expected ${packedSize(b)}).`);
  }
  const op = tf.customGrad(((vIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: skewOf(vIn as tf.Tensor2D, b), gradFunc: (dy: tf.Tensor) => packedGradient(dy as tf.Tensor3D) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(v) as tf.Tensor3D;
}

/** Skew-symmetric (or any) matrices `[k, b, b]` → their packed strict upper triangles `[k, b(b−1)/2]`. */
export function packedFromSkew(q: tf.Tensor3D): tf.Tensor2D {
  const [k, b] = q.shape;
  const { upper } = skewConstants(b);
  return tf.tidy(() => tf.gather(tf.reshape(q, [k, b * b]), upper, 1) as tf.Tensor2D);
}

/**
 * Squared Frobenius norm of every block from its packed parameters (`[..., b(b−1)/2]`, blocks
 * on the last axis) as `[blocks]`: ‖Q‖_F² = 2‖v‖², since every packed entry stands twice in
 * Q = U − Uᵀ.
 */
export function packedBlockSquaredNorms(v: tf.Tensor): tf.Tensor1D {
  const p = v.shape[v.rank - 1];
  return tf.tidy(() => tf.mul(tf.sum(tf.square(tf.reshape(v, [-1, p])), 1), 2) as tf.Tensor1D);
}
