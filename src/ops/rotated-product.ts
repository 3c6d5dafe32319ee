// `x · B · K` as one op with an analytic gradient: B is a product of butterfly factors (docs/math.md §5;
// one factor is OFT's block diagonal) and K a frozen kernel. Per step this runs a few large
// kernels instead of the many small ones of autograd through reshapes and transposes, which
// is what costs time on native and GPU backends (the added arithmetic is a few % of x · K).
//
// A factor's blocks are one batched matmul on the rows laid out `[N, rows, b]` (rows first) or
// `[N, b, rows]` (features first); its permutation moves whole slabs of b/2 features, and the
// permutation between two factors is one transpose. Rows first, the two large products are
// `x' · K` and `∂y · Kᵀ`, as in the frozen layer; features first, they are `Wᵀ · K` and `K · ∂yᵀ`
// and entering and leaving the layout costs no transpose of its own. TensorFlow copies the
// transposed operand of a large matmul (1.15–1.4× its time): rows first there, for one factor.
// On cpu and wasm features first measured as fast or faster (wasm: rows first 1.25× as long for
// OFT b = 32).
import * as tf from '@tensorflow/tfjs-core';
import { butterflyPermutations } from './butterfly';
import { opConstant } from './constants';

/** How `rotatedProduct` computes (for tests and benchmarks; by default chosen by backend and cost). */
export interface RotatedProductPath {
  /**
   * Blocks laid out `[N, rows, b]` (true) or `[N, b, rows]` (false). Default: true on tensorflow for
   * one block-diagonal factor (m = 1, or `segments`), false otherwise.
   */
  rowsFirst?: boolean;
  /** With m > 1, rotate with B's diagonal blocks of size `b·2^(m−1)`. Default: where that costs less. */
  segments?: boolean;
}

/**
 * `x · B · K` with `B = M_{m−1} · … · M_0`: `x` is `[rows, d]`, `rots` holds the blocks of every
 * factor, factor-major `[m · N, b, b]` (`BD_i = blockdiag(rots[i·N … i·N + N − 1])`), `kernel`
 * is `[d, n]`. Gradients flow to `x` and `rots`; `kernel` is treated as a constant (frozen).
 */
export function rotatedProduct(x: tf.Tensor2D, rots: tf.Tensor3D, nFactors: number, kernel: tf.Tensor2D,
  path: RotatedProductPath = {}): tf.Tensor2D {
  const [rows, d] = x.shape;
  const [total, b] = rots.shape;
  const n = total / nFactors;
  if (!Number.isInteger(n) || n * b !== d || kernel.shape[0] !== d) {
    throw new Error(`rotatedProduct: ${nFactors} factors of ${total / nFactors} blocks of size ${b} ` +
      `do not match input dimension ${d} and kernel [${kernel.shape}].`);
  }
  if (nFactors > 1 && (b % 2 !== 0 || d % (b * 2 ** (nFactors - 1)) !== 0)) {
    throw new Error(`rotatedProduct: ${nFactors} factors need an even block size and d divisible by ` +
      `b·2^${nFactors - 1}; got d=${d}, b=${b}.`);
  }
  // Every factor acts within segments of L = b·2^(m−1) features, so B is block-diagonal with
  // blocks of size L. Built from the factors' blocks, they rotate x in one batched matmul instead
  // of m matmuls and m − 1 transposes of [rows, d]: chosen where that matmul costs no more than the
  // m it replaces (L ≤ m·b) and B's blocks (m·d·L floats) no more memory than the m·rows·d floats
  // the factor-by-factor path keeps.
  const segment = b * 2 ** (nFactors - 1);
  const segments = nFactors > 1 && (path.segments ?? (segment <= nFactors * b && nFactors * segment <= rows));
  // Rows first only for one block-diagonal factor: with several, its transposes between factors move
  // slabs of b/2 floats with rows outside them, and it measured slower on tensorflow too (m = 4, b = 8:
  // 1.83–2.02× the frozen step against 1.74–1.92× features first).
  const rowsFirst = path.rowsFirst ?? (transposedOperandsAreCopied() && (nFactors === 1 || segments));
  if (segments) return factorProduct(x, segmentRotations(rots, nFactors), 1, kernel, rowsFirst);
  return factorProduct(x, rots, nFactors, kernel, rowsFirst);
}

/** `rotatedProduct` factor by factor: `nFactors` batched block matmuls. */
function factorProduct(x: tf.Tensor2D, rots: tf.Tensor3D, nFactors: number, kernel: tf.Tensor2D,
  rowsFirst: boolean): tf.Tensor2D {
  const [rows, d] = x.shape;
  const [total, b] = rots.shape;
  const n = total / nFactors;
  const h = b / 2;
  const last = nFactors - 1;
  const split = (r: tf.Tensor3D) => (nFactors === 1 ? [r] : tf.split(r, nFactors, 0)) as tf.Tensor3D[];
  // The blocks' layout: `[N, rows, b]` or `[N, b, rows]`.
  const blockShape: [number, number, number] = rowsFirst ? [n, rows, b] : [n, b, rows];

  // [rows, d] → blocks of factor i. Within a segment of b·2^i features, feature (e, a, o)
  // (chunk e·2^i + a, offset o) is row t = (e, o) of block a (docs/math.md §5); factor 0's blocks are
  // consecutive features (b may be odd with one factor).
  const enterOrder = (i: number) => (i === 0 ? (rowsFirst ? [1, 0, 2] : [1, 2, 0])
    : (rowsFirst ? [1, 3, 0, 2, 4] : [1, 3, 2, 4, 0]));
  const featureShape = (i: number) => (i === 0 ? [rows, n, b] : [rows, d / (b * 2 ** i), 2, 2 ** i, h]);
  const enter = (t: tf.Tensor, i: number): tf.Tensor3D => {
    const moved = tf.transpose(tf.reshape(t, featureShape(i)), enterOrder(i));
    return (i === 0 ? moved : tf.reshape(moved, blockShape)) as tf.Tensor3D;
  };
  // Inverse of `enter`.
  const leave = (w: tf.Tensor, i: number): tf.Tensor2D => {
    const order = enterOrder(i);
    const inverse = order.map((_, k) => order.indexOf(k));
    const blocks = i === 0 ? w : tf.reshape(w, order.map((k) => featureShape(i)[k]));
    return tf.reshape(tf.transpose(blocks, inverse), [rows, d]);
  };
  // Blocks of factor i ↔ blocks of factor i − 1 (the map is its own inverse). Factor i's block
  // (s, a) with a = (a_hi, a_lo) and row (e, o) is factor i−1's block ((s, e), a_lo), row (a_hi, o).
  const swap = (w: tf.Tensor, i: number): tf.Tensor3D => {
    const s = d / (b * 2 ** i);
    const moved = rowsFirst
      ? tf.transpose(tf.reshape(w, [s, 2, 2 ** (i - 1), rows, 2, h]), [0, 4, 2, 3, 1, 5])
      : tf.transpose(tf.reshape(w, [s, 2, 2 ** (i - 1), 2, h * rows]), [0, 3, 2, 1, 4]);
    return tf.reshape(moved, blockShape);
  };

  const op = tf.customGrad(((xIn: tf.Tensor2D, rIn: tf.Tensor3D, save: tf.GradSaveFunc) => {
    // Keep the input of every factor's matmul for the gradient; drop the rest at once.
    const parts = split(rIn);
    const inputs: tf.Tensor3D[] = [];
    let w = tf.tidy(() => enter(xIn, last));
    for (let i = last; i >= 0; i--) {
      inputs[i] = w;
      const input = w;
      // x_j · R_j for every block j of factor i (features first: R_jᵀ · W_j). A tidy per factor
      // frees its reshapes at once.
      w = tf.tidy((): tf.Tensor3D => {
        const out: tf.Tensor3D = rowsFirst ? tf.matMul(input, parts[i]) : tf.matMul(parts[i], input, true, false);
        return i > 0 ? swap(out, i) : out;
      });
    }
    const value = tf.tidy(() => (rowsFirst ? tf.matMul(leave(w, 0), kernel)
      : transposedTimes(tf.reshape(w, [d, rows]) as tf.Tensor2D, kernel)));
    w.dispose();
    if (nFactors > 1) tf.dispose(parts);
    // The kernel too: it may be an intermediate that the caller's tidy frees before the gradient runs.
    save([rIn, kernel, ...inputs]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const parts = split(saved[0] as tf.Tensor3D);
      const k = saved[1] as tf.Tensor2D;
      const dRots: tf.Tensor3D[] = [];
      // g = ∂L/∂(output of factor i), blocks of factor i.
      let g: tf.Tensor3D = rowsFirst ? enter(timesTransposed(dy as tf.Tensor2D, k), 0)
        : tf.reshape(timesTransposed(k, dy as tf.Tensor2D), blockShape);
      for (let i = 0; i <= last; i++) {
        const input = saved[2 + i] as tf.Tensor3D;
        // ∂R_j = W_jᵀ · G_j (features first: W_j · G_jᵀ).
        dRots[i] = rowsFirst ? transposedTimes(input, g) : tf.matMul(input, g, false, true);
        const gi = g;
        g = tf.tidy(() => {
          // ∂W_j = G_j · R_jᵀ (features first: R_j · G_j).
          const back: tf.Tensor3D = rowsFirst ? timesTransposed(gi, parts[i]) : tf.matMul(parts[i], gi);
          return i < last ? swap(back, i + 1) : back;
        });
        gi.dispose();
      }
      return [leave(g, last), nFactors === 1 ? dRots[0] : tf.concat(dRots, 0)];
    });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, rots) as tf.Tensor2D;
}

/**
 * The diagonal blocks `[d/L, L, L]` of `B = M_{m−1} · … · M_0`, `L = b·2^(m−1)`, from the blocks of
 * every factor (`rots`, `[m · N, b, b]` factor-major). Factor i restricted to one segment is
 * `M_i[x, y] = BD_i[perm_i[x], perm_i[y]]` (docs/math.md §5): one gather from the blocks (a zero where x and
 * y fall in different blocks), the same index pattern in every segment. The gradient gathers back:
 * every entry of a block lands in exactly one entry of one `M_i`.
 */
function segmentRotations(rots: tf.Tensor3D, nFactors: number): tf.Tensor3D {
  const [total, b] = rots.shape;
  const m = nFactors;
  const segment = b * 2 ** (m - 1);
  const perSegment = segment / b; // blocks of one factor in one segment
  const segments = total / (m * perSegment);
  const entries = perSegment * b * b; // of one factor in one segment
  // Index tensors made once per (b, m) and backend, not rebuilt and uploaded every step.
  const forward = opConstant(`segment forward ${b} ${m}`, () => tf.tensor1d(segmentIndices(b, m).forward, 'int32'));
  const backward = opConstant(`segment backward ${b} ${m}`,
    () => tf.tensor1d(segmentIndices(b, m).backward, 'int32'));
  const op = tf.customGrad(((rIn: tf.Tensor3D, save: tf.GradSaveFunc) => {
    const factors = tf.tidy(() => {
      const source = tf.reshape(tf.transpose(tf.reshape(rIn, [m, segments, entries]), [1, 0, 2]),
        [segments, m * entries]);
      const padded = tf.concat([source, tf.zeros([segments, 1])], 1); // the last column: zero entries
      const gathered = tf.gather(padded, forward, 1);
      return tf.unstack(tf.reshape(gathered, [segments, m, segment, segment]), 1) as tf.Tensor3D[];
    });
    // prefix[k] = M_{m−1} · … · M_k; prefix[0] is B.
    const prefix: tf.Tensor3D[] = [];
    prefix[m - 1] = factors[m - 1];
    for (let k = m - 2; k >= 0; k--) prefix[k] = tf.matMul(prefix[k + 1], factors[k]);
    save([...factors, ...prefix.slice(1)]);
    const gradFunc = (dB: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const ms = saved.slice(0, m) as tf.Tensor3D[];
      const after = (k: number) => saved[m + k - 1] as tf.Tensor3D; // prefix[k] for k ≥ 1
      const dms: tf.Tensor3D[] = [];
      let dPrefix = dB as tf.Tensor3D;
      for (let k = 0; k < m - 1; k++) {
        dms[k] = transposedTimes(after(k + 1), dPrefix);
        dPrefix = timesTransposed(dPrefix, ms[k]);
      }
      dms[m - 1] = dPrefix;
      const flat = tf.reshape(tf.stack(dms, 1), [segments, m * segment * segment]);
      const back = tf.gather(flat, backward, 1);
      return tf.reshape(tf.transpose(tf.reshape(back, [segments, m, entries]), [1, 0, 2]), [total, b, b]);
    });
    return { value: prefix[0], gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(rots) as tf.Tensor3D;
}

/**
 * Index patterns of `segmentRotations` for one segment: `forward[i·L² + x·L + y]` is where
 * `M_i[x, y]` sits among the factors' block entries `[m, L/b, b, b]` (or `m·L·b`, a zero, outside the
 * blocks), and `backward` is its inverse on the block entries.
 */
function segmentIndices(b: number, m: number): { forward: Int32Array; backward: Int32Array } {
  const segment = b * 2 ** (m - 1);
  const entries = segment * b;
  const perms = butterflyPermutations(segment, b, m);
  const forward = new Int32Array(m * segment * segment).fill(m * entries);
  const backward = new Int32Array(m * entries);
  for (let i = 0; i < m; i++) {
    for (let x = 0; x < segment; x++) {
      for (let y = 0; y < segment; y++) {
        const u = perms[i][x];
        const v = perms[i][y];
        if (Math.floor(u / b) !== Math.floor(v / b)) continue;
        const at = i * segment * segment + x * segment + y;
        const source = i * entries + Math.floor(u / b) * b * b + (u % b) * b + (v % b);
        forward[at] = source;
        backward[source] = at;
      }
    }
  }
  return { forward, backward };
}

// TensorFlow (tfjs-node) copies the transposed operand of a matmul before multiplying: 1.15–1.4×
// the untransposed product for the [256, 1024] × [1024, 1024] products of a layer step
// (docs/tfjs-traps.md).
function transposedOperandsAreCopied(): boolean {
  return tf.getBackend() === 'tensorflow';
}

// wasm multiplies a transposed operand 10–40× slower than a plain one (measured on
// [1024, 256] × [1024, 1024]): there an explicit transpose is far cheaper. Elsewhere the
// transposed-operand matmul saves a kernel (on tensorflow the large products avoid it: rows first).
function transposedOperandsAreSlow(): boolean {
  return tf.getBackend() === 'wasm';
}

/** Swaps the last two axes. */
function transposeLast<T extends tf.Tensor>(a: T): T {
  return tf.transpose(a, a.rank === 2 ? [1, 0] : [0, 2, 1]);
}

/** `aᵀ · b` (the last two axes; batched for 3-D). */
function transposedTimes<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T): T {
  return transposedOperandsAreSlow() ? tf.matMul(transposeLast(a), b) : tf.matMul(a, b, true, false);
}

/** `a · bᵀ` (the last two axes; batched for 3-D). */
function timesTransposed<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T): T {
  return transposedOperandsAreSlow() ? tf.matMul(a, transposeLast(b)) : tf.matMul(a, b, false, true);
}

