// Packed skew-symmetric blocks (docs/math.md §2): a block of size b is stored as the b(b−1)/2 entries
// of the strict upper triangle of Q in row-major order, and Q = U − Uᵀ.
import * as tf from '@tensorflow/tfjs-core';

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

interface SkewIndex {
  /** For each of the b·b entries of Q: 0 (diagonal), 1+k (+v[k]) or 1+p+k (−v[k]). */
  scatter: Int32Array;
  /** Flat positions (i·b + j) of the upper-triangle entries, in packing order. */
  upper: Int32Array;
  /** Flat positions (j·b + i) of their mirror images. */
  lower: Int32Array;
}

const indexCache = new Map<number, SkewIndex>();

function skewIndex(b: number): SkewIndex {
  let idx = indexCache.get(b);
  if (idx == null) {
    const p = packedSize(b);
    const scatter = new Int32Array(b * b);
    const upper = new Int32Array(p);
    const lower = new Int32Array(p);
    let k = 0;
    for (let i = 0; i < b; i++) {
      for (let j = i + 1; j < b; j++) {
        scatter[i * b + j] = 1 + k;
        scatter[j * b + i] = 1 + p + k;
        upper[k] = i * b + j;
        lower[k] = j * b + i;
        k++;
      }
    }
    idx = { scatter, upper, lower };
    indexCache.set(b, idx);
  }
  return idx;
}

/** `Q = U − Uᵀ` from packed `v` (`[k, p]`) with plain ops and no gradient of its own. */
export function skewOf(v: tf.Tensor2D, b: number): tf.Tensor3D {
  const [k] = v.shape;
  const { scatter } = skewIndex(b);
  return tf.tidy(() => {
    const table = tf.concat([tf.zeros([k, 1]), v, tf.neg(v)], 1);
    return tf.reshape(tf.gather(table, tf.tensor1d(scatter, 'int32'), 1), [k, b, b]) as tf.Tensor3D;
  });
}

/** `∂L/∂v` from `∂L/∂Q` (`[k, b, b]`) for `Q = skew(v)`: `∂L/∂v_k = ∂L/∂Q[i,j] − ∂L/∂Q[j,i]`. */
export function packedGradient(dq: tf.Tensor3D): tf.Tensor2D {
  const [k, b] = dq.shape;
  const { upper, lower } = skewIndex(b);
  return tf.tidy(() => {
    const flat = tf.reshape(dq, [k, b * b]);
    const at = (positions: Int32Array) => tf.gather(flat, tf.tensor1d(positions, 'int32'), 1);
    return tf.sub(at(upper), at(lower)) as tf.Tensor2D;
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
  const { upper } = skewIndex(b);
  return tf.tidy(() => tf.gather(tf.reshape(q, [k, b * b]), tf.tensor1d(upper, 'int32'), 1) as tf.Tensor2D);
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
