// Shared tensor-count check: a compiled 16 → 2 softmax classifier trains 50 batches and
// predicts 50 times with tf.memory().numTensors unchanged (after one warm-up batch, in which
// Adam creates its slots). Returns the count to compare later steps against, and the data.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { opConstantCount } from '../../src/ops/constants';

/**
 * `tf.memory().numTensors` less the constants the ops keep between steps (src/ops/constants.ts): for
 * leak checks whose first count is taken before the first call of an op.
 */
export function tensorsBesidesOpConstants(): number {
  return tf.memory().numTensors - opConstantCount();
}

export async function expectFlatOverFitAndPredict(
  model: tf.LayersModel,
): Promise<{ start: number; x: tf.Tensor; dispose(): void }> {
  const x = tf.randomNormal([50 * 4, 16]);
  const y = tf.oneHot(tf.randomUniform([50 * 4], 0, 2, 'int32'), 2);
  const [x0, y0] = [x.slice(0, 4), y.slice(0, 4)];
  await model.fit(x0, y0, { batchSize: 4, epochs: 1, verbose: 0 });
  const start = tensorsBesidesOpConstants();
  await model.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0 });
  expect(tensorsBesidesOpConstants(), 'after 50 fit batches').to.equal(start);
  for (let i = 0; i < 50; i++) tf.dispose(tf.tidy(() => model.predict(x.slice(i * 4, 4)) as tf.Tensor));
  expect(tensorsBesidesOpConstants(), 'after 50 predicts').to.equal(start);
  return { start, x, dispose: () => tf.dispose([x, y, x0, y0]) };
}
