// OFT forward of docs/math.md §1 and §4 in float64, with the dense rotation built explicitly.
import { add, blockDiag, cayley, cayleyNeumann, Mat, mat, matmul, skew } from './dense-math';

export interface OftReferenceConfig {
  /** Block size b. */
  b: number;
  /** Number of blocks r (b · r = d). */
  r: number;
  /** Packed parameters, [stored blocks, b(b−1)/2] flattened row-major. */
  v: ArrayLike<number>;
  blockShare: boolean;
  neumannTerms: number | null;
}

/** The dense d × d rotation R = blockdiag(R_1 … R_r). */
export function oftRotation(cfg: OftReferenceConfig): Mat {
  const p = (cfg.b * (cfg.b - 1)) / 2;
  const blocks: Mat[] = [];
  for (let j = 0; j < cfg.r; j++) {
    const s = cfg.blockShare ? 0 : j;
    const q = skew(Array.from(cfg.v).slice(s * p, (s + 1) * p), cfg.b);
    blocks.push(cfg.neumannTerms == null ? cayley(q) : cayleyNeumann(q, cfg.neumannTerms));
  }
  return blockDiag(blocks);
}

/** y = act((x · R) · K + c) for rows x: [rows, d]; activation given as a scalar function. */
export function oftForward(x: Mat, kernel: Mat, bias: ArrayLike<number> | null, rot: Mat,
                           act: (z: number) => number = (z) => z): Mat {
  const y = matmul(matmul(x, rot), kernel);
  for (let i = 0; i < y.rows; i++) {
    for (let j = 0; j < y.cols; j++) {
      const z = y.data[i * y.cols + j] + (bias ? bias[j] : 0);
      y.data[i * y.cols + j] = act(z);
    }
  }
  return y;
}

/** Merged kernel K' = R · K. */
export function oftMergedKernel(rot: Mat, kernel: Mat): Mat {
  return matmul(rot, kernel);
}

export { add, mat };
