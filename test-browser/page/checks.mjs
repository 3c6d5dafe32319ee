// The page of test-browser/oft-page.browser.ts, written as a user writes a browser app: tfjs,
// its wasm and webgpu backends and tfjs-oft from the packed package, bundled by esbuild.
// Every read is async (`data()`): after one `dataSync()` WebGPU on SwiftShader fails all reads.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import {
  applyBoft, applyOft, butterflyDense, disposeOpConstants, loadAdapter, mergeAndUnload, orthogonalDense, saveAdapter,
} from 'tfjs-oft';
import { mulberry32 } from '../../demos/digits/rng.ts';

// The server puts the backend's .wasm files here (README, "In the browser").
setWasmPaths('/wasm/');

function uniform(n, seed, scale) {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * rand() - 1) * scale);
}

const D = 32, CLASSES = 8, ROWS = 256, BATCH = 32;

/** A seeded "pretrained" MLP: the same weights on every backend. */
function baseModel() {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [D], units: D, activation: 'relu', name: 'fc1' }),
    tf.layers.dense({ units: D, activation: 'relu', name: 'fc2' }),
    tf.layers.dense({ units: CLASSES, activation: 'softmax', name: 'head' }),
  ] });
  tf.tidy(() => model.setWeights(model.weights.map((w, i) =>
    tf.tensor(uniform(w.shape.reduce((a, b) => a * b, 1), 100 + i, 0.3), w.shape))));
  return model;
}

/** Labels of a fixed random linear teacher. */
function trainingData() {
  const x = uniform(ROWS * D, 1, 1);
  const teacher = uniform(D * CLASSES, 2, 1);
  const labels = new Int32Array(ROWS);
  for (let r = 0; r < ROWS; r++) {
    let best = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      let z = 0;
      for (let k = 0; k < D; k++) z += x[r * D + k] * teacher[k * CLASSES + c];
      if (z > best) { best = z; labels[r] = c; }
    }
  }
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat());
  return { xs: tf.tensor2d(x, [ROWS, D]), ys };
}

async function bytesOf(tensor) {
  return new Uint8Array((await tensor.data()).slice().buffer);
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** null when the models have the same weights (by name, bit for bit) and the same outputs on xs; else what differs. */
async function bitDifference(a, b, xs) {
  const names = (m) => m.weights.map((w) => w.originalName).sort();
  if (JSON.stringify(names(a)) !== JSON.stringify(names(b))) return `weight names ${names(a)} vs ${names(b)}`;
  const byName = new Map(b.weights.map((w) => [w.originalName, w]));
  for (const w of a.weights) {
    const other = byName.get(w.originalName).read();
    if (!sameBytes(await bytesOf(w.read()), await bytesOf(other))) return `weight ${w.originalName}`;
  }
  const ya = a.predict(xs), yb = b.predict(xs);
  const same = sameBytes(await bytesOf(ya), await bytesOf(yb));
  tf.dispose([ya, yb]);
  return same ? null : 'outputs';
}

async function maxAbsDiff(a, b, xs) {
  const d = tf.tidy(() => {
    const ya = a.predict(xs);
    return tf.stack([tf.max(tf.abs(tf.sub(ya, b.predict(xs)))), tf.max(tf.abs(ya))]);
  });
  const [diff, scale] = await d.data();
  d.dispose();
  return { diff, scale };
}

const METHODS = {
  oft: (base) => applyOft(base, { targetModules: ['fc1', 'fc2'], oftBlockSize: 8, modulesToSave: ['head'] }),
  boft: (base) => applyBoft(base, { targetModules: ['fc1', 'fc2'], boftBlockSize: 4, boftNButterflyFactor: 2,
    modulesToSave: ['head'] }),
};

/** Trains one method with fit, saves and reloads through indexeddb://, round-trips its adapter, merges. */
async function trainSaveMerge(method, backend, epochs) {
  disposeOpConstants(); // the constants the ops keep between steps are not leaks: count from none to none
  const startTensors = tf.memory().numTensors;
  const { xs, ys } = trainingData();
  const base = baseModel();
  const model = METHODS[method](base);
  model.compile({ optimizer: tf.train.adam(3e-2), loss: 'categoricalCrossentropy' });
  const losses = [], tensorsAtEpochEnd = [], epochMs = [];
  let t0 = performance.now();
  await model.fit(xs, ys, { epochs, batchSize: BATCH, shuffle: false, verbose: 0, callbacks: {
    onEpochEnd: async (_epoch, logs) => {
      epochMs.push(performance.now() - t0);
      losses.push(logs.loss);
      tensorsAtEpochEnd.push(tf.memory().numTensors);
      t0 = performance.now();
    },
  } });
  const stepsPerEpoch = Math.ceil(ROWS / BATCH);
  // The first epoch compiles shaders / warms the kernels: time the others.
  const later = epochMs.slice(1).sort((a, b) => a - b);
  const msPerStep = later[Math.floor(later.length / 2)] / stepsPerEpoch;

  const url = `indexeddb://tfjs-oft-${backend}-${method}`;
  await model.save(url);
  const loaded = await tf.loadLayersModel(url);
  const reloadDifference = await bitDifference(model, loaded, xs);

  const adapterUrl = `indexeddb://tfjs-oft-adapter-${backend}-${method}`;
  await saveAdapter(model, adapterUrl);
  const freshBase = baseModel();
  const restored = await loadAdapter(freshBase, adapterUrl);
  const adapterDifference = await bitDifference(model, restored, xs);

  const merged = mergeAndUnload(model);
  const mergeDiff = await maxAbsDiff(merged, model, xs);
  const mergedClasses = merged.layers.map((l) => l.getClassName());

  model.optimizer.dispose();
  for (const m of [model, loaded, restored, merged, base, freshBase]) m.dispose();
  tf.dispose([xs, ys]);
  await tf.io.removeModel(url);
  await tf.io.removeModel(adapterUrl);
  disposeOpConstants();
  return { losses, tensorsAtEpochEnd, msPerStep, reloadDifference, adapterDifference, mergeDiff, mergedClasses,
    tensorsLeft: tf.memory().numTensors - startTensors };
}

/** Outputs of one OrthogonalDense and one ButterflyDense with given weights (for a float64 reference in Node). */
async function fixedLayerOutputs(spec) {
  const out = {};
  for (const [name, make] of [['oft', orthogonalDense], ['boft', butterflyDense]]) {
    const s = spec[name];
    const layer = make({ units: s.units, inputShape: [s.d], name: `fixed_${name}`, ...s.options });
    const model = tf.sequential({ layers: [layer] });
    const weightOf = (w) => tf.tensor(s.weights[w.originalName.split('/').pop()], w.shape);
    tf.tidy(() => layer.setWeights(layer.weights.map(weightOf)));
    const y = tf.tidy(() => model.predict(tf.tensor2d(s.x, [s.rows, s.d])));
    out[name] = Array.from(await y.data());
    tf.dispose(y);
    model.dispose();
  }
  return out;
}

/** Runs every check on one backend; returns plain numbers for the test to assert. */
window.runChecks = async (backend, { epochs, fixed }) => {
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  const result = { backend: tf.getBackend() };
  const t0 = performance.now();
  if (backend === 'wasm') result.wasmThreads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  result.fixed = await fixedLayerOutputs(fixed);
  for (const method of Object.keys(METHODS)) result[method] = await trainSaveMerge(method, backend, epochs);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
};

window.webgpuAdapter = async () => {
  if (!navigator.gpu) return 'navigator.gpu is undefined (WebGPU not enabled in this browser)';
  const adapter = await navigator.gpu.requestAdapter();
  return adapter ? null : 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter)';
};
window.checksReady = true;
