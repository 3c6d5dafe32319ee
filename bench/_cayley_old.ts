// Cayley transforms of batches of skew-symmetric blocks `[k, b, b]` (SPEC §2):
// exact R = (I + Q)(I − Q)⁻¹ and the Cayley–Neumann series.
import * as tf from '@tensorflow/tfjs-core';

function batchedEye(k: number, b: number): tf.Tensor3D {
  return tf.tidy(() => tf.tile(tf.expandDims(tf.eye(b), 0), [k, 1, 1]) as tf.Tensor3D);
}

/**
 * Inverse of each `[b, b]` matrix of a batch by Gauss–Jordan elimination without pivoting.
 * Only for matrices whose symmetric part is positive definite, such as `I − Q` with `Q`
 * skew-symmetric: every pivot is then non-zero. tfjs has no `inv` or `solve`.
 */
export function invertUnpivoted(a: tf.Tensor3D): tf.Tensor3D {
  const [k, b] = a.shape;
  return tf.tidy(() => {
    let m: tf.Tensor3D = tf.concat([a, batchedEye(k, b)], 2);
    const eye = tf.eye(b);
    for (let t = 0; t < b; t++) {
      // Row t becomes pivot row / pivot; every other row i loses m[i,t] · pivot row.
      const pivotRow = tf.slice(m, [0, t, 0], [k, 1, 2 * b]);
      const pivot = tf.slice(m, [0, t, t], [k, 1, 1]);
      const scaled = tf.div(pivotRow, pivot);
      const factors = tf.sub(tf.slice(m, [0, 0, t], [k, b, 1]), tf.expandDims(tf.slice(eye, [0, t], [b, 1]), 0));
      m = tf.sub(m, tf.mul(factors, scaled));
    }
    return tf.slice(m, [0, 0, b], [k, b, b]);
  });
}

/**
 * Exact Cayley transform `R = (I + Q)(I − Q)⁻¹` of skew-symmetric blocks `[k, b, b]`.
 * Since `R = 2(I − Q)⁻¹ − I`, one inverse suffices. The gradient is analytic:
 * with `A = I − Q` and `G = ∂L/∂R`, `∂L/∂Q = A⁻ᵀ G (I + R)ᵀ = ½ (I + R)ᵀ G (I + R)ᵀ`.
 */
export function cayleyExact(q: tf.Tensor3D): tf.Tensor3D {
  const [k, b] = q.shape;
  const op = tf.customGrad(((qIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const r = tf.tidy(() => {
      const eye = batchedEye(k, b);
      const aInv = invertUnpivoted(tf.sub(eye, qIn as tf.Tensor3D));
      return tf.sub(tf.mul(aInv, 2), eye);
    });
    save([r]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const iPlusRt = tf.transpose(tf.add(batchedEye(k, b), saved[0]), [0, 2, 1]) as tf.Tensor3D;
      return tf.mul(tf.matMul(tf.matMul(iPlusRt, dy as tf.Tensor3D), iPlusRt), 0.5);
    });
    return { value: r, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(q) as tf.Tensor3D;
}

/**
 * Cayley–Neumann approximation with `terms` = N ≥ 3:
 * `R ≈ (I + Q)(I + Q + Q² + … + Q^(N−2))`, matmuls only (for N = 5: I + 2Q + 2Q² + 2Q³ + Q⁴).
 * Accurate while ‖Q‖ < 1; its orthogonality error grows with ‖Q‖.
 */
export function cayleyNeumann(q: tf.Tensor3D, terms = 5): tf.Tensor3D {
  if (!Number.isInteger(terms) || terms < 3) {
    throw new Error(`cayleyNeumann: numCayleyNeumannTerms must be an integer ≥ 3, got ${terms}.`);
  }
  const [k, b] = q.shape;
  return tf.tidy(() => {
    const eye = batchedEye(k, b);
    // Horner: S = I + Q(I + Q(… )) with N−2 powers of Q.
    let s: tf.Tensor3D = eye;
    for (let t = 0; t < terms - 2; t++) s = tf.add(eye, tf.matMul(q, s));
    return tf.matMul(tf.add(eye, q), s);
  });
}

/** Orthogonality error of each block: `max |RᵀR − I|` over the batch (a plain number). */
export function orthogonalityError(r: tf.Tensor3D): number {
  const [k, b] = r.shape;
  return tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(r, r, true, false), batchedEye(k, b)))).dataSync()[0]);
}
