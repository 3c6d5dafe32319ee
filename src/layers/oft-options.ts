// The options of OFT / OFTv2, shared by every layer class of the method (OrthogonalDense now):
// their types and documentation. Their names, types, ranges and defaults at run time are the
// table in adapter-options.ts, which the compiler holds to this interface.
import type { Regularizer, RegularizerIdentifier } from '@tensorflow/tfjs-layers/dist/regularizers';

/** OFT options: what `OrthogonalDense` adds to the `Dense` arguments and `applyOft` passes on. */
export interface OftOptions {
  /**
   * Size `b` of each orthogonal block (default 32 unless `r` is given). Exactly one of
   * `oftBlockSize` and `r` must be non-zero. Adjusted to the nearest divisor of the input
   * dimension, with a warning, when it does not divide it.
   */
  oftBlockSize?: number;
  /** Number of blocks `r` (alternative to `oftBlockSize`; default 0). */
  r?: number;
  /** Cayley–Neumann series instead of the exact Cayley transform (default `true`, OFTv2). */
  useCayleyNeumann?: boolean;
  /** Number of Neumann terms `N ≥ 3` (default 5). */
  numCayleyNeumannTerms?: number;
  /** Constrained OFT: keep every block's ‖Q‖_F ≤ eps/√(stored blocks) (default `false`). */
  coft?: boolean;
  /** COFT radius (default 6e-5). */
  eps?: number;
  /** One block shared by all `r` positions (default `false`). */
  blockShare?: boolean;
  /** Fraction of blocks replaced by the identity for each training batch (default 0). */
  moduleDropout?: number;
  /** `true` (default): start at the identity rotation. `false`: random `oft_r ~ N(0, 0.1)`. */
  initWeights?: boolean;
  /** Regularizer on `oft_r` (e.g. tfjs-oft's `OrthogonalityRegularizer`). */
  oftRegularizer?: RegularizerIdentifier | Regularizer;
}
