// What a training callback can read from the `params` that `fit` / `fitDataset` give it.

/** Batches per epoch: `steps` when `fit` gives it, else `ceil(samples / batchSize)`; NaN when unknown. */
export function batchesPerEpoch(params: unknown): number {
  const p = (params ?? {}) as Record<string, unknown>;
  if (typeof p.steps === 'number' && p.steps > 0) return p.steps;
  const samples = Number(p.samples);
  const batchSize = Number(p.batchSize);
  return samples > 0 && batchSize > 0 ? Math.ceil(samples / batchSize) : NaN;
}
