// The SFT demo as a function: pretrain a small character GPT on Brown text (cached), fine-tune
// fresh copies on a string-editing task with full fine-tuning, LoRA, OFT and BOFT at three
// learning rates each, measure what each learned (exact-match answers on held-out words) and
// forgot (perplexity on held-out Brown text), check that the merged OFT model generates the same
// tokens, and write the report. main.ts is its command line; test/sft-demo.spec.ts runs --quick.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfjsOft from '../../src/index';
import { applyLora } from '../digits/lora';
import { withSeededMathRandom } from '../digits/rng';
import { disposeModel, peakStepBytes, selectBackend } from '../digits/pipeline';
import {
  brownWindows,
  disposeSet,
  makeSftExamples,
  SequenceSet,
  SftExample,
  sftTensors,
  splitBrownFiles,
  windowTensors,
} from './data';
import { exactMatch, greedyComplete, perplexity } from './evaluate';
import { buildGpt, DEFAULT_GPT, GptConfig } from './gpt';
import { maskedCrossEntropy } from './masked-loss';
import { markdownReport, svgFrontier } from './report';

/** The fine-tuning methods compared, in table order. */
export const SFT_METHODS = ['full', 'lora', 'oft', 'boft'] as const;
export type SftMethod = (typeof SFT_METHODS)[number];

export const SFT_METHOD_LABELS: Record<SftMethod, string> = {
  full: 'Full fine-tuning',
  lora: 'LoRA',
  oft: 'OFT all-linear (Cayley–Neumann)',
  boft: 'BOFT all-linear',
};

/** Settings of a run, fixed before measuring. */
export interface SftSettings {
  gpt: GptConfig;
  /** Pretraining: windows of this many tokens, `windowsPerFile` from each training file. */
  pretrainTokens: number;
  windowsPerFile: number;
  /** How many of the 450 training files pretraining reads (spread evenly over the genres). */
  pretrainFiles: number;
  pretrainEpochs: number;
  pretrainLearningRate: number;
  /** Held-out Brown windows per held-out file (perplexity). */
  heldOutWindowsPerFile: number;
  sftTrainExamples: number;
  sftTestExamples: number;
  /** Tokens of an SFT sequence (prompt + answer + padding). */
  sftTokens: number;
  epochs: number;
  batchSize: number;
  /** Adam learning rates tried per method. */
  learningRates: Record<SftMethod, number[]>;
  /** applyOft's oftBlockSize (PEFT's guide: 32; adjusted per layer to a divisor of its width). */
  oftBlockSize: number;
  boftBlockSize: number;
  boftNButterflyFactor: number;
  seed: number;
}

export const FULL_SETTINGS: SftSettings = {
  gpt: DEFAULT_GPT,
  pretrainTokens: 64,
  windowsPerFile: 8,
  pretrainFiles: 450,
  pretrainEpochs: 4,
  pretrainLearningRate: 2e-3,
  heldOutWindowsPerFile: 4,
  sftTrainExamples: 960,
  sftTestExamples: 200,
  sftTokens: 48,
  epochs: 3,
  batchSize: 32,
  learningRates: {
    full: [3e-4, 1e-3, 3e-3],
    lora: [1e-3, 3e-3, 1e-2],
    oft: [1e-3, 3e-3, 1e-2],
    boft: [1e-3, 3e-3, 1e-2],
  },
  oftBlockSize: 32,
  boftBlockSize: 4,
  boftNButterflyFactor: 2,
  seed: 2024,
};

/** --quick: a tiny model and data slice, one learning rate per method; for tests. */
export const QUICK_SETTINGS: SftSettings = {
  ...FULL_SETTINGS,
  gpt: { hiddenSize: 24, numLayers: 1, numHeads: 2, maxLength: 64, seed: 5 },
  pretrainTokens: 32,
  windowsPerFile: 1,
  pretrainFiles: 300,
  pretrainEpochs: 1,
  pretrainLearningRate: 1e-2,
  heldOutWindowsPerFile: 1,
  sftTrainExamples: 64,
  sftTestExamples: 8,
  epochs: 3,
  batchSize: 16,
  learningRates: { full: [3e-3], lora: [1e-2], oft: [1e-2], boft: [1e-2] },
};

/** Options of {@link runSft}. */
export interface SftOptions {
  /** 'tensorflow' (tfjs-node), 'wasm' or 'cpu'; default the first that loads, in that order. */
  backend?: string;
  quick?: boolean;
  /** Overrides of the settings (tests). */
  settings?: Partial<SftSettings>;
  methods?: SftMethod[];
  outDir?: string;
  /** Default `.cache/sft-demo` under the repository root. */
  cacheDir?: string;
  /** Held-out prompts whose completions are printed before and after. */
  shownPrompts?: number;
  quiet?: boolean;
  log?: (line: string) => void;
}

/** One fine-tuning run (a method at a learning rate). */
export interface SftRun {
  method: SftMethod;
  learningRate: number;
  setup: string;
  trainableParams: number;
  totalParams: number;
  /** Exact-match accuracy of greedy answers to the held-out prompts (learned). */
  accuracy: number;
  /**
   * Mean cross-entropy (nats) of the answer tokens of the held-out prompts, teacher-forced: learning that exact
   * match does not see yet.
   */
  answerLoss: number;
  /** Perplexity on held-out Brown text after fine-tuning (forgot, against the base model's). */
  perplexity: number;
  secondsPerEpoch: number;
  /** Peak tensor bytes of two training steps above what was in memory before. */
  peakBytes: number;
  /** Masked (answer-token) training loss of every batch. */
  batchLoss: number[];
  /** Mean masked training loss of each epoch. */
  epochLoss: number[];
  /** Completions of the shown prompts. */
  shown: string[];
  /** OFT only: whether the merged (plain Dense) model's greedy completions of every held-out prompt are identical. */
  merged: null | { sameTokens: boolean; identical: number; of: number; layerClasses: string[] };
}

export interface SftResult {
  backend: string;
  quick: boolean;
  settings: SftSettings;
  pretrain: { seconds: number; cached: boolean; cachePath: string; finalLoss: number };
  base: { accuracy: number; answerLoss: number; perplexity: number; shown: string[] };
  shownPrompts: SftExample[];
  runs: SftRun[];
  totalSeconds: number;
  cpuSeconds: number;
  files?: { markdown: string; json: string; svg: string };
}

type Log = (line: string) => void;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const countParams = (ws: tf.LayerVariable[]) =>
  ws.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
const lossFn = maskedCrossEntropy as unknown as (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

function compile(model: tf.LayersModel, learningRate: number): void {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: lossFn });
}

/** The cache folder of the model pretrained with these settings on this backend. */
export function pretrainCacheDir(s: SftSettings, backend: string, cacheDir: string): string {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        v: 1,
        gpt: s.gpt,
        t: s.pretrainTokens,
        w: s.windowsPerFile,
        f: s.pretrainFiles,
        e: s.pretrainEpochs,
        lr: s.pretrainLearningRate,
        b: s.batchSize,
        seed: s.seed,
        backend,
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `gpt-${key}`);
}

/** Pretrains on Brown windows, or loads the cached result of an identical earlier run. */
async function pretrained(
  s: SftSettings,
  backend: string,
  cacheDir: string,
  quiet: boolean,
  log: Log,
): Promise<SftResult['pretrain']> {
  const dir = pretrainCacheDir(s, backend, cacheDir);
  const metaPath = join(dir, 'pretrain.json');
  if (existsSync(metaPath) && existsSync(join(dir, 'model.json'))) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { seconds: number; finalLoss: number };
    log(`pretrained GPT loaded from the cache ${dir} (pretraining took ${meta.seconds.toFixed(1)} s when it ran)`);
    return { seconds: meta.seconds, finalLoss: meta.finalLoss, cached: true, cachePath: dir };
  }
  const files = splitBrownFiles().train;
  const stride = files.length / Math.min(files.length, s.pretrainFiles);
  const chosen = files.filter((_, i) => Math.floor(i / stride) !== Math.floor((i - 1) / stride));
  const windows = brownWindows(chosen, s.pretrainTokens, s.windowsPerFile);
  log(
    `pretraining the GPT on ${windows.length} Brown windows of ${s.pretrainTokens} characters, ` +
      `${s.pretrainEpochs} epochs; ` +
      `cached in ${dir}`,
  );
  const set = windowTensors(windows);
  const t0 = performance.now();
  let finalLoss = NaN;
  try {
    const model = await withSeededMathRandom(s.seed, async () => {
      const m = buildGpt(s.gpt);
      compile(m, s.pretrainLearningRate);
      const h = await m.fit(set.xs, set.ys, {
        epochs: s.pretrainEpochs,
        batchSize: s.batchSize,
        shuffle: true,
        verbose: 0,
        callbacks: quiet ? [] : [new tfjsOft.ProgressBar({ stream: process.stderr })],
      });
      finalLoss = h.history.loss[h.history.loss.length - 1] as number;
      return m;
    });
    const seconds = (performance.now() - t0) / 1000;
    mkdirSync(dir, { recursive: true });
    await model.save(`file://${dir}`);
    writeFileSync(metaPath, JSON.stringify({ seconds, finalLoss, backend, date: new Date().toISOString() }, null, 2));
    disposeModel(model);
    return { seconds, finalLoss, cached: false, cachePath: dir };
  } finally {
    disposeSet(set);
  }
}

const isLinear = (model: tf.LayersModel) => {
  const outputs = new Set(model.outputLayers.map((l) => l.name));
  return (name: string) => model.getLayer(name).getClassName() === 'Dense' && !outputs.has(name);
};

/** The model a method trains, made from a fresh copy of the pretrained model. */
async function prepare(
  method: SftMethod,
  base: tf.LayersModel,
  s: SftSettings,
  loraRank: number,
): Promise<{ model: tf.LayersModel; setup: string }> {
  switch (method) {
    case 'full':
      return { model: base, setup: 'every weight trains' };
    case 'lora': {
      const model = await applyLora(base, { rank: loraRank, targets: isLinear(base), seed: s.seed });
      base.dispose();
      return {
        model,
        setup: `rank ${loraRank}, α = ${2 * loraRank}, every Dense but lm_head (adapter size closest to OFT's)`,
      };
    }
    case 'oft': {
      const model = tfjsOft.applyOft(base, {
        targetModules: 'all-linear',
        oftBlockSize: s.oftBlockSize,
        useCayleyNeumann: true,
        bias: 'none',
      });
      base.dispose();
      return {
        model,
        setup:
          `applyOft: targetModules 'all-linear', oftBlockSize ${s.oftBlockSize} (adjusted per layer), ` +
          'useCayleyNeumann, bias none',
      };
    }
    case 'boft': {
      const model = tfjsOft.applyBoft(base, {
        targetModules: 'all-linear',
        boftBlockSize: s.boftBlockSize,
        boftNButterflyFactor: s.boftNButterflyFactor,
        useCayleyNeumann: true,
        bias: 'none',
      });
      base.dispose();
      return {
        model,
        setup:
          `applyBoft: targetModules 'all-linear', boftBlockSize ${s.boftBlockSize}, ` +
          `${s.boftNButterflyFactor} butterfly factors, useCayleyNeumann, bias none`,
      };
    }
  }
}

/** Resolved settings of `opts`. */
export function sftSettings(opts: SftOptions = {}): SftSettings {
  return { ...(opts.quick ? QUICK_SETTINGS : FULL_SETTINGS), ...opts.settings };
}

/** Runs the whole demo and writes its report (when `outDir` is given). */
export async function runSft(opts: SftOptions = {}): Promise<SftResult> {
  const tStart = performance.now();
  const cpuStart = process.cpuUsage();
  const quiet = opts.quiet ?? false;
  const log: Log = quiet ? () => {} : (opts.log ?? ((l: string) => console.log(l)));
  const s = sftSettings(opts);
  const methods = opts.methods ?? [...SFT_METHODS];
  for (const m of methods)
    if (!SFT_METHODS.includes(m)) throw new Error(`runSft: unknown method '${m}'; known: ${SFT_METHODS.join(', ')}`);
  const backend = await selectBackend(opts.backend);
  log(`tfjs backend: ${backend}`);
  const cacheDir = resolve(opts.cacheDir ?? join(REPO_ROOT, '.cache', 'sft-demo'));
  const pre = await pretrained(s, backend, cacheDir, quiet, log);
  const fresh = () => tf.loadLayersModel(`file://${join(pre.cachePath, 'model.json')}`);

  const { train, test } = makeSftExamples(s.sftTrainExamples, s.sftTestExamples, s.seed);
  const shownPrompts = test.slice(0, opts.shownPrompts ?? 4);
  const sets: SequenceSet[] = [];
  try {
    const trainSet = sftTensors(train, s.sftTokens);
    sets.push(trainSet);
    const testSet = sftTensors(test, s.sftTokens);
    sets.push(testSet);
    const heldOut = windowTensors(brownWindows(splitBrownFiles().heldOut, s.pretrainTokens, s.heldOutWindowsPerFile));
    sets.push(heldOut);
    const maxNew = Math.max(...test.map((e) => e.answer.length)) + 2;
    const measure = async (model: tf.LayersModel) => {
      const completions = await greedyComplete(
        model,
        test.map((e) => e.prompt),
        s.sftTokens,
        maxNew,
      );
      return {
        completions,
        accuracy: exactMatch(test, completions),
        answerLoss: Math.log(await perplexity(model, testSet)),
        perplexity: await perplexity(model, heldOut),
      };
    };

    const baseModel = await fresh();
    const b = await measure(baseModel);
    const base = {
      accuracy: b.accuracy,
      answerLoss: b.answerLoss,
      perplexity: b.perplexity,
      shown: b.completions.slice(0, shownPrompts.length),
    };
    log(
      `base model: held-out Brown perplexity ${base.perplexity.toFixed(2)}, ` +
        `exact-match answers ${(base.accuracy * 100).toFixed(1)}%, ` +
        `held-out answer loss ${base.answerLoss.toFixed(3)}`,
    );
    // LoRA rank: the one whose adapter size is closest to OFT's (both on every Dense but lm_head).
    const oftProbe = tfjsOft.applyOft(baseModel, {
      targetModules: 'all-linear',
      oftBlockSize: s.oftBlockSize,
      useCayleyNeumann: true,
    });
    const oftSize = tfjsOft.trainableParameters(oftProbe).trainable;
    const perRank = baseModel.layers
      .filter((l) => isLinear(baseModel)(l.name))
      .reduce((sum, l) => sum + (l.getWeights()[0].shape as number[]).reduce((a, c) => a + c, 0), 0);
    const loraRank = Math.max(1, Math.round(oftSize / perRank));
    oftProbe.dispose();
    baseModel.dispose();

    const runs: SftRun[] = [];
    for (const method of methods) {
      for (const [li, learningRate] of s.learningRates[method].entries()) {
        const run = await withSeededMathRandom(s.seed + 1 + 10 * SFT_METHODS.indexOf(method) + li, async () => {
          const peakBytes = await (async () => {
            const before = tf.memory().numBytes;
            const { model } = await prepare(method, await fresh(), s, loraRank);
            compile(model, learningRate);
            const xb = tf.slice(trainSet.xs, [0, 0], [s.batchSize, -1]);
            const yb = tf.slice(trainSet.ys, [0, 0, 0], [s.batchSize, -1, -1]);
            return peakStepBytes(model, xb, yb, before);
          })();
          const { model, setup } = await prepare(method, await fresh(), s, loraRank);
          compile(model, learningRate);
          const trainableParams = countParams(model.trainableWeights),
            totalParams = countParams(model.weights);
          log(
            `fine-tuning: ${SFT_METHOD_LABELS[method]}, lr ${learningRate} ` +
              `(${trainableParams.toLocaleString('en-US')} trainable)`,
          );
          const batchLoss: number[] = [],
            epochSeconds: number[] = [],
            epochLoss: number[] = [];
          let epochStart = 0;
          const record = new tf.CustomCallback({
            onEpochBegin: async () => {
              epochStart = performance.now();
            },
            onBatchEnd: async (_i, logs) => {
              batchLoss.push(logs?.loss ?? NaN);
            },
            onEpochEnd: async (_e, logs) => {
              epochSeconds.push((performance.now() - epochStart) / 1000);
              epochLoss.push(logs?.loss ?? NaN);
            },
          });
          const callbacks: unknown[] = [record];
          if (!quiet) callbacks.push(new tfjsOft.ProgressBar({ stream: process.stderr }));
          await model.fit(trainSet.xs, trainSet.ys, {
            epochs: s.epochs,
            batchSize: s.batchSize,
            shuffle: true,
            verbose: 0,
            callbacks: callbacks as tf.CustomCallback[],
          });
          const after = await measure(model);
          let merged: SftRun['merged'] = null;
          if (method === 'oft') {
            const plain = tfjsOft.mergeAndUnload(model);
            const again = await greedyComplete(
              plain,
              test.map((e) => e.prompt),
              s.sftTokens,
              maxNew,
            );
            const identical = again.filter((c, i) => c === after.completions[i]).length;
            merged = {
              sameTokens: identical === test.length,
              identical,
              of: test.length,
              layerClasses: [...new Set(plain.layers.map((l) => l.getClassName()))].sort(),
            };
            plain.dispose();
          }
          disposeModel(model);
          return {
            method,
            learningRate,
            setup,
            trainableParams,
            totalParams,
            accuracy: after.accuracy,
            answerLoss: after.answerLoss,
            perplexity: after.perplexity,
            secondsPerEpoch: epochSeconds.reduce((a, c) => a + c, 0) / epochSeconds.length,
            peakBytes,
            batchLoss,
            epochLoss,
            shown: after.completions.slice(0, shownPrompts.length),
            merged,
          } satisfies SftRun;
        });
        runs.push(run);
        log(
          `  exact match ${(run.accuracy * 100).toFixed(1)}%, answer loss ${run.answerLoss.toFixed(3)}, ` +
            `held-out perplexity ${run.perplexity.toFixed(2)} ` +
            `(base ${base.perplexity.toFixed(2)}), ${run.secondsPerEpoch.toFixed(2)} s/epoch` +
            (run.merged ? `; merged model: ${run.merged.identical}/${run.merged.of} completions identical` : ''),
        );
      }
    }
    const cpu = process.cpuUsage(cpuStart);
    const result: SftResult = {
      backend,
      quick: opts.quick ?? false,
      settings: s,
      pretrain: pre,
      base,
      shownPrompts,
      runs,
      totalSeconds: (performance.now() - tStart) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    if (opts.outDir != null) result.files = writeReport(result, resolve(opts.outDir));
    return result;
  } finally {
    sets.forEach(disposeSet);
  }
}

function writeReport(r: SftResult, outDir: string): NonNullable<SftResult['files']> {
  mkdirSync(outDir, { recursive: true });
  const files = {
    markdown: join(outDir, 'results.md'),
    json: join(outDir, 'results.json'),
    svg: join(outDir, 'chart.svg'),
  };
  writeFileSync(files.markdown, markdownReport(r));
  writeFileSync(files.json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(files.svg, svgFrontier(r));
  return files;
}
