// ButterflyDense: BOFT (SPEC §4). A frozen Dense whose input is first rotated by a product of
// m butterfly factors, each a permuted block-diagonal orthogonal matrix of Cayley blocks, and
// whose outputs are scaled per unit by a learned `boft_s`.
import * as tf from '@tensorflow/tfjs-core';
import { initializers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { Regularizer, RegularizerIdentifier } from '@tensorflow/tfjs-layers/dist/regularizers';
import { applyButterfly, butterflyRotation } from '../ops/butterfly';
import { withIdentityBlocks } from '../ops/block-rotation';
import { cayleyExact, cayleyNeumann } from '../ops/cayley';
import { packedSize, skewFromPacked } from '../ops/skew';
import { AdapterDense, AdapterDenseArgs } from './adapter-dense';
import { resolveRegularizer, serializeRegularizer } from './dense-args';
import { BOFT_OPTIONS, checkAdapterArgs, checkOption } from './adapter-options';
import { divisors, randomSubset } from './validate';

/** Arguments of `ButterflyDense`: those of `tf.layers.dense` plus the BOFT options. */
export interface ButterflyDenseArgs extends AdapterDenseArgs {
  /**
   * Size `b` of each orthogonal block. Exactly one of `boftBlockSize` and `boftBlockNum` must
   * be non-zero; `b · N` must equal the input dimension. Never adjusted silently.
   */
  boftBlockSize?: number;
  /** Number of blocks `N` per butterfly factor (alternative to `boftBlockSize`; default 0). */
  boftBlockNum?: number;
  /**
   * Number of butterfly factors `m ≥ 1` (default 1: block-diagonal OFT). `m > 1` needs `b`
   * and `N` even and `N` divisible by `2^(m−1)`; `m = log₂(N) + 1` gives a dense rotation.
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

/** Which blocks the last training call replaced by the identity (for inspection and tests). */
export interface ButterflyDropoutRecord {
  /** Factor index `i` (0 … m−1). */
  factor: number;
  /** Block indices `j` of that factor, `floor(p · N)` of them. */
  blocks: number[];
}

/** Block sizes `b` valid for input dimension `d` with `m` factors (SPEC §4), increasing. */
export function validButterflyBlockSizes(d: number, m: number): number[] {
  return divisors(d).filter((b) => b >= 2 && isValidButterfly(d, b, m));
}

function isValidButterfly(d: number, b: number, m: number): boolean {
  if (b < 2 || d % b !== 0) return false;
  if (m === 1) return true;
  const n = d / b;
  return b % 2 === 0 && n % 2 === 0 && m - 1 <= Math.floor(Math.log2(n)) && n % 2 ** (m - 1) === 0 &&
    d % (b * 2 ** (m - 1)) === 0;
}

/** Largest `m` valid for `d` and `b` (1 when `b` or `N` is odd). */
function maxFactors(d: number, b: number): number {
  if (d % b !== 0 || b % 2 !== 0) return 1;
  let n = d / b;
  let m = 1;
  while (n % 2 === 0) { n /= 2; m++; }
  return m;
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
 * and `BD_i` a block-diagonal matrix of `N` Cayley blocks of size `b` (SPEC §4). The input is
 * rotated factor by factor with reshapes, transposes and batched block matmuls: no `d × d`
 * matrix is built during training. The kernel is frozen; `boft_r` (`[m, N, b(b−1)/2]`) and
 * `boft_s` (`[units]`) train.
 */
export class ButterflyDense extends AdapterDense {
  static className = 'ButterflyDense';
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
  private dropout: number;
  private boftS!: LayerVariable;
  private blockSize = 0;
  private numBlocks = 0;

  constructor(args: ButterflyDenseArgs) {
    super(args);
    const who = `ButterflyDense '${this.name}'`;
    const opts = checkAdapterArgs(who, args, BOFT_OPTIONS);
    const b = opts.boftBlockSize as number;
    const n = opts.boftBlockNum as number;
    const m = opts.boftNButterflyFactor as number;
    if ((b === 0) === (n === 0)) {
      throw new Error(`${who}: set exactly one of boftBlockSize and boftBlockNum to a positive value, got ` +
        `boftBlockSize=${b} and boftBlockNum=${n}. For example {boftBlockSize: 8} (N = d/8), or {boftBlockNum: 16}.`);
    }
    if (m > 1) {
      if (b % 2 !== 0) {
        throw new Error(`${who}: boftNButterflyFactor=${m} needs an even boftBlockSize, got ${b}. ` +
          `Use boftBlockSize=${b - 1 >= 2 ? `${b - 1} or ` : ''}${b + 1}, or boftNButterflyFactor=1.`);
      }
      if (n % 2 !== 0) {
        throw new Error(`${who}: boftNButterflyFactor=${m} needs an even boftBlockNum, got ${n}. ` +
          `Use boftBlockNum=${n - 1 >= 2 ? `${n - 1} or ` : ''}${n + 1}, or boftNButterflyFactor=1.`);
      }
      if (n > 0 && (m - 1 > Math.floor(Math.log2(n)) || n % 2 ** (m - 1) !== 0)) {
        let mMax = 1;
        while (n % 2 ** mMax === 0) mMax++;
        const lower = Math.floor(n / 2 ** (m - 1)) * 2 ** (m - 1);
        const choices = [lower, lower + 2 ** (m - 1)].filter((v) => v > 0).join(' or ');
        throw new Error(`${who}: boftNButterflyFactor=${m} needs boftBlockNum divisible by 2^${m - 1}=${2 ** (m - 1)} ` +
          `(so m−1 ≤ log₂ N), got boftBlockNum=${n}. Use boftNButterflyFactor ≤ ${mMax}, or boftBlockNum=${choices}.`);
      }
    }
    this.boftBlockSize = b;
    this.boftBlockNum = n;
    this.boftNButterflyFactor = m;
    this.dropout = opts.boftDropout as number;
    this.useCayleyNeumann = opts.useCayleyNeumann as boolean;
    this.numCayleyNeumannTerms = opts.numCayleyNeumannTerms as number;
    this.initWeights = opts.initWeights as boolean;
    this.boftRegularizer = resolveRegularizer(args.boftRegularizer);
    const shape = this.batchInputShape;
    const d = shape != null ? shape[shape.length - 1] : null;
    if (d != null) this.resolveBlocks(d);
  }

  /** Dropout rate in [0, 1); may be changed between batches (e.g. by a schedule callback). */
  get boftDropout(): number {
    return this.dropout;
  }

  set boftDropout(rate: number) {
    checkOption(`ButterflyDense '${this.name}'`, 'boftDropout', BOFT_OPTIONS.boftDropout, rate);
    this.dropout = rate;
  }

  /** Block size `b` once built (or once the input dimension is known). */
  get blockSizeResolved(): number {
    return this.blockSize;
  }

  /** Number of blocks `N` per factor once built (or once the input dimension is known). */
  get blockNumResolved(): number {
    return this.numBlocks;
  }

  get dropoutRate(): number {
    return this.boftDropout;
  }

  set dropoutRate(rate: number) {
    this.boftDropout = rate;
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
   * Checks the block configuration against input dimension `d` (SPEC §4) and resolves `b`
   * and `N`. Every failure names the layer, the clashing numbers and the nearest valid choices.
   */
  private resolveBlocks(d: number): void {
    const who = `ButterflyDense '${this.name}'`;
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
    if (this.boftBlockSize > 0 ? d % this.boftBlockSize !== 0 : d % this.boftBlockNum !== 0) {
      throw new Error(`${who}: ${given} does not divide the input dimension ${d} (b · N must equal d). ${suggest()}`);
    }
    const n = d / b;
    if (b < 2) {
      throw new Error(`${who}: ${given} gives blocks of size ${b} for input dimension ${d}; a block of size 1 has no rotation. ${suggest()}`);
    }
    if (m > 1) {
      const factorsNote = `(${given}, d=${d}: b=${b}, N=${n})`;
      if (b % 2 !== 0 || n % 2 !== 0) {
        throw new Error(`${who}: boftNButterflyFactor=${m} needs b and N even ${factorsNote}. ${suggest()}`);
      }
      if (m - 1 > Math.floor(Math.log2(n)) || n % 2 ** (m - 1) !== 0 || d % (b * 2 ** (m - 1)) !== 0) {
        throw new Error(`${who}: boftNButterflyFactor=${m} needs m−1 ≤ floor(log₂ N), N divisible by 2^${m - 1}=${2 ** (m - 1)} ` +
          `and d divisible by b·2^${m - 1}=${b * 2 ** (m - 1)} ${factorsNote}. Use boftNButterflyFactor ≤ ${maxFactors(d, b)}, ` +
          `or: ${suggest()}`);
      }
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
      const q = skewFromPacked(v, this.blockSize);
      return this.useCayleyNeumann ? cayleyNeumann(q, this.numCayleyNeumannTerms) : cayleyExact(q);
    });
  }

  /** The dense butterfly rotation `B = M_{m−1} · … · M_0` (`d × d`; for inspection and merging). */
  denseRotation(): tf.Tensor2D {
    return tf.tidy(() => butterflyRotation(this.factorRotations(this.blockRotations())));
  }

  protected adaptInput(x: tf.Tensor, training: boolean): tf.Tensor {
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
    return applyButterfly(x, this.factorRotations(rot));
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

  protected adapterConfig(): Record<string, unknown> {
    return {
      boftBlockSize: this.boftBlockSize, boftBlockNum: this.boftBlockNum,
      boftNButterflyFactor: this.boftNButterflyFactor, boftDropout: this.boftDropout,
      useCayleyNeumann: this.useCayleyNeumann, numCayleyNeumannTerms: this.numCayleyNeumannTerms,
      initWeights: this.initWeights, boftRegularizer: serializeRegularizer(this.boftRegularizer),
    };
  }
}

tf.serialization.registerClass(ButterflyDense);
