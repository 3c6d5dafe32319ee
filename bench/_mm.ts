import * as tf from '@tensorflow/tfjs';
const s = '@tensorflow/tfjs-node'; await import(s);
await tf.setBackend('tensorflow');
function t(name: string, f: () => tf.Tensor, n = 30) {
  for (let i = 0; i < 3; i++) tf.tidy(() => { f().dataSync(); });
  const ts: number[] = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); tf.tidy(() => { f().dataSync(); }); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b); console.log(name.padEnd(50), ts[n >> 1].toFixed(3));
}
const X = tf.randomNormal([256, 1024]); const K = tf.randomNormal([1024, 1024]);
const xb = tf.randomNormal([32, 256, 32]); const r = tf.randomNormal([32, 32, 32]);
const xbt = tf.randomNormal([256, 32, 32]);
const r8 = tf.randomNormal([128, 8, 8]); const xb8 = tf.randomNormal([128, 256, 8]);
t('big 256x1024x1024', () => tf.matMul(X, K));
t('batched [32,256,32]x[32,32,32]', () => tf.matMul(xb, r));
t('batched [32,32,256]T x[32,32,32] (transposeA)', () => tf.matMul(tf.reshape(xb,[32,32,256]) , r, true, false));
t('batched [32,32,32]x[32,32,32]', () => tf.matMul(r, r));
t('batched [128,256,8]x[128,8,8]', () => tf.matMul(xb8, r8));
t('batched [128,8,8]x[128,8,8]', () => tf.matMul(r8, r8));
t('transpose [256,32,32]', () => tf.transpose(xbt, [1, 0, 2]));
t('add [256,1024]', () => tf.add(X, X));
t('add [32,32,32]', () => tf.add(r, r));
t('mul+sum broadcast', () => tf.sum(tf.mul(tf.expandDims(xbt, 3), r), 2));
t('einsum nja,jac->njc', () => tf.einsum('nja,jac->njc', xbt, r));
t('2 x dataSync of add scalar', () => tf.add(tf.scalar(1), 1));
