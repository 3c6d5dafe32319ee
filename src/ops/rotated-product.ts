// `x · B · K` as one op with an analytic gradient: B is a product of butterfly factors (SPEC §4;
// one factor is OFT's block diagonal) and K a frozen kernel. Per step this runs a few large
// kernels instead of the many small ones of autograd through reshapes and transposes, which
// is what costs time on native and GPU backends (the added arithmetic is a few % of x · K).
//
// Work happens on W = (x · M_{m−1} · … · M_i)ᵀ, features first ([d, rows]): a factor's blocks
// are then a batched matmul Rᵀ · W_j, its permutation moves whole rows of W (rows × h floats at
// a time), and the permutation between two factors is one transpose. The last product is
// `Wᵀ · K`, and the gradient to W is `K · ∂yᵀ`.
import * as tf from '@tensorflow/tfjs-core';

/**
 * `x · B · K` with `B = M_{m−1} · … · M_0`: `x` is `[rows, d]`, `rots` holds the blocks of every
 * factor, factor-major `[m · N, b, b]` (`BD_i = blockdiag(rots[i·N … i·N + N − 1])`), `kernel`
 * is `[d, n]`. Gradients flow to `x` and `rots`; `kernel` is treated as a constant (frozen).
 */
export function rotatedProduct(x: tf.Tensor2D, rots: tf.Tensor3D, nFactors: number, kernel: tf.Tensor2D): tf.Tensor2D {
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
  const h = b / 2;
  const last = nFactors - 1;
  const split = (r: tf.Tensor3D) => (nFactors === 1 ? [r] : tf.split(r, nFactors, 0)) as tf.Tensor3D[];

  // [rows, d] → blocks of factor `last`, [N, b, rows]. Within a segment of b·2^i features,
  // feature (a, e, o) (chunk 2a + e, offset o) is row t = (e, o) of block a (SPEC §4).
  const enter = (t: tf.Tensor): tf.Tensor3D => {
    if (last === 0) return tf.reshape(tf.transpose(t), [n, b, rows]);
    const a = 2 ** last;
    const moved = tf.transpose(tf.reshape(t, [rows, d / (b * a), 2, a, h]), [1, 3, 2, 4, 0]);
    return tf.reshape(moved, [n, b, rows]);
  };
  // Inverse of `enter`.
  const leave = (w: tf.Tensor): tf.Tensor2D => {
    if (last === 0) return tf.transpose(tf.reshape(w, [d, rows]));
    const a = 2 ** last;
    const moved = tf.transpose(tf.reshape(w, [d / (b * a), a, 2, h, rows]), [4, 0, 2, 1, 3]);
    return tf.reshape(moved, [rows, d]);
  };
  // Blocks of factor i ↔ blocks of factor i − 1 (the map is its own inverse). Factor i's block
  // (s, a) with a = (a_hi, a_lo) and row (e, o) is factor i−1's block ((s, e), a_lo), row (a_hi, o).
  const swap = (w: tf.Tensor, i: number): tf.Tensor3D => {
    const moved = tf.transpose(tf.reshape(w, [d / (b * 2 ** i), 2, 2 ** (i - 1), 2, h * rows]), [0, 3, 2, 1, 4]);
    return tf.reshape(moved, [n, b, rows]);
  };

  const op = tf.customGrad(((xIn: tf.Tensor2D, rIn: tf.Tensor3D, save: tf.GradSaveFunc) => {
    // Keep the input of every factor's matmul for the gradient; drop the rest at once.
    const parts = split(rIn);
    const inputs: tf.Tensor3D[] = [];
    let w = tf.tidy(() => enter(xIn));
    for (let i = last; i >= 0; i--) {
      inputs[i] = w;
      const input = w;
      // x_j · R_j, transposed: R_jᵀ · W_j. A tidy per factor frees its reshapes at once.
      w = tf.tidy((): tf.Tensor3D => {
        const out: tf.Tensor3D = tf.matMul(parts[i], input, true, false);
        return i > 0 ? swap(out, i) : out;
      });
    }
    const kept = [tf.tidy(() => transposedTimes(tf.reshape(w, [d, rows]), kernel)), ...inputs];
    w.dispose();
    if (nFactors > 1) tf.dispose(parts);
    save([rIn, ...kept.slice(1)]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const parts = split(saved[0] as tf.Tensor3D);
      const dRots: tf.Tensor3D[] = [];
      // g = ∂L/∂(output of factor i), blocks of factor i.
      let g = tf.reshape(timesTransposed(kernel, dy as tf.Tensor2D), [n, b, rows]) as tf.Tensor3D;
      for (let i = 0; i <= last; i++) {
        dRots[i] = tf.matMul(saved[1 + i] as tf.Tensor3D, g, false, true); // W_j · G_jᵀ
        const gi = g;
        g = tf.tidy(() => (i < last ? swap(tf.matMul(parts[i], gi), i + 1) : tf.matMul(parts[i], gi)));
        gi.dispose();
      }
      return [leave(g), nFactors === 1 ? dRots[0] : tf.concat(dRots, 0)];
    });
    return { value: kept[0], gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, rots) as tf.Tensor2D;
}

// wasm multiplies a transposed 2-D operand 10–40× slower than a plain one (measured on
// [1024, 256] × [1024, 1024]): there an explicit transpose is far cheaper. Elsewhere
// (tensorflow, cpu) the transposed-operand matmul costs the same and saves a kernel.
function transposedOperandsAreSlow(): boolean {
  return tf.getBackend() === 'wasm';
}

/** `aᵀ · b`. */
function transposedTimes(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return transposedOperandsAreSlow() ? tf.matMul(tf.transpose(a), b) : tf.matMul(a, b, true, false);
}

/** `a · bᵀ`. */
function timesTransposed(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return transposedOperandsAreSlow() ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}
