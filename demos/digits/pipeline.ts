// The digits demo as a function: pretrain a small ViT on task A (cached), fine-tune a fresh copy
// on task B with each method, measure what it learned and what it forgot, write the report, and
// merge the best orthogonal adapter. main.ts is its command line; test/demo.spec.ts runs it on a
// tiny slice.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../../scripts/tfjs-backend';
import * as tfjsOft from '../../src/index';
import { DEFAULT_SPLIT, disposeTasks, makeTasks, TensorSplit } from './data';
import { accuracy } from './evaluate';
import { applyLora } from './lora';
import { FINE_TUNE_DEFAULTS, oftConfig } from './oft-setup';
import {
  accAWhenBReached, DemoOptions, DemoResult, DINOV2_TARGETS, Method, METHOD_LABELS, MethodResult, METHODS,
} from './results';
import { withSeededMathRandom } from './rng';
import { buildVit, DEFAULT_VIT } from './vit';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Initialises the requested backend, or the fastest one available: tensorflow (tfjs-node, when it
 * loads), then wasm, then cpu.
 */
export async function selectBackend(requested?: string): Promise<string> {
  if (requested != null) return useBackend(requested);
  // One pretraining epoch of this ViT, measured on 2 busy CPU cores: ~5 s on tensorflow, ~16 s on wasm,
  // ~160 s on cpu.
  for (const fastest of ['tensorflow', 'wasm']) {
    try {
      return await useBackend(fastest);
    } catch {
      // not available here: try the next
    }
  }
  return useBackend('cpu');
}

/**
 * Peak tensor bytes of two training steps of `model` on one batch, above `before` (the bytes in memory
 * before the model was made). Disposes the batch and the model: it is a separate copy made to be measured.
 */
export async function peakStepBytes(model: tf.LayersModel, xb: tf.Tensor, yb: tf.Tensor, before: number)
  : Promise<number> {
  const prof = await tf.profile(async () => {
    await model.trainOnBatch(xb, yb);
    await model.trainOnBatch(xb, yb);
  });
  tf.dispose([xb, yb]);
  disposeModel(model);
  return prof.peakBytes - before;
}

function countParams(weights: tf.LayerVariable[]): number {
  return weights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

type Log = (line: string) => void;

/** Pretrains on task A, or loads the cached result of an identical earlier run. */
export async function pretrained(o: DemoResult['options'], backend: string, aTrain: TensorSplit, aTest: TensorSplit,
  bTest: TensorSplit, quiet: boolean, log: Log): Promise<DemoResult['pretrain']> {
  const key = cacheKey({ v: 1, vit: o.vit, split: o.split, seed: o.seed, epochs: o.pretrainEpochs,
    lr: o.pretrainLearningRate, batch: o.batchSize, backend });
  const dir = join(o.cacheDir, `vit-${key}`);
  const metaPath = join(dir, 'pretrain.json');
  if (existsSync(metaPath) && existsSync(join(dir, 'model.json'))) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { seconds: number };
    const model = await tf.loadLayersModel(`file://${join(dir, 'model.json')}`);
    const accA = await accuracy(model, aTest), accB = await accuracy(model, bTest);
    model.dispose();
    log(`pretrained ViT loaded from the cache ${dir} (pretraining took ${meta.seconds.toFixed(1)} s when it ran)`);
    return { accA, accB, seconds: meta.seconds, cached: true, cachePath: dir };
  }
  log(
    `pretraining the ViT on task A (${aTrain.labels.length} digits, ${o.pretrainEpochs} epochs); ` +
      `cached in ${dir} for later runs`,
  );
  const t0 = performance.now();
  const model = await withSeededMathRandom(o.seed, async () => {
    const m = buildVit(o.vit);
    m.compile({ optimizer: tf.train.adam(o.pretrainLearningRate), loss: 'categoricalCrossentropy' });
    await m.fit(aTrain.xs, aTrain.ys, {
      epochs: o.pretrainEpochs, batchSize: o.batchSize, shuffle: true, verbose: 0,
      callbacks: quiet ? [] : [new tfjsOft.ProgressBar({ stream: process.stderr })],
    });
    return m;
  });
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(dir, { recursive: true });
  await model.save(`file://${dir}`);
  const accA = await accuracy(model, aTest), accB = await accuracy(model, bTest);
  writeFileSync(metaPath, JSON.stringify({ seconds, accA, accB, backend, date: new Date().toISOString() }, null, 2));
  model.optimizer?.dispose();
  model.dispose();
  return { accA, accB, seconds, cached: false, cachePath: dir };
}

/** Dense layers the 'all-linear' selector means: every Dense except the output layer. */
function allLinearNames(model: tf.LayersModel): string[] {
  const outputs = new Set(model.outputLayers.map((l) => l.name));
  return model.layers.filter((l) => l.getClassName() === 'Dense' && !outputs.has(l.name)).map((l) => l.name);
}

interface Prepared {
  model: tf.LayersModel;
  setup: string;
}

/** Builds the model a method trains from a fresh copy of the pretrained model. */
async function prepare(
  method: Method,
  base: tf.LayersModel,
  o: DemoResult['options'],
  loraRank: number,
): Promise<Prepared> {
  switch (method) {
    case 'full':
      return { model: base, setup: 'every weight trains' };
    case 'head':
      for (const l of base.layers) l.trainable = l.name === 'classifier';
      return { model: base, setup: 'only `classifier` trains' };
    case 'lora': {
      const model = await applyLora(base, {
        rank: loraRank,
        targets: (n) => allLinearNames(base).includes(n),
        modulesToSave: ['classifier'],
        seed: o.seed,
      });
      base.dispose();
      return {
        model,
        setup: `rank ${loraRank}, α = ${2 * loraRank}, all linear layers but the head; \`classifier\` trains`,
      };
    }
    case 'oft': {
      const model = tfjsOft.applyOft(base, oftConfig(o.oftBlockSize));
      base.dispose();
      return {
        model,
        setup: `applyOft: oftBlockSize ${o.oftBlockSize}, Cayley–Neumann, 'all-linear'; \`classifier\` trains`,
      };
    }
    case 'boft': {
      const model = tfjsOft.applyBoft(base, {
        boftBlockSize: 4,
        boftNButterflyFactor: 2,
        targetModules: DINOV2_TARGETS,
        boftDropout: 0.1,
        bias: 'boft_only',
        modulesToSave: ['classifier'],
      });
      base.dispose();
      return {
        model,
        setup:
          'applyBoft: block 4, 2 butterfly factors, the six DINOv2 targets, dropout 0.1, bias boft_only; ' +
            '`classifier` trains',
      };
    }
  }
}

/** Disposes a model and its optimizer's slots. */
export function disposeModel(model: tf.LayersModel): void {
  model.optimizer?.dispose();
  model.dispose();
}

/** The options with their defaults filled in. */
export function resolveDemoOptions(opts: DemoOptions = {}): DemoResult['options'] {
  return {
    epochs: opts.epochs ?? FINE_TUNE_DEFAULTS.epochs,
    pretrainEpochs: opts.pretrainEpochs ?? 15,
    outDir: resolve(opts.outDir ?? 'demo-output'),
    cacheDir: resolve(opts.cacheDir ?? join(REPO_ROOT, '.cache', 'digits-demo')),
    split: opts.split ?? DEFAULT_SPLIT,
    vit: opts.vit ?? DEFAULT_VIT,
    batchSize: opts.batchSize ?? FINE_TUNE_DEFAULTS.batchSize,
    pretrainLearningRate: opts.pretrainLearningRate ?? 2e-3,
    learningRate: opts.learningRate ?? FINE_TUNE_DEFAULTS.learningRate,
    oftBlockSize: opts.oftBlockSize ?? FINE_TUNE_DEFAULTS.oftBlockSize,
    seed: opts.seed ?? 1234,
    methods: opts.methods ?? [...METHODS],
  };
}

/** Runs the whole demo (main.ts writes the report: report-files.ts); see {@link DemoOptions} for the knobs. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const tStart = performance.now();
  const cpuStart = process.cpuUsage();
  const quiet = opts.quiet ?? false;
  const log: Log = quiet ? () => {} : (opts.log ?? ((l: string) => console.log(l)));
  const o = resolveDemoOptions(opts);
  for (const m of o.methods)
    if (!METHODS.includes(m)) throw new Error(`runDemo: unknown method '${m}'; known: ${METHODS.join(', ')}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1)
    throw new Error(`runDemo: epochs must be a positive integer, got ${o.epochs}`);
  const backend = await selectBackend(opts.backend);
  log(`tfjs backend: ${backend}`);

  const tasks = makeTasks(o.split, o.seed);
  try {
    const pre = await pretrained(o, backend, tasks.aTrain, tasks.aTest, tasks.bTest, quiet, log);
    log(
      `pretrained model: task A accuracy ${(pre.accA * 100).toFixed(1)}%, task B (rotated) ` +
        `${(pre.accB * 100).toFixed(1)}%`,
    );
    const modelUrl = `file://${join(pre.cachePath, 'model.json')}`;
    const fresh = () => tf.loadLayersModel(modelUrl);

    // LoRA rank: the one whose adapter size is closest to OFT's (both on all linear layers).
    let loraRank = 1;
    {
      const base = await fresh();
      const oftModel = tfjsOft.applyOft(base, {
        oftBlockSize: o.oftBlockSize,
        useCayleyNeumann: true,
        targetModules: 'all-linear',
      });
      const oftAdapter = tfjsOft.trainableParameters(oftModel).trainable;
      const dims = allLinearNames(base).map((n) => {
        const [d, units] = base.getLayer(n).getWeights()[0].shape as [number, number];
        return d + units;
      });
      const perRank = dims.reduce((a, b) => a + b, 0);
      loraRank = Math.max(1, Math.round(oftAdapter / perRank));
      disposeModel(oftModel);
      base.dispose();
    }

    const results: MethodResult[] = [];
    const trained = new Map<Method, tf.LayersModel>();
    for (const method of o.methods) {
      const seed = o.seed + 1 + METHODS.indexOf(method);
      const r = await withSeededMathRandom(seed, async () => {
        // Peak memory: two training steps of a separate fresh copy, profiled.
        const peakBytes = await (async () => {
          const before = tf.memory().numBytes;
          const { model } = await prepare(method, await fresh(), o, loraRank);
          model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'categoricalCrossentropy' });
          const xb = tf.slice(tasks.bTrain.xs, [0, 0, 0], [Math.min(o.batchSize, tasks.bTrain.labels.length), -1, -1]);
          const yb = tf.slice(tasks.bTrain.ys, [0, 0], [xb.shape[0], -1]);
          return peakStepBytes(model, xb, yb, before);
        })();

        const { model, setup } = await prepare(method, await fresh(), o, loraRank);
        const trainable = countParams(model.trainableWeights);
        const total = countParams(model.weights);
        model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'categoricalCrossentropy' });
        const accAByEpoch = [await accuracy(model, tasks.aTest)];
        const accBByEpoch = [await accuracy(model, tasks.bTest)];
        const batchLoss: number[] = [];
        const epochSeconds: number[] = [];
        let epochStart = 0;
        const record = new tf.CustomCallback({
          onEpochBegin: async () => { epochStart = performance.now(); },
          onBatchEnd: async (_b, logs) => { batchLoss.push(logs?.loss ?? NaN); },
          onEpochEnd: async () => {
            epochSeconds.push((performance.now() - epochStart) / 1000);
            accAByEpoch.push(await accuracy(model, tasks.aTest));
            accBByEpoch.push(await accuracy(model, tasks.bTest));
          },
        });
        const callbacks: tf.CustomCallback[] | tfjsOft.ProgressBar[] = [record];
        if (!quiet) {
          log(
            `fine-tuning on task B: ${METHOD_LABELS[method]} (${trainable.toLocaleString('en-US')} trainable ` +
              `parameters)`,
          );
          (callbacks as unknown[]).push(new tfjsOft.ProgressBar({ stream: process.stderr }));
        }
        await model.fit(tasks.bTrain.xs, tasks.bTrain.ys, {
          epochs: o.epochs,
          batchSize: o.batchSize,
          shuffle: true,
          verbose: 0,
          callbacks,
        });
        trained.set(method, model);
        const accA = accAByEpoch[accAByEpoch.length - 1];
        return {
          method, label: METHOD_LABELS[method], setup, trainableParams: trainable, totalParams: total,
          accB: accBByEpoch[accBByEpoch.length - 1], accA, forgetting: pre.accA - accA,
          secondsPerEpoch: epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length,
          peakBytes, batchLoss, accAByEpoch, accBByEpoch, accAAtMatchedB: null,
        } satisfies MethodResult;
      });
      results.push(r);
      log(
        `${r.label}: B ${(r.accB * 100).toFixed(1)}%, A ${(r.accA * 100).toFixed(1)}% (forgot ` +
          `${(r.forgetting * 100).toFixed(1)} points), ` +
          `${r.trainableParams} trainable, ${r.secondsPerEpoch.toFixed(2)} s/epoch`,
      );
    }

    const movers = results.filter((r) => r.method !== 'head');
    const matchedAccB = movers.length > 0 ? Math.min(...movers.map((r) => r.accB)) : NaN;
    for (const r of results) r.accAAtMatchedB = accAWhenBReached(r, matchedAccB);

    // Merge the best orthogonal adapter (highest mean of task-A and task-B accuracy).
    let merge: DemoResult['merge'] = null;
    const mergeable = results.filter((r) => r.method === 'oft' || r.method === 'boft');
    if (mergeable.length > 0) {
      const best = mergeable.reduce((a, b) => (b.accA + b.accB > a.accA + a.accB ? b : a));
      const model = trained.get(best.method)!;
      const merged = tfjsOft.mergeAndUnload(model);
      const yU = model.predict(tasks.bTest.xs) as tf.Tensor;
      const yM = merged.predict(tasks.bTest.xs) as tf.Tensor;
      const maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(yU, yM))).dataSync()[0]);
      const maxAbs = tf.tidy(() => tf.max(tf.abs(yU)).dataSync()[0]);
      const sameArgmax = tf.tidy(() => tf.all(tf.equal(tf.argMax(yU, -1), tf.argMax(yM, -1))).dataSync()[0] === 1);
      const savedTo = join(o.outDir, `merged-${best.method}-model`);
      rmSync(savedTo, { recursive: true, force: true });
      mkdirSync(savedTo, { recursive: true });
      await merged.save(`file://${savedTo}`);
      const reloaded = await tf.loadLayersModel(`file://${join(savedTo, 'model.json')}`);
      const yR = reloaded.predict(tasks.bTest.xs) as tf.Tensor;
      const reloadMaxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(yR, yM))).dataSync()[0]);
      const layerClassesAfter = [...new Set(merged.layers.map((l) => l.getClassName()))].sort();
      tf.dispose([yU, yM, yR]);
      reloaded.dispose();
      merged.dispose();
      merge = {
        method: best.method,
        maxAbsDiff,
        relDiff: maxAbsDiff / maxAbs,
        sameArgmax,
        reloadMaxAbsDiff,
        layerClassesAfter,
        savedTo,
      };
    }
    for (const m of trained.values()) disposeModel(m);

    const totalSeconds = (performance.now() - tStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return { backend, options: o, pretrain: pre, methods: results, matchedAccB, merge,
      totalSeconds, cpuSeconds };
  } finally {
    disposeTasks(tasks);
  }
}
