// The browser demo's page (`npm run demo:browser`): fine-tunes the digits demo's pretrained ViT
// on rotated digits with OFT, on the backend the user picks, with a live chart; then merges
// and offers the merged model as a download. It reuses the Node demo's modules (OFT setup,
// accuracy, chart) and reads tensors only with data(): WebGPU breaks after a dataSync().
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { applyOft, mergeAndUnload, trainableParameters } from '../../src/index';
import { SelfAttentionCore } from '../digits/attention';
import { ViTEmbeddings } from '../digits/embeddings';
import { TokenLayerNorm } from '../digits/layer-norm';
import { accuracy, LabelledImages } from '../digits/evaluate';
import { FINE_TUNE_DEFAULTS, oftConfig } from '../digits/oft-setup';
import { ChartData, svgChart } from '../digits/report';

// demos/browser/server.ts serves the backend's .wasm files here.
setWasmPaths('/wasm/');
// The ViT's own layers, for loading the pretrained model. Registered here, not by a bare import of
// their modules: package.json's "sideEffects" lets bundlers drop such imports.
for (const layer of [SelfAttentionCore, ViTEmbeddings, TokenLayerNorm]) tf.serialization.registerClass(layer);

/** digits.json: what the server wrote beside digits.bin (tfjs weight specs of the splits). */
interface DigitsManifest {
  specs: tf.io.WeightsManifestEntry[];
  numClasses: number;
  pretrained: { accA: number; accB: number };
}

/** Everything the page shows, also read by the browser test (window.tfjsOftDemo). */
export interface DemoState {
  status: 'loading' | 'ready' | 'training' | 'done' | 'error';
  message: string;
  backend: string;
  blockSize: number;
  epochs: number;
  pretrained: { accA: number; accB: number } | null;
  trainableParams: number;
  batchLoss: number[];
  /** Mean training loss of each epoch (fit's epoch log). */
  epochLoss: number[];
  /** Accuracies before fine-tuning, then after each epoch. */
  accAByEpoch: number[];
  accBByEpoch: number[];
  /** Median time of one training step over the epochs after the first (ms). */
  msPerStep: number | null;
  merge: { maxAbsDiff: number; maxAbs: number; sameArgmax: boolean; layerClasses: string[] } | null;
}

const state: DemoState = {
  status: 'loading', message: '', backend: '', blockSize: 0, epochs: 0, pretrained: null, trainableParams: 0,
  batchLoss: [], epochLoss: [], accAByEpoch: [], accBByEpoch: [], msPerStep: null, merge: null,
};
(window as unknown as { tfjsOftDemo: DemoState }).tfjsOftDemo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
let manifest: DigitsManifest;
let digitsBytes: ArrayBuffer;
let merged: tf.LayersModel | null = null;
let batchesPerEpoch = 1;

function show(status: DemoState['status'], message: string): void {
  state.status = status;
  state.message = message;
  const el = $('status');
  el.textContent = message;
  el.className = status === 'error' ? 'error' : '';
  $<HTMLButtonElement>('train').disabled = status === 'loading' || status === 'training';
  $<HTMLButtonElement>('download').disabled = status !== 'done';
}

function render(): void {
  const chart: ChartData = {
    pretrain: { accA: state.pretrained?.accA ?? NaN },
    options: { epochs: state.epochs, batchesPerEpoch },
    matchedAccB: NaN,
    methods: [{ method: 'oft', label: `OFT, block size ${state.blockSize}, ${state.backend}`,
      trainableParams: state.trainableParams,
      accAByEpoch: state.accAByEpoch, accBByEpoch: state.accBByEpoch, batchLoss: state.batchLoss }],
  };
  if (state.accAByEpoch.length > 0) $('chart').innerHTML = svgChart(chart);
  $('epochs-table').querySelector('tbody')!.innerHTML = state.accAByEpoch.map((a, i) =>
    `<tr><td>${i === 0 ? 'pretrained' : i}</td><td>${i === 0 ? '–' : state.epochLoss[i - 1].toFixed(3)}</td>` +
    `<td>${pct(a)}</td><td>${pct(state.accBByEpoch[i])}</td></tr>`).join('');
}

interface Splits {
  train: LabelledImages & { ys: tf.Tensor2D };
  aTest: LabelledImages;
  bTest: LabelledImages;
}

/** The splits as tensors on the current backend. */
async function splits(): Promise<Splits> {
  const t = tf.io.decodeWeights(digitsBytes, manifest.specs);
  const labelled = async (name: string) => {
    const labels = (await t[`${name}.labels`].data()) as Int32Array;
    t[`${name}.labels`].dispose();
    return { xs: t[`${name}.xs`] as tf.Tensor3D, labels };
  };
  const train = await labelled('bTrain');
  const ys = tf.tidy(() =>
    tf.cast(tf.oneHot(tf.tensor1d(train.labels, 'int32'), manifest.numClasses), 'float32')) as tf.Tensor2D;
  return { train: { ...train, ys }, aTest: await labelled('aTest'), bTest: await labelled('bTest') };
}

async function fineTune(): Promise<void> {
  const backend = $<HTMLSelectElement>('backend').value;
  const blockSize = Number($<HTMLSelectElement>('block-size').value);
  const epochs = Number($<HTMLInputElement>('epochs').value);
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new Error(`Epochs must be a whole number ≥ 1, got '${$<HTMLInputElement>('epochs').value}'.`);
  }
  show('training', `Starting the ${backend} backend…`);
  merged?.dispose();
  merged = null;
  if (!(await tf.setBackend(backend))) {
    throw new Error(`The ${backend} backend does not start in this browser; pick another.`);
  }
  await tf.ready();
  Object.assign(state, { backend, blockSize, epochs, batchLoss: [], epochLoss: [], accAByEpoch: [], accBByEpoch: [],
    msPerStep: null, merge: null });

  const data = await splits();
  batchesPerEpoch = Math.ceil(data.train.labels.length / FINE_TUNE_DEFAULTS.batchSize);
  const base = await tf.loadLayersModel('/pretrained/model.json');
  const model = applyOft(base, oftConfig(blockSize));
  base.dispose();
  state.trainableParams = trainableParameters(model).trainable;
  model.compile({ optimizer: tf.train.adam(FINE_TUNE_DEFAULTS.learningRate), loss: 'categoricalCrossentropy' });
  state.accAByEpoch.push(await accuracy(model, data.aTest));
  state.accBByEpoch.push(await accuracy(model, data.bTest));
  render();

  const stepMs: number[] = [];
  let epochStart = 0;
  let epochBatches = 0;
  await model.fit(data.train.xs, data.train.ys, {
    epochs, batchSize: FINE_TUNE_DEFAULTS.batchSize, shuffle: true, verbose: 0,
    callbacks: {
      onEpochBegin: async (epoch) => {
        show('training', `Fine-tuning with OFT on ${backend}: epoch ${epoch + 1} of ${epochs}…`);
        epochStart = performance.now();
        epochBatches = 0;
      },
      onBatchEnd: async (_batch, logs) => {
        state.batchLoss.push(logs?.loss ?? NaN);
        epochBatches++;
        // fit yields to the page now and then (yieldEvery 'auto'), so the chart moves while it trains.
        if (epochBatches % 4 === 0) render();
      },
      onEpochEnd: async (epoch, logs) => {
        if (epoch > 0) stepMs.push((performance.now() - epochStart) / epochBatches);
        state.epochLoss.push(logs?.loss ?? NaN);
        state.accAByEpoch.push(await accuracy(model, data.aTest));
        state.accBByEpoch.push(await accuracy(model, data.bTest));
        render();
      },
    },
  });
  stepMs.sort((a, b) => a - b);
  state.msPerStep = stepMs.length > 0 ? stepMs[Math.floor(stepMs.length / 2)] : null;

  merged = mergeAndUnload(model);
  const check = tf.tidy(() => {
    const yU = model.predict(data.bTest.xs) as tf.Tensor, yM = merged!.predict(data.bTest.xs) as tf.Tensor;
    return tf.stack([tf.max(tf.abs(tf.sub(yU, yM))), tf.max(tf.abs(yU)),
      tf.cast(tf.all(tf.equal(tf.argMax(yU, -1), tf.argMax(yM, -1))), 'float32')]);
  });
  const [maxAbsDiff, maxAbs, same] = await check.data();
  check.dispose();
  state.merge = { maxAbsDiff, maxAbs, sameArgmax: same === 1,
    layerClasses: [...new Set(merged.layers.map((l) => l.getClassName()))].sort() };
  model.optimizer.dispose();
  model.dispose();
  tf.dispose([data.train.xs, data.train.ys, data.aTest.xs, data.bTest.xs]);

  const last = state.accAByEpoch.length - 1;
  $('merge').innerHTML = `Merged (<code>mergeAndUnload</code>): layers ${state.merge.layerClasses.join(', ')}; ` +
    `max |merged − unmerged| ${maxAbsDiff.toExponential(2)} over the B-test outputs, same predicted digits: ` +
    `${state.merge.sameArgmax ? 'yes' : 'no'}.`;
  show('done', `Done on ${backend}: ` +
    `task B ${pct(state.accBByEpoch[0])} → ${pct(state.accBByEpoch[last])} (learned), ` +
    `task A ${pct(state.accAByEpoch[0])} → ${pct(state.accAByEpoch[last])} (kept); ` +
    `${state.msPerStep == null ? '' : `${state.msPerStep.toFixed(0)} ms per training step; `}` +
    `${state.trainableParams.toLocaleString('en-US')} trainable parameters.`);
}

async function start(): Promise<void> {
  $<HTMLInputElement>('epochs').value = String(FINE_TUNE_DEFAULTS.epochs);
  $<HTMLSelectElement>('block-size').value = String(FINE_TUNE_DEFAULTS.oftBlockSize);
  const [m, bytes] = await Promise.all([
    fetch('/digits.json').then((r) => r.json() as Promise<DigitsManifest>),
    fetch('/digits.bin').then((r) => r.arrayBuffer()),
  ]);
  manifest = m;
  digitsBytes = bytes;
  state.pretrained = m.pretrained;
  show('ready', `Pretrained on upright digits: task A ${pct(m.pretrained.accA)}, ` +
    `task B (rotated) ${pct(m.pretrained.accB)}. ` +
    'Pick a backend, a block size and epochs, then fine-tune.');
  $('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    fineTune().catch((err: unknown) => show('error', err instanceof Error ? err.message : String(err)));
  });
  $('download').addEventListener('click', () => {
    // tfjs' downloads:// handler: the browser saves tfjs-oft-digits-merged.json and .weights.bin.
    merged?.save('downloads://tfjs-oft-digits-merged').catch((err: unknown) => show('error', String(err)));
  });
}

start().catch((err: unknown) => show('error', err instanceof Error ? err.message : String(err)));
