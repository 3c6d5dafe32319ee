// `npx tsx bench/kernel-cost.bench.ts [--repeats N]`: what one kernel costs on the tensorflow backend
// (tfjs-node), with TensorFlow's default intra-op thread pool and with one thread
// (TF_NUM_INTRAOP_THREADS=1, read when TensorFlow starts: each setting runs in its own process).
// The small kernels an adapter adds to a step (the ops on its [32, 32, 32] blocks, the transposes
// around its block products, the optimizer's update) cost far more than their arithmetic, mostly for
// handing the work to the pool's threads and back, which the frozen step's two large products
// amortize. This is why the tensorflow ratios of `npm run bench` stay above the targets
// (README, Benchmarks).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../scripts/tfjs-backend';
import { cayleyFromPacked } from '../src/ops/cayley';
import { flag } from './harness';

/** Median microseconds of one call of `f` (its result disposed), over `repeats` batches of 20 calls. */
function microseconds(f: () => tf.Tensor | tf.Tensor[], repeats: number): number {
  for (let i = 0; i < 20; i++) tf.dispose(f());
  const batches: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) tf.dispose(f());
    batches.push(((performance.now() - t0) / 20) * 1000);
  }
  batches.sort((a, b) => a - b);
  return batches[Math.floor(batches.length / 2)];
}

/** The measurements of one process, as name → µs (printed as JSON for the parent). */
async function measure(repeats: number): Promise<Record<string, number>> {
  await useBackend('tensorflow');
  const blocks = tf.randomNormal([32, 32, 32]);
  const x = tf.randomNormal([256, 1024]);
  const kernel = tf.randomNormal([1024, 1024], 0, 1 / 32);
  const packed = tf.variable(tf.randomNormal([32, 496], 0, 0.02)) as tf.Variable<tf.Rank.R2>;
  const w = tf.randomNormal([32, 32, 32]);
  const out = {
    'batched matmul [32, 32, 32]²': microseconds(() => tf.matMul(blocks, blocks), repeats),
    'transpose [256, 32, 32] → [32, 256, 32]': microseconds(() => tf.tidy(() =>
      tf.transpose(tf.reshape(x, [256, 32, 32]), [1, 0, 2])), repeats),
    'add [32, 496] + [32, 496]': microseconds(() => tf.add(packed, packed), repeats),
    'oft_r → blocks → oft_r gradient (Neumann, b = 32)': microseconds(() => tf.tidy(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(cayleyFromPacked(v as tf.Tensor2D, 32, 5), w)))(packed)), repeats),
    'frozen step: x·K, gradient to x': microseconds(() => tf.tidy(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.matMul(v, kernel))))(x)), Math.max(3, Math.floor(repeats / 4))),
  };
  tf.dispose([blocks, x, kernel, packed, w]);
  return out;
}

async function main(): Promise<void> {
  const repeats = Number(flag('repeats', '15'));
  if (process.argv.includes('--child')) {
    console.log(`RESULT ${JSON.stringify(await measure(repeats))}`);
    return;
  }
  const run = (env: Record<string, string>): Record<string, number> => {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--repeats', String(repeats)];
    const output = execFileSync(process.execPath, args,
      { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = output.split('\n').find((l) => l.startsWith('RESULT '));
    if (line == null) throw new Error('kernel-cost: a measuring process printed no result');
    return JSON.parse(line.slice('RESULT '.length)) as Record<string, number>;
  };
  const pooled = run({});
  const single = run({ TF_NUM_INTRAOP_THREADS: '1' });
  console.log('\nOne call on the tensorflow backend, µs (median of batches of 20; each column its own process)');
  console.log('| operation | default thread pool | TF_NUM_INTRAOP_THREADS=1 |');
  console.log('|---|---:|---:|');
  for (const name of Object.keys(pooled)) {
    console.log(`| ${name} | ${pooled[name].toFixed(0)} | ${single[name].toFixed(0)} |`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
