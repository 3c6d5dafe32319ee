// ProgressBar: a training callback that shows, per epoch, a terminal progress bar with the batch
// count, running loss/metrics and ETA (drawn by the `cli-progress` package), or one plain line
// per epoch when the output is not a terminal.
import * as tf from '@tensorflow/tfjs-core';
import { Callback } from '@tensorflow/tfjs-layers';
import type { UnresolvedLogs } from '@tensorflow/tfjs-layers/dist/logs';
import type { SingleBar } from 'cli-progress';
import { batchesPerEpoch } from './fit-params';

const CLI_PROGRESS: string = 'cli-progress';

/** A writable text stream (e.g. `process.stdout`); `isTTY` selects the bar. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Arguments of `ProgressBar`. */
export interface ProgressBarArgs {
  /** Where to write (default `process.stdout`). A bar when `stream.isTTY`, else one line per epoch. */
  stream?: ProgressStream;
  /** Log keys to show (default: every key `fit` reports, plus any added by other callbacks). */
  metrics?: string[];
  /** Width of the bar in characters (default 25). */
  barSize?: number;
  /** Shortest time between two reads of the running metrics, in ms (default 200). */
  refreshMs?: number;
}

const SKIP = new Set(['batch', 'size']);

/**
 * Prints training progress during `model.fit` / `fitDataset`, which plain `@tensorflow/tfjs`
 * in Node does silently. On a terminal: a bar per epoch
 * `Epoch 2/5 [=====-----] 12/32 | ETA 3s | loss 0.4123 · acc 0.8100` with running epoch means
 * of the batch losses/metrics, ending with the epoch's figures (validation included). When the
 * stream is not a terminal (a pipe, a log file, CI): one line per epoch, no control codes.
 * Metric values stay on the accelerator between refreshes (summed as tensors), so the bar
 * does not force a read-back every batch.
 *
 * ```ts
 * await model.fit(xs, ys, { epochs: 5, verbose: 0, callbacks: [new ProgressBar()] });
 * ```
 */
export class ProgressBar extends Callback {
  /** Width of the bar in characters. */
  readonly barSize: number;
  /** Shortest time between two reads of the running metrics, in ms. */
  readonly refreshMs: number;
  private readonly stream: ProgressStream;
  private readonly metricKeys?: string[];
  private bar: SingleBar | null = null;
  private sums = new Map<string, tf.Tensor | number>();
  private seen = 0;
  private batches = 0;
  private epochStart = 0;
  private lastRefresh = 0;
  private epochs = 0;

  constructor(args: ProgressBarArgs = {}) {
    super();
    const fallback = typeof process !== 'undefined' ? (process.stdout as unknown as ProgressStream) : undefined;
    const stream = args.stream ?? fallback;
    if (stream == null || typeof stream.write !== 'function') {
      throw new Error('ProgressBar: no output stream; pass {stream} with a write(text) method (e.g. process.stdout).');
    }
    this.stream = stream;
    this.metricKeys = args.metrics;
    this.barSize = args.barSize ?? 25;
    this.refreshMs = args.refreshMs ?? 200;
  }

  /** Whether the stream is a terminal (bar) or not (one line per epoch). */
  get interactive(): boolean {
    return this.stream.isTTY === true;
  }

  override async onTrainBegin(): Promise<void> {
    this.epochs = Number(this.params?.epochs) || 0;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.resetSums();
    this.batches = 0;
    this.epochStart = Date.now();
    this.lastRefresh = 0;
    if (!this.interactive) return;
    // A computed specifier: browser bundlers must not follow it into cli-progress, whose
    // Node built-ins (readline, events) break a browser build; only Node reaches this line.
    const mod = (await import(
      /* webpackIgnore: true */ /* @vite-ignore */ CLI_PROGRESS
    )) as typeof import('cli-progress');
    const cli = ((mod as unknown as { default?: typeof mod }).default ?? mod) as typeof mod;
    this.bar?.stop();
    this.bar = new cli.SingleBar({
      stream: this.stream as unknown as NodeJS.WritableStream,
      format: `Epoch ${epoch + 1}/${this.epochs} [{bar}] {value}/{total} | ETA {eta_formatted} | {metrics}`,
      barsize: this.barSize, barCompleteChar: '=', barIncompleteChar: '-', hideCursor: false,
      etaBuffer: 20, fps: 10,
    });
    this.bar.start(this.expectedBatches() ?? 0, 0, { metrics: '' });
    this.unrefTimer();
  }

  override async onBatchEnd(_batch: number, logs?: UnresolvedLogs): Promise<void> {
    this.batches++;
    this.accumulate(logs);
    if (this.bar == null) return;
    const total = this.expectedBatches();
    if (total == null || this.batches > total) this.bar.setTotal(this.batches);
    const now = Date.now();
    if (now - this.lastRefresh < this.refreshMs) {
      this.bar.update(this.batches);
      this.unrefTimer();
      return;
    }
    // fit does not yield to the event loop between batches, so cli-progress' own redraw timer
    // may never fire: draw explicitly at each refresh.
    this.lastRefresh = now;
    this.bar.update(this.batches, { metrics: formatMetrics(await this.means(), this.metricKeys) });
    this.bar.render();
    this.unrefTimer();
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    const values = { ...(await this.means()), ...(await readLogs(logs)) };
    this.resetSums();
    const text = formatMetrics(values, this.metricKeys);
    if (this.bar != null) {
      this.bar.setTotal(Math.max(this.batches, 1));
      this.bar.update(this.batches, { metrics: text });
      this.bar.stop();
      this.bar = null;
      return;
    }
    const seconds = ((Date.now() - this.epochStart) / 1000).toFixed(1);
    const total = this.expectedBatches() ?? this.batches;
    this.stream.write(`Epoch ${epoch + 1}/${this.epochs} · ${this.batches}/${total} batches · ${seconds}s` +
      `${text === '' ? '' : ` · ${text}`}\n`);
  }

  override async onTrainEnd(): Promise<void> {
    this.bar?.stop();
    this.bar = null;
    this.resetSums();
  }

  /**
   * cli-progress re-arms a redraw timer on every draw; if `fit` throws mid-epoch (no
   * onTrainEnd), a referenced timer would keep Node alive. Our own calls draw anyway.
   */
  private unrefTimer(): void {
    (this.bar as unknown as { timer?: { unref?: () => void } } | null)?.timer?.unref?.();
  }

  private expectedBatches(): number | undefined {
    const n = batchesPerEpoch(this.params);
    return Number.isNaN(n) ? undefined : n;
  }

  /** Adds `value × size` of every batch metric to the running sums (tensors stay tensors). */
  private accumulate(logs?: UnresolvedLogs): void {
    if (logs == null) return;
    const size = typeof logs.size === 'number' ? logs.size : 1;
    this.seen += size;
    for (const key of Object.keys(logs)) {
      if (SKIP.has(key)) continue;
      const value = logs[key];
      const prev = this.sums.get(key) ?? 0;
      if (typeof value === 'number' && typeof prev === 'number') {
        this.sums.set(key, prev + value * size);
      } else {
        const next = tf.tidy(() => tf.add(prev, tf.mul(value as tf.Tensor, size)));
        if (typeof prev !== 'number') prev.dispose();
        this.sums.set(key, next);
      }
    }
  }

  /** Running epoch means of the batch metrics. */
  private async means(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [key, sum] of this.sums) {
      const total = typeof sum === 'number' ? sum : (await sum.data())[0];
      out[key] = this.seen > 0 ? total / this.seen : NaN;
    }
    return out;
  }

  private resetSums(): void {
    for (const sum of this.sums.values()) if (typeof sum !== 'number') sum.dispose();
    this.sums.clear();
    this.seen = 0;
  }
}

/** Numbers of a logs object, reading (not disposing) scalar tensors. */
async function readLogs(logs?: UnresolvedLogs): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (logs == null) return out;
  for (const key of Object.keys(logs)) {
    if (SKIP.has(key)) continue;
    const value = logs[key];
    out[key] = typeof value === 'number' ? value : (await value.data())[0];
  }
  return out;
}

/** `key value · key value …` with 4 decimals (exponent form for very small or large values). */
function formatMetrics(values: Record<string, number>, keys?: string[]): string {
  return (keys ?? Object.keys(values))
    .filter((k) => values[k] !== undefined)
    .map((k) => `${k} ${formatNumber(values[k])}`)
    .join(' · ');
}

function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (!Number.isFinite(v)) return String(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}
