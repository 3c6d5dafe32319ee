// Run as a child process: loads a saved model with tf.loadLayersModel in a fresh process and
// prints its weights and its predictions on the given input as exact float32 bit patterns.
// Usage: tsx predict-in-fresh-process.ts <model.json> <input.json> [--no-tfjs-oft]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';

const [modelPath, inputPath, flag] = process.argv.slice(2);
if (flag !== '--no-tfjs-oft') await import('../../src/index');
else {
  // Without tfjs-oft, plain tfjs on Node has no file:// handler: load from memory.
}
if (process.env.TFJS_BACKEND === 'tensorflow') {
  const specifier = '@tensorflow/tfjs-node'; // not a dependency: present only where it was built
  await import(specifier);
}
await tf.setBackend(process.env.TFJS_BACKEND ?? 'cpu');
const input = JSON.parse(readFileSync(inputPath, 'utf8')) as { shape: number[]; data: number[] };
let model: tf.LayersModel;
if (flag === '--no-tfjs-oft') {
  const json = JSON.parse(readFileSync(modelPath, 'utf8'));
  const dir = modelPath.replace(/model\.json$/, '');
  const bin = readFileSync(dir + json.weightsManifest[0].paths[0]);
  model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
} else {
  model = await tf.loadLayersModel(`file://${modelPath}`);
}
const y = model.predict(tf.tensor(input.data, input.shape)) as tf.Tensor;
const bits = (t: tf.Tensor) => Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
const out = {
  classes: model.layers.map((l) => l.getClassName()),
  weights: Object.fromEntries(model.weights.map((w) => [w.originalName, bits(w.read())])),
  output: bits(y),
};
process.stdout.write(JSON.stringify(out));
