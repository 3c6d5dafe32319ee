// OrthogonalDense: OFT / OFTv2 (docs/math.md §4). A frozen Dense whose input is first rotated
// by a learned block-diagonal orthogonal matrix, each block the Cayley transform of a packed
// skew-symmetric parameter vector.
import * as tf from '@tensorflow/tfjs-core';
import { initializers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { Regularizer } from '@tensorflow/tfjs-layers/dist/regularizers';
import { cayleyFromPacked } from '../ops/cayley';
import { blockDiagonal, rotateInput, withIdentityBlocks } from '../ops/block-rotation';
import { rotatedProduct } from '../ops/rotated-product';
import { packedBlockSquaredNorms, packedSize } from '../ops/skew';
import { warnOnce } from '../helpers';
import { AdapterDense, AdapterDenseArgs } from './adapter-dense';
import { resolveRegularizer } from './dense-args';
import { checkAdapterArgs, OFT_OPTIONS } from './adapter-options';
import { OftOptions } from './oft-options';
import { nearestDivisor, randomSubset } from './validate';

/** Relative slack of the COFT ball test, far above float32 rounding of a norm, far below any training step. */
const COFT_SLACK = 1e-5;

/** Arguments of `OrthogonalDense`: those of `tf.layers.dense` plus the OFT options. */
export interface OrthogonalDenseArgs extends AdapterDenseArgs, OftOptions {}

/**
 * A drop-in `Dense` with orthogonal fine-tuning. Computes
 * `y = act(((x · R) · K) + c)` with `R = blockdiag(R_1 … R_r)`, `R_j = Cayley(Q_j)`.
 * The kernel is frozen; `oft_r` (`[r, b(b−1)/2]`, or `[1, …]` with `blockShare`) trains.
 */
export class OrthogonalDense extends AdapterDense {
  static className = 'OrthogonalDense';
  protected readonly optionKeys = Object.keys(OFT_OPTIONS);
  protected readonly dropoutOption = 'moduleDropout';
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
  /** Source of randomness for module dropout (replaceable for reproducible runs). */
  random: () => number = Math.random;
  private readonly oftRegularizer?: Regularizer;
  private oftR!: LayerVariable;
  private numBlocks = 0;
  private blockSize = 0;

  constructor(args: OrthogonalDenseArgs) {
    super(args);
    const who = `OrthogonalDense '${this.name}'`;
    const opts = checkAdapterArgs(who, args, OFT_OPTIONS);
    const rGiven = opts.r as number;
    const bGiven = (opts.oftBlockSize ?? (rGiven === 0 ? 32 : 0)) as number;
    if ((rGiven === 0) === (bGiven === 0)) {
      throw new Error(`${who}: set exactly one of r and oftBlockSize to a positive value, got r=${rGiven} and ` +
        `oftBlockSize=${bGiven}. For example {oftBlockSize: 32} (r is then derived), or {r: 8, oftBlockSize: 0}.`);
    }
    this.r = rGiven;
    this.oftBlockSize = bGiven;
    this.useCayleyNeumann = opts.useCayleyNeumann as boolean;
    this.numCayleyNeumannTerms = opts.numCayleyNeumannTerms as number;
    this.coft = opts.coft as boolean;
    this.eps = opts.eps as number;
    this.blockShare = opts.blockShare as boolean;
    this.dropoutRate = opts.moduleDropout as number;
    this.initWeights = opts.initWeights as boolean;
    this.oftRegularizer = resolveRegularizer(args.oftRegularizer);
  }

  /** Module dropout rate in [0, 1); may be changed between batches (e.g. by a schedule callback). */
  get moduleDropout(): number {
    return this.dropoutRate;
  }

  set moduleDropout(rate: number) {
    this.dropoutRate = rate;
  }

  /** Number of blocks `r` once built. */
  get numOftBlocks(): number {
    return this.numBlocks;
  }

  /** Trainable rotation parameters `oft_r` (`[r, b(b−1)/2]`, or `[1, …]` with `blockShare`). */
  get packedParameters(): LayerVariable {
    return this.oftR;
  }

  protected buildAdapter(d: number): void {
    const who = `OrthogonalDense '${this.name}'`;
    if (this.r > 0) {
      const r = nearestDivisor(d, this.r);
      if (r !== this.r)
        warnOnce(`${who}: r=${this.r} does not divide the input dimension ${d}; using r=${r} (block size ${d / r}).`);
      this.r = r;
      this.numBlocks = r;
      this.blockSize = d / r;
    } else {
      const b = nearestDivisor(d, this.oftBlockSize);
      if (b !== this.oftBlockSize)
        warnOnce(
          `${who}: oftBlockSize=${this.oftBlockSize} does not divide the input dimension ${d}; using ` +
            `oftBlockSize=${b}.`,
        );
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
    this.oftR = this.addWeight(
      'oft_r',
      [stored, packedSize(this.blockSize)],
      'float32',
      init,
      this.oftRegularizer,
      true,
    );
    if (this.coft) this.installCoftProjection();
    if (this.moduleDropout > 0 && (this.blockShare || this.numBlocks < 2)) {
      warnOnce(
        `${who}: moduleDropout=${this.moduleDropout} has no effect with ${this.blockShare ? 'blockShare' : 'a single ' +
          'block'}.`,
      );
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
        const norm = tf.reshape(tf.sqrt(packedBlockSquaredNorms(value)), [-1, 1]);
        // Blocks inside the ball are kept bit for bit: a block this projection put on the sphere
        // measures radius·(1 ± a few ulp), and rescaling it again would change it by an ulp on every
        // write, so a saved COFT model would not reload bit-identically.
        const outside = tf.greater(norm, radius * (1 + COFT_SLACK));
        return tf.mul(value, tf.where(outside, tf.div(radius, tf.maximum(norm, 1e-30)), tf.onesLike(norm)));
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
