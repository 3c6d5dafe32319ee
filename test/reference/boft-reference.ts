// BOFT (docs/math.md §5) in float64, straight from the text: explicit permutation matrices P_i, dense
// block-diagonal BD_i of exact (or Neumann) Cayley blocks, M_i = P_i · BD_i · P_iᵀ and
// B = M_{m−1} · … · M_0. Nothing here uses the code under test.
import { blockDiag, cayley, cayleyNeumann, eye, Mat, mat, matmul, set, skew, transpose } from './dense-math';

/**
 * perm_i as docs/math.md §5 words it: cut 0 … d−1 into segments of L = b·2^i, each segment into
 * 2^(i+1) chunks of b/2 indices, lay the chunks out as 0, 2, 4, …, 1, 3, 5, ….
 */
export function referencePermutation(d: number, b: number, i: number): number[] {
  if (i === 0) return Array.from({ length: d }, (_, k) => k);
  const segmentLength = b * 2 ** i;
  const chunkLength = b / 2;
  const out: number[] = [];
  for (let start = 0; start < d; start += segmentLength) {
    const chunks: number[][] = [];
    for (let c = start; c < start + segmentLength; c += chunkLength) {
      chunks.push(Array.from({ length: chunkLength }, (_, t) => c + t));
    }
    const evens = chunks.filter((_, c) => c % 2 === 0);
    const odds = chunks.filter((_, c) => c % 2 === 1);
    for (const chunk of [...evens, ...odds]) out.push(...chunk);
  }
  return out;
}

/** P[k, perm[k]] = 1. */
export function permutationMatrix(perm: number[]): Mat {
  const p = mat(perm.length, perm.length);
  perm.forEach((v, k) => set(p, k, v, 1));
  return p;
}

export interface BoftReferenceConfig {
  d: number;
  /** Block size b (N = d / b). */
  b: number;
  /** Number of factors m. */
  m: number;
  /** Packed parameters [m, N, b(b−1)/2] flattened row-major. */
  v: ArrayLike<number>;
  /** null: exact Cayley; a number: Neumann with that many terms. */
  neumannTerms?: number | null;
  /** Blocks replaced by I: factor → block indices (to model dropout). */
  identityBlocks?: { factor: number; blocks: number[] } | null;
}

/** The factors M_0 … M_{m−1}, each d × d. */
export function referenceFactors(cfg: BoftReferenceConfig): Mat[] {
  const n = cfg.d / cfg.b;
  const p = (cfg.b * (cfg.b - 1)) / 2;
  const factors: Mat[] = [];
  for (let i = 0; i < cfg.m; i++) {
    const blocks: Mat[] = [];
    for (let j = 0; j < n; j++) {
      const dropped =
        cfg.identityBlocks != null && cfg.identityBlocks.factor === i && cfg.identityBlocks.blocks.includes(j);
      const offset = (i * n + j) * p;
      const q = skew(Array.from(cfg.v).slice(offset, offset + p), cfg.b);
      blocks.push(dropped ? eye(cfg.b) : cfg.neumannTerms == null ? cayley(q) : cayleyNeumann(q, cfg.neumannTerms));
    }
    const pm = permutationMatrix(referencePermutation(cfg.d, cfg.b, i));
    factors.push(matmul(matmul(pm, blockDiag(blocks)), transpose(pm)));
  }
  return factors;
}

/** B = M_{m−1} · … · M_1 · M_0. */
export function referenceRotation(cfg: BoftReferenceConfig): Mat {
  const factors = referenceFactors(cfg);
  let rot = factors[0];
  for (let i = 1; i < factors.length; i++) rot = matmul(factors[i], rot);
  return rot;
}

/** Merged kernel K' = B · K · diag(s). */
export function referenceMergedKernel(rot: Mat, kernel: Mat, s: ArrayLike<number>): Mat {
  const out = matmul(rot, kernel);
  for (let r = 0; r < out.rows; r++) for (let c = 0; c < out.cols; c++) out.data[r * out.cols + c] *= s[c];
  return out;
}

/** y = act(((x · B) · K) ⊙ s + c) for rows x: [rows, d]. */
export function referenceForward(x: Mat, kernel: Mat, s: ArrayLike<number>, bias: ArrayLike<number> | null,
                                 rot: Mat, act: (z: number) => number = (z) => z): Mat {
  const y = matmul(matmul(x, rot), kernel);
  for (let r = 0; r < y.rows; r++) {
    for (let c = 0; c < y.cols; c++) {
      y.data[r * y.cols + c] = act(y.data[r * y.cols + c] * s[c] + (bias ? bias[c] : 0));
    }
  }
  return y;
}
