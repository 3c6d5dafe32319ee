// What the digits demo measures: its options, the result types and the one figure derived from
// them (task-A accuracy at equal task-B learning). The pipeline produces these; the report, the
// multi-seed summary and the browser demo read them.
import type { SplitSizes } from './data';
import type { VitConfig } from './vit';

/** The fine-tuning methods compared, in table order. */
export const METHODS = ['full', 'head', 'lora', 'oft', 'boft'] as const;
export type Method = (typeof METHODS)[number];

/** Human-readable name of each method. */
export const METHOD_LABELS: Record<Method, string> = {
  full: 'Full fine-tuning',
  head: 'Head only',
  lora: 'LoRA',
  oft: 'OFT (Cayley–Neumann)',
  boft: 'BOFT',
};

/** The six DINOv2 linear layers PEFT's BOFT example targets. */
export const DINOV2_TARGETS = ['query', 'value', 'key', 'output.dense', 'mlp.fc1', 'mlp.fc2'];

/** Options of {@link runDemo}; every field has a default. */
export interface DemoOptions {
  /** tfjs backend ('cpu', 'wasm' or 'tensorflow'); default: the fastest that initialises (tensorflow, wasm, cpu). */
  backend?: string;
  /** Fine-tuning epochs per method (the shared budget). Default 5. */
  epochs?: number;
  /** Pretraining epochs on task A. Default 15. */
  pretrainEpochs?: number;
  /** Output folder of the merged model and of the report main.ts writes. Default `demo-output`. */
  outDir?: string;
  /** Folder of the pretrained-model cache. Default `.cache/digits-demo` under the repo root. */
  cacheDir?: string;
  /** Sizes of the four splits. */
  split?: SplitSizes;
  /** Size of the ViT. */
  vit?: VitConfig;
  batchSize?: number;
  /** Adam learning rate of pretraining. Default 2e-3. */
  pretrainLearningRate?: number;
  /** Adam learning rate of every fine-tuning method (one value for all). Default 1e-3. */
  learningRate?: number;
  /** OFT block size. Default 8 (the model is 32 wide). */
  oftBlockSize?: number;
  /** Seed of the data split, the shuffles and every initializer. */
  seed?: number;
  /** Methods to run (default all, in table order). */
  methods?: Method[];
  /** No progress bars and no log lines. */
  quiet?: boolean;
  /** Where log lines go (default console.log). */
  log?: (line: string) => void;
}

/** What one fine-tuning method achieved. */
export interface MethodResult {
  method: Method;
  label: string;
  /** What it trains and how (for the table's footnotes). */
  setup: string;
  trainableParams: number;
  totalParams: number;
  /** Task-B test accuracy after fine-tuning (what it learned). */
  accB: number;
  /** Task-A test accuracy after fine-tuning (what it kept). */
  accA: number;
  /** accA(pretrained) − accA(after): what it forgot. */
  forgetting: number;
  /**
   * Task-A accuracy at the moment task-B accuracy first reached {@link DemoResult.matchedAccB}
   * (linear interpolation between epochs); null when it never did. Compares forgetting at equal
   * learning, which the end-of-budget figure does not (a method that learns less forgets less).
   */
  accAAtMatchedB: number | null;
  /** Mean wall-clock seconds per fine-tuning epoch. */
  secondsPerEpoch: number;
  /** Peak tensor memory of a training step above the data already in memory, in bytes. */
  peakBytes: number;
  /** Training loss of every batch. */
  batchLoss: number[];
  /** Test accuracies after each epoch (index 0 = before fine-tuning). */
  accAByEpoch: number[];
  accBByEpoch: number[];
}

/** Everything the demo measured. */
export interface DemoResult {
  backend: string;
  options: Required<Omit<DemoOptions, 'log' | 'quiet' | 'methods' | 'backend'>> & { methods: Method[] };
  pretrain: { accA: number; accB: number; seconds: number; cached: boolean; cachePath: string };
  methods: MethodResult[];
  /**
   * The task-B accuracy at which accAAtMatchedB is read: the lowest final task-B accuracy of the
   * methods other than head-only.
   */
  matchedAccB: number;
  merge: null | {
    method: Method;
    /** max |merged − unmerged| over the task-B test predictions. */
    maxAbsDiff: number;
    /** maxAbsDiff / max |unmerged|. */
    relDiff: number;
    /** Whether predicted classes agree everywhere. */
    sameArgmax: boolean;
    /** max |reloaded merged − merged| after a file:// save and load. */
    reloadMaxAbsDiff: number;
    layerClassesAfter: string[];
    savedTo: string;
  };
  /** Wall-clock seconds of the whole run. */
  totalSeconds: number;
  /** CPU seconds (user + system) this process used during the run: the wall time on an idle machine, roughly. */
  cpuSeconds: number;
}

/** Task-A accuracy when task-B accuracy first reached `level`, interpolated linearly between epochs. */
export function accAWhenBReached(r: Pick<MethodResult, 'accAByEpoch' | 'accBByEpoch'>, level: number): number | null {
  const a = r.accAByEpoch, b = r.accBByEpoch;
  if (!Number.isFinite(level)) return null;
  if (b[0] >= level) return a[0];
  for (let i = 1; i < b.length; i++) {
    if (b[i] >= level) {
      const t = (level - b[i - 1]) / (b[i] - b[i - 1]);
      return a[i - 1] + t * (a[i] - a[i - 1]);
    }
  }
  return null;
}
