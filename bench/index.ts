// `npm run bench [-- --backend cpu|wasm|tensorflow|all|cpu,wasm,…] [--repeats N] [--only oft|boft]
// [--no-weight-centric]`: every benchmark on each backend, printed as ratios to baselines measured
// in the same run, with the kernels each step runs.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { runOftBench } from './oft.bench';
import { runButterflyBench } from './butterfly.bench';
import { backendList, useBackend } from './harness';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback;
}

const backends = backendList(flag('backend', 'all'));
const repeats = Number(flag('repeats', '5'));
const only = flag('only', 'all');

for (const backend of backends) {
  if (!await useBackend(backend)) continue;
  console.log(`\n=== backend: ${tf.getBackend()} ===`);
  if (only === 'all' || only === 'oft') await runOftBench(repeats);
  if (only === 'all' || only === 'boft') await runButterflyBench(repeats, !process.argv.includes('--no-weight-centric'));
}
