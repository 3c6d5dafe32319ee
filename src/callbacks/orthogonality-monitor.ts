// OrthogonalityMonitor: a training callback that measures how orthogonal the adapters' rotations
// are, logs the figures, warns before Cayley–Neumann layers leave their range and can stop
// training past a threshold.
import { Callback } from '@tensorflow/tfjs-layers';
import type { UnresolvedLogs } from '@tensorflow/tfjs-layers/dist/logs';
import type { AdapterDense } from '../layers/adapter-dense';
import { checkInteger, checkPositive } from '../helpers';
import { findAdapterLayers } from '../surgery/find-adapters';
import { orthogonalityReport, OrthogonalityReport } from './orthogonality-report';

/** Arguments of `OrthogonalityMonitor`. */
export interface OrthogonalityMonitorArgs {
  /**
   * Also measure every `everyBatches` batches (counted across epochs) and add the figures to
   * that batch's logs. Default 0: measure at the end of each epoch only (always done).
   */
  everyBatches?: number;
  /**
   * Warn (once per layer) when a Cayley–Neumann layer has a block with `‖Q‖_F` at or above
   * this value (default 0.8): the series is a rotation only while `‖Q‖ < 1`.
   */
  neumannWarnAt?: number;
  /** Stop training (`model.stopTraining = true`) when the largest `|RᵀR − I|` exceeds this. */
  stopAtError?: number;
  /** Stop training when the largest block `‖Q‖_F` exceeds this. */
  stopAtQNorm?: number;
  /** Where warnings go (default `console.warn`). */
  log?: (message: string) => void;
  /** The adapter layers to watch (default: every adapter of the model, nested models included). */
  layers?: AdapterDense[];
}

/**
 * Measures, during `model.fit`, the largest orthogonality error `max |RᵀR − I|` over all block
 * rotations of all adapter layers and the largest block `‖Q_j‖_F`, and adds them to the logs
 * as `orthogonality_error` and `max_q_norm` (each epoch; optionally every K batches too).
 * Exact-Cayley blocks stay orthogonal to rounding; Cayley–Neumann blocks drift as `‖Q‖` grows,
 * so the monitor warns once per layer when such a layer reaches `neumannWarnAt` and can stop
 * training when a figure passes `stopAtError` / `stopAtQNorm` (a non-finite figure always
 * stops it).
 *
 * ```ts
 * await model.fit(xs, ys, { epochs: 10, callbacks: [
 *   new OrthogonalityMonitor({ everyBatches: 50, stopAtError: 1e-2 }),
 *   tf.callbacks.earlyStopping({ monitor: 'val_loss' })] });
 * ```
 */
export class OrthogonalityMonitor extends Callback {
  /** Log key of the largest `|RᵀR − I|` entry. */
  static readonly ERROR_KEY = 'orthogonality_error';
  /** Log key of the largest block `‖Q‖_F`. */
  static readonly Q_NORM_KEY = 'max_q_norm';
  /** Measure every this many batches as well (0: epoch ends only). */
  readonly everyBatches: number;
  /** ‖Q‖_F at which a Cayley–Neumann layer is warned about. */
  readonly neumannWarnAt: number;
  /** Largest tolerated `|RᵀR − I|` entry (Infinity: never stop on it). */
  readonly stopAtError: number;
  /** Largest tolerated block ‖Q‖_F (Infinity: never stop on it). */
  readonly stopAtQNorm: number;
  /** The latest measurement (null before the first). */
  lastReport: OrthogonalityReport | null = null;
  /** Why training was stopped by this monitor (null if it was not). */
  stopReason: string | null = null;
  private readonly log: (message: string) => void;
  private readonly explicitLayers?: AdapterDense[];
  private adapters: AdapterDense[] = [];
  private readonly warned = new Set<string>();
  private step = 0;
  private epoch = 0;

  constructor(args: OrthogonalityMonitorArgs = {}) {
    super();
    const who = 'OrthogonalityMonitor';
    this.everyBatches = args.everyBatches ?? 0;
    checkInteger(who, 'everyBatches', this.everyBatches, 0, 'Use 0 to measure at epoch ends only, or e.g. 100.');
    this.neumannWarnAt = args.neumannWarnAt ?? 0.8;
    this.stopAtError = args.stopAtError ?? Infinity;
    this.stopAtQNorm = args.stopAtQNorm ?? Infinity;
    for (const key of ['neumannWarnAt', 'stopAtError', 'stopAtQNorm'] as const)
      checkPositive(who, key, this[key], '', true);
    this.log = args.log ?? ((m) => console.warn(m));
    this.explicitLayers = args.layers;
  }

  override async onTrainBegin(): Promise<void> {
    this.adapters = this.explicitLayers ?? findAdapterLayers(this.model);
    this.step = 0;
    this.stopReason = null;
    if (this.adapters.length === 0) {
      this.once('no adapters', `OrthogonalityMonitor: model '${this.model.name}' has no adapter layers ` +
        '(OrthogonalDense, ButterflyDense); nothing to monitor. Apply applyOft/applyBoft first.');
    }
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: UnresolvedLogs): Promise<void> {
    this.step++;
    if (this.everyBatches > 0 && this.step % this.everyBatches === 0) {
      await this.measure(logs, `epoch ${this.epoch + 1}, batch ${batch + 1}`);
    }
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    await this.measure(logs, `end of epoch ${epoch + 1}`);
  }

  private async measure(logs: UnresolvedLogs | undefined, when: string): Promise<void> {
    if (this.adapters.length === 0) return;
    const report = await orthogonalityReport(this.adapters);
    this.lastReport = report;
    if (logs != null) {
      logs[OrthogonalityMonitor.ERROR_KEY] = report.orthogonalityError;
      logs[OrthogonalityMonitor.Q_NORM_KEY] = report.maxQNorm;
    }
    for (const f of report.layers) {
      if (f.cayleyNeumann && !(f.maxQNorm < this.neumannWarnAt)) {
        this.once(
          `neumann:${f.layer}`,
          `OrthogonalityMonitor: layer '${f.layer}' (Cayley–Neumann) has a block with ` +
            `‖Q‖_F = ${f.maxQNorm.toPrecision(4)} ≥ ${this.neumannWarnAt} at ${when}; its rotations stop being ` +
            `orthogonal as ‖Q‖ nears 1 (‖RᵀR − I‖ = ${f.orthogonalityError.toExponential(2)}). Lower the learning ` +
              `rate, ` +
            'add an OrthogonalityRegularizer, use coft: true, or use exact Cayley (useCayleyNeumann: false).',
        );
      }
    }
    const worst = (key: 'orthogonalityError' | 'maxQNorm') =>
      report.layers.reduce((a, f) => (!(f[key] <= a[key]) ? f : a)).layer;
    let reason: string | null = null;
    if (!(report.orthogonalityError <= this.stopAtError)) {
      reason = `largest ‖RᵀR − I‖ = ${report.orthogonalityError.toExponential(3)} exceeds stopAtError = ` +
        `${this.stopAtError} (layer '${worst('orthogonalityError')}')`;
    } else if (!(report.maxQNorm <= this.stopAtQNorm)) {
      reason = `largest block ‖Q‖_F = ${report.maxQNorm.toPrecision(4)} exceeds stopAtQNorm = ` +
        `${this.stopAtQNorm} (layer '${worst('maxQNorm')}')`;
    }
    if (reason != null && this.model != null) {
      this.stopReason = `${reason} at ${when}`;
      this.model.stopTraining = true;
      this.log(`OrthogonalityMonitor: stopping training: ${this.stopReason}. Lower the learning rate, add an ` +
        'OrthogonalityRegularizer, or use exact Cayley (useCayleyNeumann: false).');
    }
  }

  private once(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(message);
  }
}
