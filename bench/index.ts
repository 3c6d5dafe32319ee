// `npm run bench [-- --backend cpu|wasm|tensorflow|all|cpu,wasm,…] [--repeats N] [--only oft|boft|conv]
// [--no-weight-centric] [--peft]`: every benchmark on each backend (tensorflow: tfjs-node, when it
// loads), printed as ratios to baselines measured in the same run, with the kernels each step runs.
// `--peft` also times the same steps with PEFT on torch CPU (the venv of interop/peft/) and prints
// both overhead ratios side by side.
import * as tf from '@tensorflow/tfjs';
import { tfjsNodeLoads, useBackend } from '../scripts/tfjs-backend';
import { runOftBench } from './oft.bench';
import { runButterflyBench } from './butterfly.bench';
import { runConvBench } from './conv.bench';
import { flag, type BenchResult } from './harness';
import { printPeftComparison } from './peft-compare';

let backends = flag('backend', 'all').split(',');
if (backends[0] === 'all') {
  backends = ['cpu', 'wasm'];
  if (await tfjsNodeLoads()) backends.push('tensorflow');
  else console.log('(tensorflow skipped: @tensorflow/tfjs-node does not load; `npm run setup:tfjs-node` builds it)');
}
const repeats = Number(flag('repeats', '5'));
const only = flag('only', 'all');

const byBackend = new Map<string, BenchResult[][]>();
for (const backend of backends) {
  await useBackend(backend);
  console.log(`\n=== backend: ${tf.getBackend()} ===`);
  const groups: BenchResult[][] = []; // each with its own baselines
  if (only === 'all' || only === 'oft') groups.push(await runOftBench(repeats));
  const weightCentric = !process.argv.includes('--no-weight-centric');
  if (only === 'all' || only === 'boft') groups.push(await runButterflyBench(repeats, weightCentric));
  if (only === 'all' || only === 'conv') groups.push(await runConvBench(repeats));
  byBackend.set(tf.getBackend(), groups);
}
if (process.argv.includes('--peft')) printPeftComparison(byBackend, repeats);
