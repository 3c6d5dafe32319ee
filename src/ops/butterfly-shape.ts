// Which (d, b, m) a butterfly rotation exists for (docs/math.md §5.1), in one place: the
// permutations, the ButterflyDense validation and its suggestions all ask here.

/**
 * Why `m` butterfly factors of blocks of size `b` cannot rotate dimension `d`, or null when
 * they can: `b` must divide `d`, and for `m > 1` the block size must be even and the block
 * count `N = d/b` divisible by `2^(m−1)` (which also gives `N` even, `m − 1 ≤ log₂ N` and
 * `d` divisible by `b · 2^(m−1)`).
 */
export function butterflyShapeProblem(d: number, b: number, m: number): string | null {
  if (d % b !== 0) return `b=${b} does not divide d=${d}`;
  if (m === 1) return null;
  const n = d / b;
  if (b % 2 !== 0) return `${m} butterfly factors need an even block size, got b=${b}`;
  if (n % 2 ** (m - 1) !== 0) {
    return `${m} butterfly factors need a block count N divisible by 2^${m - 1}=${2 ** (m - 1)}, got N=${n}`;
  }
  return null;
}

/** Largest `m` for which `d` and `b` form a butterfly (1 when `b` is odd or does not divide `d`). */
export function maxButterflyFactors(d: number, b: number): number {
  if (d % b !== 0 || b % 2 !== 0) return 1;
  let n = d / b;
  let m = 1;
  while (n % 2 === 0) {
    n /= 2;
    m++;
  }
  return m;
}
