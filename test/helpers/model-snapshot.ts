// Exact views of tensors and models for bit-identity assertions.
import * as tf from '@tensorflow/tfjs';

/** The float32 bit patterns of a tensor's (or an array's) values. */
export const bits = (t: tf.Tensor | Float32Array) =>
  Array.from(new Uint32Array(new Float32Array(t instanceof Float32Array ? t : t.dataSync()).buffer));

/** A tensor's raw bytes, base64. */
export const bytesOf = (t: tf.Tensor) => {
  const a = t.dataSync() as Float32Array;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
};

/** Everything observable about a model: config JSON, flags, weight names, shapes and bytes. */
export function snapshot(model: tf.LayersModel): string {
  return JSON.stringify({
    config: model.getConfig(),
    layers: model.layers.map((l) => [l.name, l.getClassName(), l.trainable]),
    weights: model.weights.map((w) => [w.name, w.trainable, w.shape, bytesOf(w.read())]),
  });
}
