// Run as a child process: uses the BUILT package (dist/) with only @tensorflow/tfjs-core,
// -layers and -backend-cpu loaded — no @tensorflow/tfjs union package, which is the only one
// that registers chained tensor methods (x.reshape(…)). Exercises layers, surgery, fit, merge,
// save and load; prints a JSON summary. Usage: node core-layers-only.mjs esm|cjs <dir>
import { createRequire } from 'node:module';

const [format, dir] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const tf = format === 'cjs' ? require('@tensorflow/tfjs-core') : await import('@tensorflow/tfjs-core');
const tfl = format === 'cjs' ? require('@tensorflow/tfjs-layers') : await import('@tensorflow/tfjs-layers');
if (format === 'cjs') require('@tensorflow/tfjs-backend-cpu'); else await import('@tensorflow/tfjs-backend-cpu');
const oft = format === 'cjs' ? require('../../dist/index.cjs') : await import('../../dist/index.js');
await tf.setBackend('cpu');

const input = tfl.input({ shape: [8] });
const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'mlp.fc1' }).apply(input);
const out = tfl.layers.dense({ units: 3, name: 'classifier' }).apply(h);
const base = tfl.model({ inputs: input, outputs: out });
const x = tf.randomNormal([16, 8]);
const y = tf.randomNormal([16, 3]);
const results = {};
for (const [name, model] of [
  ['oft', oft.applyOft(base, { targetModules: ['mlp.fc1'], oftBlockSize: 4, useCayleyNeumann: false })],
  ['boft', oft.applyBoft(base, { targetModules: ['mlp.fc1'], boftBlockSize: 2, boftNButterflyFactor: 2 })],
]) {
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  const hist = await model.fit(x, y, { epochs: 3, verbose: 0 });
  const merged = oft.mergeAndUnload(model);
  const a = model.predict(x); const b = merged.predict(x);
  await model.save(`file://${dir}/${name}`);
  const loaded = await tfl.loadLayersModel(`file://${dir}/${name}/model.json`);
  const c = loaded.predict(x);
  results[name] = {
    losses: hist.history.loss,
    mergeDiff: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0],
    reloadDiff: tf.max(tf.abs(tf.sub(a, c))).dataSync()[0],
    classes: loaded.layers.map((l) => l.getClassName()),
  };
}
process.stdout.write(JSON.stringify(results));
