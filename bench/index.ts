// `npm run bench [-- --backend cpu|wasm|tensorflow|all] [--repeats N]`: every benchmark on each backend
// (tensorflow: tfjs-node, when it loads), printed as ratios to baselines measured in the same run.
import * as tf from '@tensorflow/tfjs';
import { tfjsNodeLoads, useBackend } from '../scripts/tfjs-backend';
import { runOftBench } from './oft.bench';
import { runButterflyBench } from './butterfly.bench';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback;
}

let backends = [flag('backend', 'all')];
if (backends[0] === 'all') {
  backends = ['cpu', 'wasm'];
  if (await tfjsNodeLoads()) backends.push('tensorflow');
  else console.log('(tensorflow skipped: @tensorflow/tfjs-node does not load; `npm run setup:tfjs-node` builds it)');
}
const repeats = Number(flag('repeats', '5'));
const only = flag('only', 'all');

for (const backend of backends) {
  await useBackend(backend);
  console.log(`\n=== backend: ${tf.getBackend()} ===`);
  if (only === 'all' || only === 'oft') await runOftBench(repeats);
  if (only === 'all' || only === 'boft') await runButterflyBench(repeats);
}
