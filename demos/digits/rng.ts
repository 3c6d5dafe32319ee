// Seeded randomness for the digits demo: one small PRNG (mulberry32) for shuffles and splits,
// and a scoped replacement of Math.random so that everything tfjs draws without an explicit
// seed (model.fit's shuffle, dropout masks, unseeded initializers) repeats from run to run.

/** A deterministic generator of floats in [0, 1) from a 32-bit seed (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of `items` in place with the generator `rand`; returns `items`. */
export function shuffleInPlace<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * Runs `fn` with `Math.random` replaced by a generator seeded with `seed`, and restores the
 * original afterwards (also when `fn` throws). tfjs draws the seeds of unseeded random ops and
 * model.fit's batch shuffle from Math.random, so this makes a whole training run repeatable.
 */
export async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
