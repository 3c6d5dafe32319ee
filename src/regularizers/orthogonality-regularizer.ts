// OrthogonalityRegularizer: λ · Σ_j max(0, ‖Q_j‖_F² − ρ²) on packed skew-symmetric parameters
// (`oft_r`, `boft_r`), a soft version of COFT that keeps every block rotation near the identity.
import * as tf from '@tensorflow/tfjs-core';
import { RegularizerBase } from './regularizer-base';

/** Arguments of `OrthogonalityRegularizer`. */
export interface OrthogonalityRegularizerArgs {
  /** Weight λ of the penalty (default 1e-3). Must be a finite number ≥ 0. */
  lambda?: number;
  /**
   * Free radius ρ (default 0): blocks with ‖Q_j‖_F ≤ ρ cost nothing, larger ones pay
   * λ · (‖Q_j‖_F² − ρ²). With ρ = 0 the penalty is exactly λ · Σ_j ‖Q_j‖_F².
   */
  radius?: number;
}

/**
 * Penalty on the skew-symmetric generators of block rotations, for `oftRegularizer` of
 * `OrthogonalDense` and `boftRegularizer` of `ButterflyDense`:
 * `λ · Σ_j max(0, ‖Q_j‖_F² − ρ²)`, summed over every block `j` of the weight.
 *
 * The weight is read as packed blocks along its last axis (`[..., b(b−1)/2]`, SPEC §1), so
 * `oft_r` (`[r, p]`) and `boft_r` (`[m, N, p]`) both work. Each packed entry appears twice in
 * `Q = U − Uᵀ`, hence `‖Q_j‖_F² = 2 ‖v_j‖²`.
 *
 * Serializable: it is saved in `model.json` with the layer and rebuilt by
 * `tf.loadLayersModel` (importing tfjs-oft registers it).
 *
 * ```ts
 * const layer = new OrthogonalDense({ units: 64, oftBlockSize: 8,
 *   oftRegularizer: new OrthogonalityRegularizer({ lambda: 1e-3 }) });
 * ```
 */
export class OrthogonalityRegularizer extends RegularizerBase {
  static className = 'OrthogonalityRegularizer';
  /** Weight λ. */
  readonly lambda: number;
  /** Free radius ρ on ‖Q_j‖_F. */
  readonly radius: number;

  constructor(args: OrthogonalityRegularizerArgs = {}) {
    super();
    const lambda = args.lambda ?? 1e-3;
    const radius = args.radius ?? 0;
    if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) {
      throw new Error(`OrthogonalityRegularizer: lambda must be a finite number ≥ 0, got ${String(lambda)}. ` +
        'Use e.g. {lambda: 1e-3}, or 0 to switch the penalty off.');
    }
    if (typeof radius !== 'number' || !Number.isFinite(radius) || radius < 0) {
      throw new Error(`OrthogonalityRegularizer: radius must be a finite number ≥ 0, got ${String(radius)}. ` +
        'Use 0 to penalize every block, or e.g. 0.5 to leave blocks with ‖Q‖_F ≤ 0.5 free.');
    }
    this.lambda = lambda;
    this.radius = radius;
  }

  /** The penalty for one weight `x` of shape `[..., b(b−1)/2]` (a scalar). */
  apply(x: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      if (this.lambda === 0 || x.size === 0) return tf.scalar(0);
      if (this.radius === 0) return tf.mul(tf.sum(tf.square(x)), 2 * this.lambda) as tf.Scalar;
      const p = x.shape[x.rank - 1] ?? 1;
      const sq = tf.mul(tf.sum(tf.square(tf.reshape(x, [-1, p])), 1), 2);
      return tf.mul(tf.sum(tf.relu(tf.sub(sq, this.radius * this.radius))), this.lambda) as tf.Scalar;
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { lambda: this.lambda, radius: this.radius };
  }
}

tf.serialization.registerClass(OrthogonalityRegularizer);
