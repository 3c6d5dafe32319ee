// OrthogonalityRegularizer: λ · Σ_j max(0, ‖Q_j‖_F² − ρ²) on packed skew-symmetric parameters
// (`oft_r`, `boft_r`), a soft version of COFT that keeps every block rotation near the identity.
import * as tf from '@tensorflow/tfjs-core';
import { checkNonNegative } from '../helpers';
import { packedBlockSquaredNorms } from '../ops/skew';
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
 * The weight is read as packed blocks along its last axis (`[..., b(b−1)/2]`, docs/math.md §2),
 * so `oft_r` (`[r, p]`) and `boft_r` (`[m, N, p]`) both work.
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
    checkNonNegative(
      'OrthogonalityRegularizer',
      'lambda',
      lambda,
      'Use e.g. {lambda: 1e-3}, or 0 to switch the penalty off.',
    );
    checkNonNegative('OrthogonalityRegularizer', 'radius', radius,
      'Use 0 to penalize every block, or e.g. 0.5 to leave blocks with ‖Q‖_F ≤ 0.5 free.');
    this.lambda = lambda;
    this.radius = radius;
  }

  /** The penalty for one weight `x` of shape `[..., b(b−1)/2]` (a scalar). */
  apply(x: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      if (this.lambda === 0 || x.size === 0) return tf.scalar(0);
      const sq = packedBlockSquaredNorms(x);
      const excess = this.radius === 0 ? sq : tf.relu(tf.sub(sq, this.radius * this.radius));
      return tf.mul(tf.sum(excess), this.lambda) as tf.Scalar;
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { lambda: this.lambda, radius: this.radius };
  }
}
