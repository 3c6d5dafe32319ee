// Block arithmetic shared by the adapter layers: divisors of the input dimension and random
// block subsets for dropout. (Option checks live in adapter-options.ts, warnOnce in ../helpers.ts.)

/** Divisors of `d` in increasing order. */
export function divisors(d: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= d; i++) if (d % i === 0) out.push(i);
  return out;
}

/** The divisor of `d` nearest to `want` (ties go to the smaller; `want ≥ d` gives `d`). */
export function nearestDivisor(d: number, want: number): number {
  if (want >= d) return d;
  let best = 1;
  for (const q of divisors(d)) {
    if (Math.abs(q - want) < Math.abs(best - want)) best = q;
  }
  return best;
}

/** Picks `count` distinct indices of `0 … n−1` uniformly at random. */
export function randomSubset(n: number, count: number, random: () => number = Math.random): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, count);
}
