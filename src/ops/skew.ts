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

/**
 * The constant tensors that map packed `v` to `Q` and `∂L/∂Q` back to `∂L/∂v` for one block size.
 * Made once per block size and backend and kept (see `skewConstants`), so a training step uploads
 * no index tensors.
 */
interface SkewConstants {
  /** For each of the b·b entries of Q, the packed index k of its pair (0 on the diagonal). */
  source: tf.Tensor1D;
  /** For each of the b·b entries of Q: +1 above the diagonal, −1 below, 0 on it. */
  sign: tf.Tensor1D;
  /** Flat positions (i·b + j) of the upper-triangle entries, in packing order. */
  upper: tf.Tensor1D;
  /** Flat positions (j·b + i) of their mirror images. */
  lower: tf.Tensor1D;
}

const constantsCache = new Map<number, SkewConstants>();
let constantsBackend: string | null = null;

/**
 * The skew constants of block size `b` on the current backend: four small tensors per block size
 * (`3b² + b(b−1)/2` numbers), kept alive outside every `tidy` and counted in `tf.memory()` from
 * the first call with that `b` on. A backend switch disposes those of the previous backend and
 * makes them anew; `disposeSkewConstants()` frees them all.
 */
function skewConstants(b: number): SkewConstants {
  if (constantsBackend !== tf.getBackend()) {
    disposeSkewConstants();
    constantsBackend = tf.getBackend();
  }
  let c = constantsCache.get(b);
  if (c == null || c.source.isDisposed) {
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
    c = {
      source: tf.keep(tf.tensor1d(source, 'int32')),
      sign: tf.keep(tf.tensor1d(sign, 'float32')),
      upper: tf.keep(tf.tensor1d(upper, 'int32')),
      lower: tf.keep(tf.tensor1d(lower, 'int32')),
    };
    constantsCache.set(b, c);
  }
  return c;
}

/**
 * Frees the constant tensors the skew packing keeps per block size (a few KB each; they are made
 * again on next use). Call it before checking `tf.memory()` for leaks from a clean slate.
 */
export function disposeSkewConstants(): void {
  for (const c of constantsCache.values()) {
    for (const t of [c.source, c.sign, c.upper, c.lower]) if (!t.isDisposed) t.dispose();
  }
  constantsCache.clear();
  constantsBackend = null;
}

/**
 * `Q = U − Uᵀ` from packed `v` (`[k, p]`) with plain ops and no gradient of its own: one gather
 * of every entry's pair, times its sign (three kernels).
 */
export function skewOf(v: tf.Tensor2D, b: number): tf.Tensor3D {
  const [k] = v.shape;
  const { source, sign } = skewConstants(b);
  return tf.tidy(() => tf.reshape(tf.mul(tf.gather(v, source, 1), sign), [k, b, b]) as tf.Tensor3D);
}

/** `∂L/∂v` from `∂L/∂Q` (`[k, b, b]`) for `Q = skew(v)`: `∂L/∂v_k = ∂L/∂Q[i,j] − ∂L/∂Q[j,i]`. */
export function packedGradient(dq: tf.Tensor3D): tf.Tensor2D {
  const [k, b] = dq.shape;
  const { upper, lower } = skewConstants(b);
  return tf.tidy(() => {
    const flat = tf.reshape(dq, [k, b * b]);
    return tf.sub(tf.gather(flat, upper, 1), tf.gather(flat, lower, 1)) as tf.Tensor2D;
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
