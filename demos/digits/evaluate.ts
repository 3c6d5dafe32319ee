// Accuracy of the digits models, shared by the Node demo and the browser demo. It reads with
// `data()`, never `dataSync()`: on WebGPU a synchronous read breaks every later read.
import * as tf from '@tensorflow/tfjs';

/** Images `[n, 28, 28]` and their digits. */
export interface LabelledImages {
  xs: tf.Tensor3D;
  labels: Int32Array;
}

/** Accuracy of `model` on `split` (predicted class = argmax), in batches to bound memory. */
export async function accuracy(model: tf.LayersModel, split: LabelledImages, batch = 500): Promise<number> {
  const n = split.labels.length;
  let correct = 0;
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    const pred = tf.tidy(() =>
      tf.argMax(model.predict(tf.slice(split.xs, [i, 0, 0], [size, -1, -1])) as tf.Tensor, -1));
    const p = await pred.data();
    pred.dispose();
    for (let j = 0; j < size; j++) if (p[j] === split.labels[i + j]) correct++;
  }
  return correct / n;
}
