// Run as a child process (it tears the engine down): the exact Cayley of fixed packed blocks on
// TFJS_BACKEND, again after tf.removeBackend of that backend (on the other of cpu/wasm), and again
// after tf.engine().reset(); prints the three results. The ops' kept constants (src/ops/constants.ts)
// belong to a backend that is gone each time and must neither be used nor disposed.
// Usage: tsx constants-after-teardown.ts <packed values, JSON> <block size>
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../scripts/tfjs-backend';
import { cayleyFromPacked } from '../../src/ops/cayley';

const values = JSON.parse(process.argv[2]) as number[];
const b = Number(process.argv[3]);
const first = process.env.TFJS_BACKEND ?? 'cpu';
const second = first === 'cpu' ? 'wasm' : 'cpu';
const rotation = () => {
  const v = tf.tensor2d(values, [values.length / ((b * (b - 1)) / 2), (b * (b - 1)) / 2]);
  const r = Array.from(tf.tidy(() => cayleyFromPacked(v, b, null)).dataSync());
  v.dispose();
  return r;
};
await useBackend(first);
const before = rotation();
tf.removeBackend(first);
await useBackend(second);
const afterRemove = rotation();
tf.engine().reset();
await useBackend(second);
const afterReset = rotation();
process.stdout.write(JSON.stringify({ before, afterRemove, afterReset }));
