// ButterflyDense: BOFT (docs/math.md §5). A frozen Dense whose input is first rotated by a
// product of m butterfly factors, each a permuted block-diagonal orthogonal matrix of Cayley
// blocks, and whose outputs are scaled per unit by a learned `boft_s`.
import * as tf from '@tensorflow/tfjs-core';
import { initializers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { Regularizer } from '@tensorflow/tfjs-layers/dist/regularizers';
import { applyButterfly, applyButterflyFactor, butterflyRotation } from '../ops/butterfly';
import { butterflyShapeProblem, maxButterflyFactors } from '../ops/butterfly-shape';
import { rotatedProduct } from '../ops/rotated-product';
import { withIdentityBlocks } from '../ops/block-rotation';
import { cayleyFromPacked } from '../ops/cayley';
import { packedSize } from '../ops/skew';
import { AdapterDense, AdapterDenseArgs } from './adapter-dense';
import { BOFT_OPTIONS, checkAdapterArgs } from './adapter-options';
import { BoftOptions } from './boft-options';
import { resolveRegularizer } from './dense-args';
import { divisors, randomSubset } from './validate';

/** Arguments of `ButterflyDense`: those of `tf.layers.dense` plus the BOFT options. */
export interface ButterflyDenseArgs extends AdapterDenseArgs, BoftOptions {}

/** Which blocks the last training call replaced by the identity (for inspection and tests). */
export interface ButterflyDropoutRecord {
  /** Factor index `i` (0 … m−1). */
  factor: number;
  /** Block indices `j` of that factor, `floor(p · N)` of them. */
  blocks: number[];
}

/** Block sizes `b` valid for input dimension `d` with `m` factors (docs/math.md §5.1), increasing. */
export function validButterflyBlockSizes(d: number, m: number): number[] {
  return divisors(d).filter((b) => b >= 2 && butterflyShapeProblem(d, b, m) == null);
}

/** The valid values nearest to `want` below and above it, as text. */
function nearest(values: number[], want: number): string {
  if (values.length === 0) return 'none';
  const below = values.filter((v) => v < want).pop();
  const above = values.find((v) => v > want);
  return [below, above].filter((v) => v != null).join(' or ');
}

/**
 * A drop-in `Dense` with butterfly orthogonal fine-tuning (BOFT). Computes
 * `y = act(((x · B) · K) ⊙ s + c)` with `B = M_{m−1} · … · M_0`, `M_i = P_i · BD_i · P_iᵀ`
 * and `BD_i` a block-diagonal matrix of `N` Cayley blocks of size `b` (docs/math.md §5). The input is
 * rotated factor by factor with reshapes, transposes and batched block matmuls: no `d × d`
 * matrix is built during training. The kernel is frozen; `boft_r` (`[m, N, b(b−1)/2]`) and
 * `boft_s` (`[units]`) train.
 */
export class ButterflyDense extends AdapterDense {
  static className = 'ButterflyDense';
  protected readonly optionKeys = Object.keys(BOFT_OPTIONS);
  protected readonly dropoutOption = 'boftDropout';
  /** Block size `b` as configured (0 when `boftBlockNum` was given). */
  readonly boftBlockSize: number;
  /** Number of blocks `N` as configured (0 when `boftBlockSize` was given). */
  readonly boftBlockNum: number;
  /** Number of butterfly factors `m`. */
  readonly boftNButterflyFactor: number;
  readonly useCayleyNeumann: boolean;
  readonly numCayleyNeumannTerms: number;
  readonly initWeights: boolean;
  /** Source of randomness for dropout (replaceable for reproducible runs). */
  random: () => number = Math.random;
  /** Blocks replaced by the identity in the last training call (null if none were). */
  lastDropout: ButterflyDropoutRecord | null = null;
  private readonly boftRegularizer?: Regularizer;
  private boftR!: LayerVariable;
  private boftS!: LayerVariable;
  private blockSize = 0;
  private numBlocks = 0;

  constructor(args: ButterflyDenseArgs) {
    super(args);
    const who = `${this.getClassName()} '${this.name}'`;
    const opts = checkAdapterArgs(who, args, BOFT_OPTIONS, this.hostArguments());
    const b = opts.boftBlockSize as number;
    const n = opts.boftBlockNum as number;
    const m = opts.boftNButterflyFactor as number;
    if ((b === 0) === (n === 0)) {
      throw new Error(`${who}: set exactly one of boftBlockSize and boftBlockNum to a positive value, got ` +
        `boftBlockSize=${b} and boftBlockNum=${n}. For example {boftBlockSize: 8} (N = d/8), or {boftBlockNum: 16}.`);
    }
    if (m > 1) this.checkFactorsWithoutD(b, n, m);
    this.boftBlockSize = b;
    this.boftBlockNum = n;
    this.boftNButterflyFactor = m;
    this.dropoutRate = opts.boftDropout as number;
    this.useCayleyNeumann = opts.useCayleyNeumann as boolean;
    this.numCayleyNeumannTerms = opts.numCayleyNeumannTerms as number;
    this.initWeights = opts.initWeights as boolean;
    this.boftRegularizer = resolveRegularizer(args.boftRegularizer);
    const shape = this.batchInputShape;
    if (shape != null && shape[shape.length - 1] != null) this.resolveBlocks(this.kernelShapeFor(shape).d);
  }

  /** Dropout rate in [0, 1); may be changed between batches (e.g. by a schedule callback). */
  get boftDropout(): number {
    return this.dropoutRate;
  }

  set boftDropout(rate: number) {
    this.dropoutRate = rate;
  }

  /** Block size `b` once built (or once the input dimension is known). */
  get blockSizeResolved(): number {
    return this.blockSize;
  }

  /** Number of blocks `N` per factor once built (or once the input dimension is known). */
  get blockNumResolved(): number {
    return this.numBlocks;
  }

  /** Trainable rotation parameters `boft_r` (`[m, N, b(b−1)/2]`). */
  get packedParameters(): LayerVariable {
    return this.boftR;
  }

  /** Trainable per-unit output scale `boft_s` (`[units]`). */
  get boftScale(): LayerVariable {
    return this.boftS;
  }

  /**
   * With `m > 1`, what can be checked before `d` is known: an odd `boftBlockSize`, or a
   * `boftBlockNum` that `2^(m−1)` does not divide, fails for every `d` (asked of the shared
   * rule on the smallest `d` the given number allows).
   */
  private checkFactorsWithoutD(b: number, n: number, m: number): void {
    const who = `${this.getClassName()} '${this.name}'`;
    const step = 2 ** (m - 1);
    if (b > 0 && butterflyShapeProblem(b * step, b, m) != null) {
      throw new Error(`${who}: boftNButterflyFactor=${m} needs an even boftBlockSize, got ${b}. ` +
        `Use boftBlockSize=${b - 1 >= 2 ? `${b - 1} or ` : ''}${b + 1}, or boftNButterflyFactor=1.`);
    }
    if (n > 0 && butterflyShapeProblem(2 * n, 2, m) != null) {
      const lower = Math.floor(n / step) * step;
      const choices = [lower, lower + step].filter((v) => v > 0).join(' or ');
      throw new Error(`${who}: boftNButterflyFactor=${m} needs boftBlockNum divisible by 2^${m - 1}=${step} ` +
        `(so N is even and m−1 ≤ log₂ N), got boftBlockNum=${n}. Use boftNButterflyFactor ≤ ` +
        `${maxButterflyFactors(2 * n, 2)}, or boftBlockNum=${choices}.`);
    }
  }

  /**
   * Checks the block configuration against input dimension `d` (docs/math.md §5.1) and resolves `b`
   * and `N`. Every failure names the layer, the clashing numbers and the nearest valid choices.
   */
  private resolveBlocks(d: number): void {
    const who = `${this.getClassName()} '${this.name}'`;
    const m = this.boftNButterflyFactor;
    const given = this.boftBlockSize > 0 ? `boftBlockSize=${this.boftBlockSize}` : `boftBlockNum=${this.boftBlockNum}`;
    const validB = validButterflyBlockSizes(d, m);
    const validN = validB.map((b) => d / b).reverse();
    const suggest = (): string => {
      const opt = this.boftBlockSize > 0
        ? `boftBlockSize=${nearest(validB, this.boftBlockSize)}`
        : `boftBlockNum=${nearest(validN, this.boftBlockNum)}`;
      return validB.length > 0 ? `Valid with boftNButterflyFactor=${m}: ${opt}.`
        : `No block size is valid for d=${d} with boftNButterflyFactor=${m}; use boftNButterflyFactor=1.`;
    };
    const b = this.boftBlockSize > 0 ? this.boftBlockSize : d / this.boftBlockNum;
    if (!Number.isInteger(b) || d % b !== 0) {
      throw new Error(`${who}: ${given} does not divide the input dimension ${d} (b · N must equal d). ${suggest()}`);
    }
    const n = d / b;
    if (b < 2) {
      throw new Error(`${who}: ${given} gives blocks of size ${b} for input dimension ${d}; a block of size 1 has ` +
        `no rotation. ${suggest()}`);
    }
    const problem = butterflyShapeProblem(d, b, m);
    if (problem != null) {
      throw new Error(`${who}: boftNButterflyFactor=${m} does not fit ${given} and d=${d} (b=${b}, N=${n}): ` +
        `${problem}. Use boftNButterflyFactor ≤ ${maxButterflyFactors(d, b)} with this block size` +
        `${validB.length > 0 ? `, or keep m=${m}: ${suggest()}` : `. ${suggest()}`}`);
    }
    this.blockSize = b;
    this.numBlocks = n;
  }

  protected buildAdapter(d: number): void {
    this.resolveBlocks(d);
    const m = this.boftNButterflyFactor;
    const rInit = this.initWeights ? initializers.zeros() : initializers.randomNormal({ mean: 0, stddev: 0.1 });
    const sInit = this.initWeights ? initializers.ones() : initializers.randomNormal({ mean: 1, stddev: 0.1 });
    this.boftR = this.addWeight('boft_r', [m, this.numBlocks, packedSize(this.blockSize)], 'float32', rInit,
      this.boftRegularizer, true);
    this.boftS = this.addWeight('boft_s', [this.units], 'float32', sInit, undefined, true);
  }

  /**
   * The block rotations of every factor, `[m · N, b, b]` (factor-major; no dropout):
   * rows `i·N … i·N + N − 1` are `R_{i,0} … R_{i,N−1}`.
   */
  blockRotations(): tf.Tensor3D {
    return tf.tidy(() => {
      const m = this.boftNButterflyFactor;
      const p = packedSize(this.blockSize);
      const v = tf.reshape(this.boftR.read(), [m * this.numBlocks, p]) as tf.Tensor2D;
      return cayleyFromPacked(v, this.blockSize, this.useCayleyNeumann ? this.numCayleyNeumannTerms : null);
    });
  }

  /** The dense butterfly rotation `B = M_{m−1} · … · M_0` (`d × d`; for inspection and merging). */
  denseRotation(): tf.Tensor2D {
    return tf.tidy(() => butterflyRotation(this.factorRotations(this.blockRotations())));
  }

  protected adaptedProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return rotatedProduct(x, this.callRotations(training), this.boftNButterflyFactor, kernel);
  }

  protected adaptInput(x: tf.Tensor, training: boolean): tf.Tensor {
    return applyButterfly(x, this.factorRotations(this.callRotations(training)));
  }

  /**
   * `B · K = (Kᵀ · Bᵀ)ᵀ` with `Bᵀ = M_0ᵀ · … · M_{m−1}ᵀ` and `M_iᵀ` factor `i` with its blocks
   * transposed: the same reshapes and batched matmuls as the input path, no dense `B`.
   */
  protected adaptKernel(kernel: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const rots = this.factorRotations(this.callRotations(training));
    let y = tf.transpose(kernel) as tf.Tensor2D;
    for (let i = 0; i < rots.length; i++) y = applyButterflyFactor(y, tf.transpose(rots[i], [0, 2, 1]), i);
    return tf.transpose(y) as tf.Tensor2D;
  }

  /**
   * The blocks of one call, `[m · N, b, b]` factor-major: dropout replaces some blocks of one
   * factor by `I` in training.
   */
  private callRotations(training: boolean): tf.Tensor3D {
    let rot = this.blockRotations();
    const m = this.boftNButterflyFactor;
    const n = this.numBlocks;
    const drop = Math.floor(this.boftDropout * n);
    if (training && drop > 0) {
      const factor = Math.min(m - 1, Math.floor(this.random() * m));
      const blocks = randomSubset(n, drop, this.random);
      this.lastDropout = { factor, blocks };
      rot = withIdentityBlocks(rot, blocks.map((j) => factor * n + j));
    } else if (training) {
      this.lastDropout = null;
    }
    return rot;
  }

  protected override outputScale(): tf.Tensor1D {
    return this.boftS.read() as tf.Tensor1D;
  }

  private factorRotations(rot: tf.Tensor3D): tf.Tensor3D[] {
    const n = this.numBlocks;
    const b = this.blockSize;
    const out: tf.Tensor3D[] = [];
    for (let i = 0; i < this.boftNButterflyFactor; i++) out.push(tf.slice(rot, [i * n, 0, 0], [n, b, b]));
    return out;
  }
}
