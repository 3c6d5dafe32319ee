// ModuleDropoutSchedule: a training callback that sets the module dropout rate of every adapter
// layer (OrthogonalDense.moduleDropout, ButterflyDense.boftDropout), constant or scheduled.
import { Callback } from '@tensorflow/tfjs-layers';
import type { UnresolvedLogs } from '@tensorflow/tfjs-layers/dist/logs';
import type { AdapterDense } from '../layers/adapter-dense';
import { checkInteger, checkRate } from '../helpers';
import { findAdapterLayers } from '../surgery/find-adapters';
import { batchesPerEpoch } from './fit-params';

/** Shape of the schedule after the warm-up. */
export type DropoutScheduleKind = 'constant' | 'linear' | 'cosine';

/** Arguments of `ModuleDropoutSchedule`. */
export interface ModuleDropoutScheduleArgs {
  /** Rate after the warm-up (the peak), in [0, 1). */
  rate: number;
  /**
   * `'constant'` (default): `rate` after the warm-up. `'linear'` / `'cosine'`: from `rate` to
   * `finalRate` over the steps left after the warm-up.
   */
  schedule?: DropoutScheduleKind;
  /** Rate at the end of a linear or cosine schedule, in [0, 1) (default 0). */
  finalRate?: number;
  /** Warm-up steps (default 0): the rate rises linearly from 0 at step 0 to `rate` at step `warmupSteps`. */
  warmupSteps?: number;
  /** What a step is: `'batch'` (default) or `'epoch'`. */
  unit?: 'batch' | 'epoch';
  /**
   * Total steps T of the schedule. Default: from `fit` — `epochs`, or `epochs × batches per
   * epoch`. Needed with `fitDataset` when the dataset size is unknown.
   */
  totalSteps?: number;
  /** Log key of the current rate (default `'module_dropout'`). */
  logKey?: string;
  /** Put back each layer's own rate when training ends (default `true`). */
  restoreOnTrainEnd?: boolean;
  /** The adapter layers to drive (default: every adapter of the model, nested models included). */
  layers?: AdapterDense[];
}

/**
 * Drives module dropout during `model.fit`: before every batch (or epoch) it sets
 * `moduleDropout` of each `OrthogonalDense` and `boftDropout` of each `ButterflyDense` to the
 * scheduled rate, which that very batch then uses, and reports the rate in the logs
 * (`module_dropout`: in batch logs the rate of that batch, in epoch logs the rate of the
 * epoch's last batch).
 *
 * Rate at step `t` (0-based) with warm-up `W`, total `T`, peak `p`, final `f`:
 * `t < W`: `p · t / W`; then with `u = min(1, (t − W) / max(1, T − W))`:
 * constant `p`; linear `p + (f − p) · u`; cosine `f + (p − f) · (1 + cos(π u)) / 2`.
 *
 * ```ts
 * await model.fit(xs, ys, { epochs: 5, callbacks: [
 *   new ModuleDropoutSchedule({ rate: 0.25, schedule: 'cosine', warmupSteps: 100 })] });
 * ```
 */
export class ModuleDropoutSchedule extends Callback {
  /** Peak rate (after the warm-up). */
  readonly rate: number;
  /** Shape after the warm-up. */
  readonly schedule: DropoutScheduleKind;
  /** Rate at the end of a linear or cosine schedule. */
  readonly finalRate: number;
  /** Steps of the linear warm-up from 0. */
  readonly warmupSteps: number;
  /** What a step is. */
  readonly unit: 'batch' | 'epoch';
  /** Log key of the current rate. */
  readonly logKey: string;
  /** Whether each layer's own rate is put back when training ends. */
  readonly restoreOnTrainEnd: boolean;
  /** The rate set most recently (NaN before training starts). */
  currentRate = NaN;
  private readonly totalStepsArg?: number;
  private readonly explicitLayers?: AdapterDense[];
  private adapters: AdapterDense[] = [];
  private saved: number[] = [];
  private total = NaN;
  private step = 0;

  constructor(args: ModuleDropoutScheduleArgs) {
    super();
    const who = 'ModuleDropoutSchedule';
    checkRate(who, 'rate', args?.rate, 'Use e.g. 0.1.');
    this.rate = args.rate;
    this.schedule = args.schedule ?? 'constant';
    if (!['constant', 'linear', 'cosine'].includes(this.schedule)) {
      throw new Error(`${who}: schedule must be 'constant', 'linear' or 'cosine', got '${String(args.schedule)}'.`);
    }
    this.finalRate = args.finalRate ?? 0;
    checkRate(who, 'finalRate', this.finalRate, 'Use e.g. 0.1.');
    this.warmupSteps = args.warmupSteps ?? 0;
    checkInteger(who, 'warmupSteps', this.warmupSteps, 0);
    this.unit = args.unit ?? 'batch';
    if (this.unit !== 'batch' && this.unit !== 'epoch') {
      throw new Error(`${who}: unit must be 'batch' or 'epoch', got '${String(args.unit)}'.`);
    }
    if (args.totalSteps != null) checkInteger(who, 'totalSteps', args.totalSteps, 1);
    this.totalStepsArg = args.totalSteps;
    this.logKey = args.logKey ?? 'module_dropout';
    this.restoreOnTrainEnd = args.restoreOnTrainEnd ?? true;
    this.explicitLayers = args.layers;
  }

  /** The scheduled rate at step `t` of `totalSteps` (the formula in the class comment). */
  rateAt(t: number, totalSteps: number = this.total): number {
    if (t < this.warmupSteps) return (this.rate * t) / this.warmupSteps;
    if (this.schedule === 'constant') return this.rate;
    const span = Math.max(1, totalSteps - this.warmupSteps);
    const u = Math.min(1, (t - this.warmupSteps) / span);
    if (this.schedule === 'linear') return this.rate + (this.finalRate - this.rate) * u;
    return this.finalRate + ((this.rate - this.finalRate) * (1 + Math.cos(Math.PI * u))) / 2;
  }

  override async onTrainBegin(): Promise<void> {
    this.adapters = this.explicitLayers ?? findAdapterLayers(this.model);
    this.saved = this.adapters.map((layer) => layer.dropoutRate);
    if (this.adapters.length === 0) {
      console.warn(`ModuleDropoutSchedule: model '${this.model.name}' has no adapter layers (OrthogonalDense, ` +
        'ButterflyDense); the schedule does nothing. Apply applyOft/applyBoft first.');
    }
    const epochs = Number(this.params?.epochs);
    const initialEpoch = Number(this.params?.initialEpoch ?? 0) || 0;
    const perEpoch = batchesPerEpoch(this.params);
    if (this.unit === 'epoch') {
      this.total = this.totalStepsArg ?? epochs;
      this.step = initialEpoch;
    } else {
      this.total = this.totalStepsArg ?? epochs * perEpoch;
      this.step = Number.isFinite(perEpoch) ? initialEpoch * perEpoch : 0;
    }
    if (this.schedule !== 'constant' && !(this.total >= 1)) {
      throw new Error(`ModuleDropoutSchedule: cannot tell the total number of ${this.unit}es of this training ` +
        `(epochs=${String(this.params?.epochs)}, batches per epoch unknown); pass totalSteps.`);
    }
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    if (this.unit === 'epoch') {
      this.step = epoch;
      this.apply(this.rateAt(epoch));
    }
  }

  override async onBatchBegin(_batch: number, logs?: UnresolvedLogs): Promise<void> {
    if (this.unit === 'batch') this.apply(this.rateAt(this.step));
    if (logs != null) logs[this.logKey] = this.currentRate;
  }

  override async onBatchEnd(): Promise<void> {
    if (this.unit === 'batch') this.step++;
  }

  override async onEpochEnd(_epoch: number, logs?: UnresolvedLogs): Promise<void> {
    if (logs != null && Number.isFinite(this.currentRate)) logs[this.logKey] = this.currentRate;
  }

  override async onTrainEnd(): Promise<void> {
    if (this.restoreOnTrainEnd) this.adapters.forEach((layer, i) => { layer.dropoutRate = this.saved[i]; });
  }

  private apply(rate: number): void {
    const r = Math.min(Math.max(rate, 0), 1 - 1e-9);
    this.currentRate = r;
    for (const layer of this.adapters) layer.dropoutRate = r;
  }
}
