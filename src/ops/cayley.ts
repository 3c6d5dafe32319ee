// Cayley transforms of batches of skew-symmetric blocks `[k, b, b]` (docs/math.md §3):
// exact R = (I + Q)(I − Q)⁻¹ and the Cayley–Neumann series.
import * as tf from '@tensorflow/tfjs-core';
import { identityConstant, opConstant } from './constants';
import { nativeInverse, nativeInverseWorks } from './native-inverse';
import { packedGradient, packedSize, skewOf } from './skew';

function batchedEye(k: number, b: number): tf.Tensor3D {
  return tf.tidy(() => tf.tile(tf.expandDims(tf.eye(b), 0), [k, 1, 1]) as tf.Tensor3D);
}

/**
 * `(I − Q)⁻¹` of skew-symmetric blocks `[k, b, b]` (no gradient) by Newton–Schulz iteration
 * `X ← X(2I − AX)`, `A = I − Q`: batched matmuls over all blocks at once, a number of steps
 * logarithmic in the accuracy asked for, and no division by pivots, so it stays finite for any
 * finite Q. With `τ_j = ‖Q_j‖²_F/2`, which bounds θ²_max (a skew block's eigenvalues ±iθ come in
 * pairs), and `τ ≤ T`: starting at `X₀ = α(I + Q)`, `α = 2/(2 + T)`, `AX₀ = α(I − Q²)` has
 * eigenvalues `α(1 + θ²)` in `[α, α(1 + T)]`, so the residual `E = I − AX` lies in `[−ρ, ρ]`,
 * `ρ = T/(2 + T) < 1`, and squares each step: the iteration never diverges (see `solvePlan`).
 * On the tensorflow backend, TensorFlow's own pivoted inverse instead (`native-inverse.ts`).
 */
export function inverseOfIMinusSkew(q: tf.Tensor3D): tf.Tensor3D {
  const [k, b] = q.shape;
  const eye = identityConstant(b);
  if (nativeInverseWorks()) return tf.tidy(() => nativeInverse(tf.sub(eye, q) as tf.Tensor3D, 'exact Cayley'));
  const tau = tf.tidy(() => tf.mul(tf.sum(tf.square(tf.reshape(q, [k, b * b])), 1), 0.5)) as tf.Tensor1D;
  const plan = solvePlan(tau, 2);
  const a = tf.sub(eye, q) as tf.Tensor3D;
  const x0 = tf.tidy(() => tf.mul(tf.add(eye, q), plan.scale));
  const x = newtonSchulz(a, x0, plan.steps);
  tf.dispose([tau, a, plan.scale]);
  return x;
}

/**
 * How to run the solve for blocks with `τ_j = ‖Q_j‖²_F/2` (`[k]`): the step count, and the start
 * scale `numerator/(2 + T)` (`numerator = 2` for `(I − Q)⁻¹`). Where a read back is free, T is the
 * largest τ (one scalar read) and the scale one number: 0 steps at Q = 0, 5 at τ = 1, 44 at
 * τ = 1e12. webgl and webgpu (tfjs-node-gpu takes TensorFlow's inverse) would wait there for their
 * whole queue (and on SwiftShader's WebGPU every later read fails), so they take the fixed count that T = 128
 * (‖Q_j‖_F ≤ 16) needs, with each block's own τ in its scale: larger blocks stay finite but converge
 * only partly there.
 */
function solvePlan(tau: tf.Tensor1D, numerator: number): { steps: number; scale: number | tf.Tensor3D } {
  if (!readBackIsFree()) {
    const scale = tf.tidy(() => tf.reshape(tf.div(numerator, tf.add(tau, 2)), [-1, 1, 1]) as tf.Tensor3D);
    return { steps: STEPS_WITHOUT_READ, scale };
  }
  const largest = tf.max(tau);
  const tauMax = largest.dataSync()[0];
  largest.dispose();
  if (!Number.isFinite(tauMax)) {
    throw new Error(`cayleyExact: the skew-symmetric blocks are not finite (largest ‖Q‖²_F = ${2 * tauMax}).`);
  }
  return { steps: newtonSchulzSteps(tauMax), scale: numerator / (2 + tauMax) };
}

/** `steps` Newton–Schulz steps `X ← X(2I − AX)` from `x0` (consumed) for blocks `a` `[k, b, b]`. */
function newtonSchulz(a: tf.Tensor3D, x0: tf.Tensor, steps: number): tf.Tensor3D {
  const b = a.shape[1];
  const twoEye = opConstant(`two eye ${b}`, () => tf.mul(tf.eye(b), 2));
  let x = x0 as tf.Tensor3D;
  for (let t = 0; t < steps; t++) {
    // One step at a time so that only the current iterate is alive (memory O(k·b²)).
    const next = tf.tidy(() => tf.matMul(x, tf.sub(twoEye, tf.matMul(a, x)))) as tf.Tensor3D;
    x.dispose();
    x = next;
  }
  return x;
}

/**
 * Whether one scalar may be read back to size the solve: on the cpu, wasm and tensorflow (CPU)
 * backends every kernel has run when it returns, so a read adds no wait (measured on tensorflow:
 * a `dataSync` of a max in the middle of a chain of batched matmuls costs no more than the max).
 */
function readBackIsFree(): boolean {
  const name = tf.getBackend();
  if (name === 'tensorflow') return !(tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  return name !== 'webgl' && name !== 'webgpu';
}

/**
 * Newton–Schulz steps that bring a residual of spectral radius `ρ = τ/(2 + τ)` below 2⁻²⁶ (a quarter
 * of float32's unit roundoff 2⁻²⁴), for the largest `τ = ‖Q_j‖²_F/2`. Works with the gap
 * `1 − ρ = 2/(2 + τ)`: for huge τ, ρ rounds to 1 in float64.
 */
function newtonSchulzSteps(tauMax: number): number {
  const target = 2 ** -26;
  const rho = tauMax / (2 + tauMax);
  if (rho <= target) return 0;
  // ρ^(2^s) ≤ target  ⇔  2^s ≥ ln(target)/ln(ρ), with ln(ρ) = log1p(−gap).
  return Math.ceil(Math.log2(Math.log(target) / Math.log1p(-2 / (2 + tauMax))));
}

/** Steps used without a read back: enough for every block with τ = ‖Q_j‖²_F/2 ≤ 128. */
const STEPS_WITHOUT_READ = newtonSchulzSteps(128);

/**
 * Exact Cayley transform `R = (I + Q)(I − Q)⁻¹` of skew-symmetric blocks `[k, b, b]`.
 * Since `R = 2(I − Q)⁻¹ − I`, one inverse suffices. The gradient is analytic:
 * with `X = (I − Q)⁻¹` and `G = ∂L/∂R`, `∂L/∂Q = Xᵀ G (I + R)ᵀ = 2 Xᵀ G Xᵀ`.
 */
export function cayleyExact(q: tf.Tensor3D): tf.Tensor3D {
  const [, b] = q.shape;
  const op = tf.customGrad(((qIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const x = inverseOfIMinusSkew(qIn as tf.Tensor3D);
    const r = tf.tidy(() => tf.sub(tf.mul(x, 2), identityConstant(b)));
    save([x]);
    x.dispose();
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const xs = saved[0] as tf.Tensor3D;
      return tf.mul(tf.matMul(tf.matMul(xs, dy as tf.Tensor3D, true, false), xs, false, true), 2);
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

/**
 * Block rotations straight from packed parameters `v` (`[k, b(b−1)/2]`, docs/math.md §2): the exact
 * Cayley transform of `Q = skew(v)` (`neumannTerms` null) or its Neumann series with that many
 * terms. One op whose gradient to `v` is written out (a few batched matmuls), instead of
 * autograd through the skew packing, the series and the solve (many small kernels per step).
 */
export function cayleyFromPacked(v: tf.Tensor2D, b: number, neumannTerms: number | null): tf.Tensor3D {
  const [, p] = v.shape;
  if (p !== packedSize(b)) {
    throw new Error(`cayleyFromPacked: packed length ${p} does not match block size ${b} (expected ${packedSize(b)}).`);
  }
  if (neumannTerms != null && (!Number.isInteger(neumannTerms) || neumannTerms < 3)) {
    throw new Error(`cayleyNeumann: numCayleyNeumannTerms must be an integer ≥ 3, got ${neumannTerms}.`);
  }
  const op = tf.customGrad(((vIn: tf.Tensor, save: tf.GradSaveFunc) => {
    if (neumannTerms == null && nativeInverseWorks()) {
      // TensorFlow's inverse X = (I − Q)⁻¹ (see native-inverse.ts); Z = 2X = I + R, and
      // ∂L/∂Q = Xᵀ G Zᵀ needs no scaling kernel.
      const eye = identityConstant(b);
      const x = tf.tidy(() => inverseOfIMinusSkew(skewOf(vIn as tf.Tensor2D, b)));
      const z = tf.add(x, x);
      save([x, z]);
      const gradFunc = (dy: tf.Tensor, [xs, zs]: tf.Tensor[]) => tf.tidy(() => packedGradient(
        tf.matMul(tf.matMul(xs as tf.Tensor3D, dy as tf.Tensor3D, true, false), zs as tf.Tensor3D, false, true)));
      const value = tf.sub(z, eye);
      tf.dispose([x, z]);
      return { value, gradFunc };
    }
    if (neumannTerms == null) {
      // Solve for Z = 2(I − Q)⁻¹ = I + R directly: Newton–Schulz on A' = (I − Q)/2 = ½I − H with
      // H = Q/2 (the skew packing scaled by ½, exact in float), from Z₀ = 2X₀ = 4α(½I + H). Then
      // R = Z − I, and ∂L/∂Q = Xᵀ G (2X)ᵀ = ½ Zᵀ G Zᵀ needs only Z.
      const h = skewOf(vIn as tf.Tensor2D, b, 0.5);
      const halfEye = opConstant(`half eye ${b}`, () => tf.mul(tf.eye(b), 0.5));
      const plan = solvePlan(tf.sum(tf.square(vIn), 1) as tf.Tensor1D, 8); // τ = ‖Q‖²_F/2 = ‖v‖²
      const z = newtonSchulz(tf.sub(halfEye, h) as tf.Tensor3D, tf.mul(tf.add(halfEye, h), plan.scale), plan.steps);
      save([z]);
      const gradFunc = (dy: tf.Tensor, [zs]: tf.Tensor[]) => tf.tidy(() => packedGradient(
        tf.matMul(tf.matMul(zs as tf.Tensor3D, dy as tf.Tensor3D, true, false), zs as tf.Tensor3D, false, true), 0.5));
      return { value: tf.sub(z, identityConstant(b)), gradFunc };
    }
    const q = skewOf(vIn as tf.Tensor2D, b);
    const eye = identityConstant(b);
    if (neumannTerms === 5) {
      // The default, in 2 matmuls instead of 3: I + Q + Q² + Q³ = (I + Q)(I + Q²), so
      // R = A · P with A = (I + Q)² = I + 2Q + Q² and P = I + Q².
      const pq = tf.add(eye, tf.matMul(q, q));
      const a = tf.addN([pq, q, q]); // one kernel for P + 2Q
      save([q, a, pq]);
      const gradFunc = (dy: tf.Tensor, [qs, as, ps]: tf.Tensor[]) => tf.tidy(() => {
        const g = dy as tf.Tensor3D;
        const dA = tf.matMul(g, ps as tf.Tensor3D, false, true);
        const dQ2 = tf.add(dA, tf.matMul(as as tf.Tensor3D, g, true, false)); // through A and through P
        const qt = qs as tf.Tensor3D;
        const dQ = tf.addN([dA, dA, tf.matMul(dQ2, qt, false, true), tf.matMul(qt, dQ2, true, false)]);
        return packedGradient(dQ as tf.Tensor3D);
      });
      return { value: tf.matMul(a, pq), gradFunc };
    }
    // Horner: s_1 = I + Q, s_t = I + Q·s_{t−1} (t ≤ N − 2), R = s_1 · s_{N−2}.

    const s: tf.Tensor3D[] = [tf.add(eye, q)];
    for (let t = 1; t < neumannTerms - 2; t++) s.push(tf.add(eye, tf.matMul(q, s[t - 1])));
    const r = tf.matMul(s[0], s[s.length - 1]);
    save([q, ...s]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const [qs, ...ss] = saved as tf.Tensor3D[];
      const g = dy as tf.Tensor3D;
      const last = ss.length - 1;
      const terms: tf.Tensor3D[] = [tf.matMul(g, ss[last], false, true)]; // through the left factor s_1
      let ds: tf.Tensor3D = tf.matMul(ss[0], g, true, false); // ∂L/∂s_last
      for (let t = last; t >= 1; t--) {
        terms.push(tf.matMul(ds, ss[t - 1], false, true)); // s_t = I + Q·s_{t−1}
        ds = tf.matMul(qs, ds, true, false);
      }
      terms.push(ds); // s_1 = I + Q
      return packedGradient(tf.addN(terms) as tf.Tensor3D);
    });
    return { value: r, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(v) as tf.Tensor3D;
}

/** Orthogonality error of a batch of blocks: `max |RᵀR − I|` over all of them (a plain number). */
export function orthogonalityError(r: tf.Tensor3D): number {
  return tf.tidy(() => orthogonalityErrorTensor(r).dataSync()[0]);
}

/** `orthogonalityError` as a scalar tensor (no read-back, for code that reads several figures at once). */
export function orthogonalityErrorTensor(r: tf.Tensor3D): tf.Scalar {
  const [k, b] = r.shape;
  return tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(r, r, true, false), batchedEye(k, b)))) as tf.Scalar);
}
