// The options of BOFT, shared by every layer class of the method (ButterflyDense now): their
// types and documentation. Their names, types, ranges and defaults at run time are the
// table in adapter-options.ts, which the compiler holds to this interface.
import type { Regularizer, RegularizerIdentifier } from '@tensorflow/tfjs-layers/dist/regularizers';

/** BOFT options: what `ButterflyDense` adds to the `Dense` arguments and `applyBoft` passes on. */
export interface BoftOptions {
  /**
   * Size `b` of each orthogonal block. Exactly one of `boftBlockSize` and `boftBlockNum` must
   * be non-zero; `b · N` must equal the input dimension. Never adjusted silently.
   */
  boftBlockSize?: number;
  /** Number of blocks `N` per butterfly factor (alternative to `boftBlockSize`; default 0). */
  boftBlockNum?: number;
  /**
   * Number of butterfly factors `m ≥ 1` (default 1: block-diagonal OFT). `m > 1` needs `b`
   * even and `N` divisible by `2^(m−1)`; `m = log₂(N) + 1` gives a dense rotation.
   */
  boftNButterflyFactor?: number;
  /**
   * For each training batch, one factor chosen at random has `floor(p · N)` of its blocks,
   * chosen at random, replaced by the identity (default 0). May be changed between batches.
   */
  boftDropout?: number;
  /** Cayley–Neumann series instead of the exact Cayley transform (default `false`). */
  useCayleyNeumann?: boolean;
  /** Number of Neumann terms `N ≥ 3` (default 5). */
  numCayleyNeumannTerms?: number;
  /**
   * `true` (default): `boft_r = 0` and `boft_s = 1`, so the layer starts equal to its Dense.
   * `false`: random `boft_r ~ N(0, 0.1)` and `boft_s ~ N(1, 0.1)` (for tests).
   */
  initWeights?: boolean;
  /** Regularizer on `boft_r` (e.g. tfjs-oft's `OrthogonalityRegularizer`). */
  boftRegularizer?: RegularizerIdentifier | Regularizer;
}
