// `npm run bench [-- --backend cpu|wasm|all] [--repeats N]`: every benchmark on each backend,
// printed as ratios to baselines measured in the same run.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { runOftBench } from './oft.bench';
import { runButterflyBench } from './butterfly.bench';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback;
}

const backends = flag('backend', 'all') === 'all' ? ['cpu', 'wasm'] : [flag('backend', 'cpu')];
const repeats = Number(flag('repeats', '5'));
const only = flag('only', 'all');

for (const backend of backends) {
  await tf.setBackend(backend);
  await tf.ready();
  console.log(`\n=== backend: ${tf.getBackend()} ===`);
  if (only === 'all' || only === 'oft') await runOftBench(repeats);
  if (only === 'all' || only === 'boft') await runButterflyBench(repeats);
}
