// A browser page as a user writes it: tfjs + tfjs-oft, bundled for the browser (test/bundle.spec.ts).
import * as tf from '@tensorflow/tfjs';
import { applyOft, mergeAndUnload, ProgressBar } from 'tfjs-oft';

const input = tf.input({ shape: [8] });
const output = tf.layers.dense({ units: 8, name: 'fc' }).apply(input);
const model = applyOft(tf.model({ inputs: input, outputs: output }), { targetModules: ['fc'], blockSize: 4 });
console.log(mergeAndUnload(model).name, typeof ProgressBar);
