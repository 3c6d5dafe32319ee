// Butterfly factors of BOFT (docs/math.md §5), applied to inputs without ever building a d × d matrix.
//
// perm_i (i ≥ 1) cuts 0 … d−1 into segments of L = b·2^i indices, each segment into 2^(i+1)
// chunks of h = b/2, and lays the chunks out as 0, 2, 4, …, 1, 3, 5, …. Writing an index of a
// segment as digits (a, e, o) — chunk 2a + e, offset o, with a < 2^i, e ∈ {0, 1}, o < h — the
// permuted position of (a, e, o) is (e, a, o). Factor i is M_i = P_i · BD_i · P_iᵀ with
// P_i[k, perm_i[k]] = 1, so x · M_i = ((x[perm_i⁻¹]) · BD_i)[perm_i]: view x as
// [rows, S, 2, 2^i, h], swap the axes of sizes 2 and 2^i to get blocks (a) of size b = (e, o),
// rotate every block, and swap back. Reshape and transpose only: gradients work on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { rotateInput } from './block-rotation';
import { butterflyShapeProblem } from './butterfly-shape';

/**
 * The index arrays `perm_0 … perm_{m−1}` of docs/math.md §5 for input dimension `d`, block size `b`
 * and `nFactors = m` factors. `perm_0` (and every `perm_i` when `m = 1`) is the identity.
 * Example: `butterflyPermutations(8, 2, 3)` gives `[0..7]`, `[0,2,1,3,4,6,5,7]`,
 * `[0,2,4,6,1,3,5,7]`. Throws when `d`, `b`, `m` do not satisfy docs/math.md §5.
 */
export function butterflyPermutations(d: number, blockSize: number, nFactors: number): Int32Array[] {
  checkButterflyShape(d, blockSize, nFactors, 'butterflyPermutations');
  const out: Int32Array[] = [];
  const h = blockSize / 2;
  for (let i = 0; i < nFactors; i++) {
    const perm = new Int32Array(d);
    if (i === 0) {
      for (let k = 0; k < d; k++) perm[k] = k;
    } else {
      const a = 2 ** i;
      const segment = blockSize * a;
      for (let k = 0; k < d; k++) {
        // New position k = segment s, then (e, a, o); the value is the old index of (a, e, o).
        const s = Math.floor(k / segment);
        const p = k % segment;
        const e = Math.floor(p / (a * h));
        const ai = Math.floor((p % (a * h)) / h);
        const o = p % h;
        perm[k] = s * segment + (2 * ai + e) * h + o;
      }
    }
    out.push(perm);
  }
  return out;
}

function checkButterflyShape(d: number, b: number, m: number, who: string): void {
  if (!Number.isInteger(d) || !Number.isInteger(b) || !Number.isInteger(m) || d < 1 || b < 1 || m < 1) {
    throw new Error(`${who}: d, blockSize and nFactors must be positive integers, got d=${d}, blockSize=${b}, ` +
      `nFactors=${m}.`);
  }
  const problem = butterflyShapeProblem(d, b, m);
  if (problem != null) throw new Error(`${who}: ${problem}.`);
}

/**
 * `x · M_i` for one butterfly factor: `x` is `[rows, d]`, `rot` the factor's blocks
 * `[N, b, b]` (`BD_i = blockdiag(rot)`), `factor` the index `i`. Uses reshapes, transposes and
 * one batched matmul with explicit batch dimension; memory O(rows·d + N·b²).
 */
export function applyButterflyFactor(x: tf.Tensor2D, rot: tf.Tensor3D, factor: number): tf.Tensor2D {
  const [rows, d] = x.shape;
  const [n, b] = rot.shape;
  if (n * b !== d) throw new Error(`applyButterflyFactor: ${n} blocks of size ${b} do not cover d=${d}.`);
  // wasm's Transpose divides by the element count: an empty batch has nothing to rotate.
  if (rows === 0) return tf.zeros([0, d]);
  return tf.tidy(() => {
    if (factor === 0) return rotateInput(x, rot) as tf.Tensor2D; // perm_0 is the identity
    const a = 2 ** factor;
    const h = b / 2;
    const segments = d / (b * a);
    if (!Number.isInteger(h) || !Number.isInteger(segments)) {
      throw new Error(
        `applyButterflyFactor: factor ${factor} needs an even block size and d divisible by b·2^${factor}; ` +
          `got d=${d}, b=${b}.`,
      );
    }
    // [rows·S, e, a, o] → [rows·S, a, e, o] = [rows, N, b] with block j = (S, a) and in-block
    // index t = (e, o); then blocks first for the batched matmul. Two low-rank transposes are
    // much faster on wasm than one rank-5 transpose that moves the row axis.
    const grouped = tf.transpose(tf.reshape(x, [rows * segments, 2, a, h]), [0, 2, 1, 3]);
    const blocks = tf.transpose(tf.reshape(grouped, [rows, n, b]), [1, 0, 2]) as tf.Tensor3D;
    const rotated = tf.transpose(tf.matMul(blocks, rot), [1, 0, 2]);
    const ungrouped = tf.transpose(tf.reshape(rotated, [rows * segments, a, 2, h]), [0, 2, 1, 3]);
    return tf.reshape(ungrouped, [rows, d]) as tf.Tensor2D;
  });
}

/**
 * `x · B` with `B = M_{m−1} · … · M_1 · M_0` (docs/math.md §5): the input meets `M_{m−1}` first and
 * `M_0` last. `x` is `[..., d]`; `rots[i]` holds factor i's blocks `[N, b, b]`.
 */
export function applyButterfly(x: tf.Tensor, rots: tf.Tensor3D[]): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  return tf.tidy(() => {
    let y = tf.reshape(x, [-1, d]) as tf.Tensor2D;
    for (let i = rots.length - 1; i >= 0; i--) y = applyButterflyFactor(y, rots[i], i);
    return tf.reshape(y, x.shape);
  });
}

/** The dense `d × d` butterfly rotation `B` (for inspection, tests and merging; never in training). */
export function butterflyRotation(rots: tf.Tensor3D[]): tf.Tensor2D {
  const [n, b] = rots[0].shape;
  return tf.tidy(() => applyButterfly(tf.eye(n * b), rots) as tf.Tensor2D);
}
