// Run as a child process: loads a saved model with tf.loadLayersModel in a fresh process and
// prints its weights and its predictions on the given input as exact float32 bit patterns.
// Usage: tsx predict-in-fresh-process.ts <model.json> <input.json> [--no-tfjs-oft]
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { useBackend } from '../../scripts/tfjs-backend';
import { bits } from './model-snapshot';

const [modelPath, inputPath, flag] = process.argv.slice(2);
if (flag !== '--no-tfjs-oft') await import('../../src/index');
else {
  // Without tfjs-oft, plain tfjs on Node has no file:// handler: load from memory.
}
await useBackend(process.env.TFJS_BACKEND ?? 'cpu');
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
const out = {
  classes: model.layers.map((l) => l.getClassName()),
  weights: Object.fromEntries(model.weights.map((w) => [w.originalName, bits(w.read())])),
  output: bits(y),
};
process.stdout.write(JSON.stringify(out));
