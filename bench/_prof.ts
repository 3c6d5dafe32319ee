import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { OrthogonalDense, ButterflyDense } from '/work/wt-12/src/index';
const backend = process.argv[2] ?? 'tensorflow';
if (backend === 'tensorflow') { const s = '@tensorflow/tfjs-node'; await import(s); }
await tf.setBackend(backend); await tf.ready();
const D = 1024, ROWS = 256;
const which = process.argv[3] ?? 'neumann';
const layer = which === 'neumann' ? new OrthogonalDense({ units: D, oftBlockSize: 32 })
  : which === 'exact' ? new OrthogonalDense({ units: D, oftBlockSize: 32, useCayleyNeumann: false })
  : new ButterflyDense({ units: D, boftBlockSize: 8, boftNButterflyFactor: Number(which.slice(4)) });
tf.dispose(layer.apply(tf.zeros([1, D])) as tf.Tensor);
const x = tf.variable(tf.randomNormal([ROWS, D]), true);
const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
const opt = tf.train.adam(1e-3);
const step = () => tf.tidy(() => {
  const { grads } = tf.variableGrads(() => tf.mean(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar, [x, ...params]);
  opt.applyGradients(params.map((p) => ({ name: p.name, tensor: grads[p.name] })));
  grads[x.name].dataSync(); for (const p of params) p.dataSync();
});
for (let i = 0; i < 5; i++) step();
const agg = new Map<string, [number, number]>();
for (let r = 0; r < 5; r++) {
  const info = await tf.profile(() => { step(); });
  for (const k of info.kernels) {
    const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : (k.kernelTimeMs as any).error ? 0 : 0;
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const a = agg.get(key) ?? [0, 0]; a[0] += 1 / 5; a[1] += t / 5; agg.set(key, a);
  }
}
const rows = [...agg.entries()].sort((a, b) => b[1][1] - a[1][1]);
let tot = 0; for (const [, [, t]] of rows) tot += t;
console.log(which, backend, 'kernels', rows.reduce((s, r) => s + r[1][0], 0).toFixed(0), 'total kernel ms', tot.toFixed(2));
for (const [k, [n, t]] of rows.slice(0, 40)) console.log(t.toFixed(3).padStart(8), n.toFixed(0).padStart(4), k);
