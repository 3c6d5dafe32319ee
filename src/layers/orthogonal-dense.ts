// OrthogonalDense: OFT / OFTv2 (SPEC §3). A frozen Dense whose input is first rotated by a
// learned block-diagonal orthogonal matrix, each block the Cayley transform of a packed
// skew-symmetric parameter vector.
import * as tf from '@tensorflow/tfjs-core';
import { initializers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { Regularizer, RegularizerIdentifier } from '@tensorflow/tfjs-layers/dist/regularizers';
import { cayleyFromPacked } from '../ops/cayley';
import { blockDiagonal, rotateInput, withIdentityBlocks } from '../ops/block-rotation';
import { rotatedProduct } from '../ops/rotated-product';
import { packedSize } from '../ops/skew';
import { AdapterDense, AdapterDenseArgs } from './adapter-dense';
import { resolveRegularizer, serializeRegularizer } from './dense-args';
import { checkInteger, checkPositive, checkRate, nearestDivisor, randomSubset, warnOnce } from './validate';

/** Arguments of `OrthogonalDense`: those of `tf.layers.dense` plus the OFT options. */
export interface OrthogonalDenseArgs extends AdapterDenseArgs {
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

/**
 * A drop-in `Dense` with orthogonal fine-tuning. Computes
 * `y = act(((x · R) · K) + c)` with `R = blockdiag(R_1 … R_r)`, `R_j = Cayley(Q_j)`.
 * The kernel is frozen; `oft_r` (`[r, b(b−1)/2]`, or `[1, …]` with `blockShare`) trains.
 */
export class OrthogonalDense extends AdapterDense {
  static className = 'OrthogonalDense';
  /** Block size `b` (adjusted to the input dimension once built). */
  oftBlockSize: number;
  /** Number of blocks `r` as configured (0 when `oftBlockSize` was given). */
  r: number;
  readonly useCayleyNeumann: boolean;
  readonly numCayleyNeumannTerms: number;
  readonly coft: boolean;
  readonly eps: number;
  readonly blockShare: boolean;
  readonly initWeights: boolean;
  /** Module dropout rate; may be changed between batches (e.g. by a schedule callback). */
  moduleDropout: number;
  /** Source of randomness for module dropout (replaceable for reproducible runs). */
  random: () => number = Math.random;
  private readonly oftRegularizer?: Regularizer;
  private oftR!: LayerVariable;
  private numBlocks = 0;
  private blockSize = 0;

  constructor(args: OrthogonalDenseArgs) {
    super(args);
    const who = `OrthogonalDense '${this.name}'`;
    const rGiven = args.r ?? 0;
    const bGiven = args.oftBlockSize ?? (rGiven === 0 ? 32 : 0);
    checkInteger(who, 'r', rGiven, 0, 'Use 0 to size blocks by oftBlockSize instead.');
    checkInteger(who, 'oftBlockSize', bGiven, 0, 'Use e.g. 32, or 0 to size blocks by r instead.');
    if ((rGiven === 0) === (bGiven === 0)) {
      throw new Error(`${who}: set exactly one of r and oftBlockSize to a positive value, got r=${rGiven} and ` +
        `oftBlockSize=${bGiven}. For example {oftBlockSize: 32} (r is then derived), or {r: 8, oftBlockSize: 0}.`);
    }
    this.r = rGiven;
    this.oftBlockSize = bGiven;
    this.useCayleyNeumann = args.useCayleyNeumann ?? true;
    this.numCayleyNeumannTerms = args.numCayleyNeumannTerms ?? 5;
    checkInteger(who, 'numCayleyNeumannTerms', this.numCayleyNeumannTerms, 3, 'The series needs at least 3 terms; 5 is the default.');
    this.coft = args.coft ?? false;
    this.eps = args.eps ?? 6e-5;
    checkPositive(who, 'eps', this.eps);
    this.blockShare = args.blockShare ?? false;
    this.moduleDropout = args.moduleDropout ?? 0;
    checkRate(who, 'moduleDropout', this.moduleDropout);
    this.initWeights = args.initWeights ?? true;
    this.oftRegularizer = resolveRegularizer(args.oftRegularizer);
  }

  /** Number of blocks `r` once built. */
  get numOftBlocks(): number {
    return this.numBlocks;
  }

  get dropoutRate(): number {
    return this.moduleDropout;
  }

  set dropoutRate(rate: number) {
    this.moduleDropout = rate;
  }

  /** Trainable rotation parameters `oft_r` (`[r, b(b−1)/2]`, or `[1, …]` with `blockShare`). */
  get packedParameters(): LayerVariable {
    return this.oftR;
  }

  protected buildAdapter(d: number): void {
    const who = `OrthogonalDense '${this.name}'`;
    if (this.r > 0) {
      const r = nearestDivisor(d, this.r);
      if (r !== this.r) warnOnce(`${who}: r=${this.r} does not divide the input dimension ${d}; using r=${r} (block size ${d / r}).`);
      this.r = r;
      this.numBlocks = r;
      this.blockSize = d / r;
    } else {
      const b = nearestDivisor(d, this.oftBlockSize);
      if (b !== this.oftBlockSize) warnOnce(`${who}: oftBlockSize=${this.oftBlockSize} does not divide the input dimension ${d}; using oftBlockSize=${b}.`);
      this.oftBlockSize = b;
      this.blockSize = b;
      this.numBlocks = d / b;
    }
    if (this.blockSize < 2) {
      throw new Error(`${who}: a block of size 1 has no rotation (input dimension ${d}, ${this.numBlocks} blocks). ` +
        `Use a larger oftBlockSize or a smaller r.`);
    }
    const stored = this.blockShare ? 1 : this.numBlocks;
    const init = this.initWeights ? initializers.zeros() : initializers.randomNormal({ mean: 0, stddev: 0.1 });
    this.oftR = this.addWeight('oft_r', [stored, packedSize(this.blockSize)], 'float32', init, this.oftRegularizer, true);
    if (this.coft) this.installCoftProjection();
    if (this.moduleDropout > 0 && (this.blockShare || this.numBlocks < 2)) {
      warnOnce(`${who}: moduleDropout=${this.moduleDropout} has no effect with ${this.blockShare ? 'blockShare' : 'a single block'}.`);
    }
  }

  /** The block rotations `[stored blocks, b, b]` (no dropout). */
  blockRotations(): tf.Tensor3D {
    return tf.tidy(() => {
      const terms = this.useCayleyNeumann ? this.numCayleyNeumannTerms : null;
      return cayleyFromPacked(this.oftR.read() as tf.Tensor2D, this.blockSize, terms);
    });
  }

  denseRotation(): tf.Tensor2D {
    return tf.tidy(() => blockDiagonal(this.blockRotations(), this.numBlocks));
  }

  protected adaptedProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, training: boolean): tf.Tensor2D {
    let rot = this.blockRotations();
    const drop = Math.floor(this.moduleDropout * this.numBlocks);
    if (training && drop > 0 && !this.blockShare && this.numBlocks > 1) {
      rot = withIdentityBlocks(rot, randomSubset(this.numBlocks, drop, this.random));
    }
    // A shared block is one plain 2-D matmul over all blocks' rows: nothing to fuse.
    if (this.blockShare) return tf.matMul(rotateInput(x, rot) as tf.Tensor2D, kernel);
    return rotatedProduct(x, rot, 1, kernel);
  }

  protected adapterConfig(): Record<string, unknown> {
    return {
      oftBlockSize: this.oftBlockSize, r: this.r, useCayleyNeumann: this.useCayleyNeumann,
      numCayleyNeumannTerms: this.numCayleyNeumannTerms, coft: this.coft, eps: this.eps,
      blockShare: this.blockShare, moduleDropout: this.moduleDropout, initWeights: this.initWeights,
      oftRegularizer: serializeRegularizer(this.oftRegularizer),
    };
  }

  /**
   * COFT: every write to `oft_r` — optimizer steps in `fit` included, which bypass tfjs'
   * LayerVariable constraints — is projected onto ‖Q_j‖_F ≤ eps/√(stored blocks).
   */
  private installCoftProjection(): void {
    const variable = this.oftR.read() as tf.Variable;
    const assign = variable.assign.bind(variable);
    const radius = this.eps / Math.sqrt(this.oftR.shape[0] as number);
    variable.assign = (value: tf.Tensor) => {
      const projected = tf.tidy(() => {
        // ‖Q_j‖_F = √2 ‖v_j‖: every packed entry appears twice in Q = U − Uᵀ.
        const norm = tf.mul(tf.norm(value, 'euclidean', 1, true), Math.SQRT2);
        return tf.mul(value, tf.minimum(1, tf.div(radius, tf.maximum(norm, 1e-30))));
      });
      assign(projected);
      projected.dispose();
    };
    // Initial values (e.g. initWeights: false) start inside the ball too.
    const initial = variable.clone();
    variable.assign(initial);
    initial.dispose();
  }
}

tf.serialization.registerClass(OrthogonalDense);
