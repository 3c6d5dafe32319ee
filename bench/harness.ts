// Shared timing for the benchmarks: every candidate is timed in the same run, interleaved,
// and reported as a ratio to a baseline (absolute times on these machines are noise).
import * as tf from '@tensorflow/tfjs';

/** One candidate: `step()` runs one full training step and returns nothing to keep. */
export interface BenchCase {
  name: string;
  step: () => void | Promise<void>;
  dispose?: () => void;
}

export interface BenchResult {
  name: string;
  medianMs: number;
  /** Largest `tf.memory().numBytes` seen during one step, over the bytes held before it. */
  peakExtraBytes: number;
  /** Kernels one step runs (`tf.profile(...).kernels.length`): launches matter on native/GPU backends. */
  kernels?: number;
  /** The time of each timed round (the rounds of all cases interleave), when there were several. */
  roundMs?: number[];
}

/**
 * `a`'s time over `b`'s: the median of the ratios round by round where both were timed in the same
 * rounds (load from other processes then cancels out of each ratio), else the ratio of medians.
 */
export function timeRatio(a: BenchResult, b: BenchResult): number {
  if (a.roundMs != null && b.roundMs != null && a.roundMs.length === b.roundMs.length) {
    return median(a.roundMs.map((t, i) => t / (b.roundMs as number[])[i]));
  }
  return a.medianMs / b.medianMs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Peak extra bytes and kernel count of one step, from the profiler (it samples memory after every kernel). */
export async function profileStep(c: BenchCase): Promise<{ peakExtraBytes: number; kernels: number }> {
  const before = tf.memory().numBytes;
  const info = await tf.profile(async () => { await c.step(); });
  return { peakExtraBytes: Math.max(0, info.peakBytes - before), kernels: info.kernels.length };
}

/** Times `repeats` rounds of every case (round-robin, after `warmup` rounds). */
export async function runCases(cases: BenchCase[], repeats = 7, warmup = 2): Promise<BenchResult[]> {
  for (let w = 0; w < warmup; w++) for (const c of cases) await c.step();
  const times = cases.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++) {
    for (const [k, c] of cases.entries()) {
      const t0 = performance.now();
      await c.step();
      times[k].push(performance.now() - t0);
    }
  }
  const out: BenchResult[] = [];
  for (const [k, c] of cases.entries()) {
    out.push({ name: c.name, medianMs: median(times[k]), roundMs: times[k], ...await profileStep(c) });
  }
  return out;
}

/** Prints results as a table with ratios to the named baselines (`timeRatio`). */
export function printTable(title: string, results: BenchResult[], baselines: string[]): void {
  const byName = new Map(results.map((r) => [r.name, r]));
  console.log(`\n${title}`);
  const header = ['case', 'median ms', 'peak MB', 'kernels', ...baselines.map((b) => `÷ ${b}`)];
  const rows = results.map((r) => [r.name, r.medianMs.toFixed(1), (r.peakExtraBytes / 2 ** 20).toFixed(1),
    `${r.kernels ?? '?'}`,
    ...baselines.map((b) => {
      const base = byName.get(b);
      return (base == null ? NaN : timeRatio(r, base)).toFixed(2) + '×';
    })]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const row of rows) console.log(line(row));
}

/** The value after `--name` on the command line, or `fallback` when the flag is absent. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback;
}

/** Synchronously waits for a tensor's data so that a step's time includes its computation. */
export function settle(t: tf.Tensor | tf.Tensor[]): void {
  for (const x of Array.isArray(t) ? t : [t]) x.dataSync();
}

/**
 * One training step as a layer inside a network takes it: loss = mean(y²) of `forward` on a
 * fixed random input of shape `inputShape`, gradients to the input and to `params`, an Adam
 * update of `params` (none when empty, or with `update` false: then the step waits for their
 * gradients instead).
 */
export function trainingStep<R extends tf.Rank = tf.Rank.R2>(name: string, inputShape: number[],
  forward: (x: tf.Tensor<R>) => tf.Tensor, params: tf.Variable[], update = true): BenchCase {
  const x = tf.variable(tf.randomNormal(inputShape as never), true) as tf.Variable<R>; // differentiated, never updated
  const optimizer = tf.train.adam(1e-3);
  return {
    name,
    step: () => {
      tf.tidy(() => {
        const loss = () => tf.mean(tf.square(forward(x))) as tf.Scalar;
        const { grads } = tf.variableGrads(loss, [x, ...params]);
        if (update && params.length > 0) {
          optimizer.applyGradients(params.map((p) => ({ name: p.name, tensor: grads[p.name] })));
        }
        settle(grads[x.name]);
        for (const p of params) settle(update ? p : grads[p.name]);
      });
    },
    dispose: () => { x.dispose(); optimizer.dispose(); },
  };
}

