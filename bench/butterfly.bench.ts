// One training step (forward + backward + Adam update) of a 1024 → 1024 layer on 256 rows:
// ButterflyDense (b = 8, m = 2 and m = 4, exact Cayley) against a frozen Dense (gradient to the
// input only) and against a weight-centric BOFT step that builds B densely from permutation
// matrices every step, the way PEFT does (P_i kept as d × d buffers, M_i = P_i·BD_i·P_iᵀ,
// B = M_{m−1}·…·M_0, then x·(B·K ⊙ s)). Every step also computes the gradient to the input.
// Standalone: `npx tsx bench/butterfly.bench.ts [--backend cpu|wasm|tensorflow|all] [--repeats N]`.
import * as tf from '@tensorflow/tfjs';
import { pathToFileURL } from 'node:url';
import {
  blockDiagonal,
  ButterflyDense,
  butterflyPermutations,
  cayleyExact,
  packedSize,
  skewFromPacked,
} from '../src/index';
import {
  BenchCase, BenchResult, flag, printTable, profileStep, runCases, timeRatio, trainingStep,
} from './harness';
import { useBackend } from '../scripts/tfjs-backend';

const D = 1024; const UNITS = 1024; const ROWS = 256; const B = 8;

function layerStep(name: string, layer: tf.layers.Layer): BenchCase {
  tf.dispose(layer.apply(tf.zeros([1, D])) as tf.Tensor); // build
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  return trainingStep(name, [ROWS, D], (x) => layer.apply(x) as tf.Tensor, params);
}

/** PEFT's way: dense permutation buffers, dense B rebuilt every step, weight-centric product. */
function weightCentricStep(m: number, kernel: tf.Tensor2D, bias: tf.Tensor1D): { c: BenchCase; free: () => void } {
  const n = D / B;
  const p = packedSize(B);
  const perms = butterflyPermutations(D, B, m);
  const pData = new Float32Array(m * D * D);
  perms.forEach((perm, i) => perm.forEach((v, k) => { pData[i * D * D + k * D + v] = 1; }));
  const pMats = tf.tensor3d(pData, [m, D, D]);
  const r = tf.variable(tf.zeros([m, n, p]), true);
  const s = tf.variable(tf.ones([UNITS]), true);
  const forward = (x: tf.Tensor2D) => {
    const rot = cayleyExact(skewFromPacked(r.reshape([m * n, p]) as tf.Tensor2D, B));
    const bd = tf.stack(
      Array.from({ length: m }, (_, i) => blockDiagonal(rot.slice([i * n, 0, 0], [n, B, B]), n)),
    ) as tf.Tensor3D;
    const factors = tf.matMul(pMats, tf.matMul(bd, pMats, false, true));
    let full = factors.slice([0, 0, 0], [1, D, D]).reshape([D, D]) as tf.Tensor2D;
    for (let i = 1; i < m; i++)
      full = tf.matMul(factors.slice([i, 0, 0], [1, D, D]).reshape([D, D]) as tf.Tensor2D, full);
    const merged = tf.mul(tf.matMul(full, kernel), s);
    return tf.add(tf.matMul(x, merged as tf.Tensor2D), bias);
  };
  const c = trainingStep(`weight-centric BOFT m=${m} b=${B}`, [ROWS, D], forward, [r, s]);
  return { c, free: () => tf.dispose([pMats, r, s]) };
}

/** The frozen layer's arithmetic in plain ops (x·K + c, gradient to x): no layer overhead. */
function plainFrozenStep(kernel: tf.Tensor2D, bias: tf.Tensor1D): BenchCase {
  return trainingStep('frozen x·K+c (plain ops)', [ROWS, D], (x) => tf.add(tf.matMul(x, kernel), bias), []);
}

/**
 * The weight-centric steps cost seconds to minutes each (d³ matmuls): one profiled step each
 * gives both its time and its peak memory, after the fast cases have been timed.
 */
async function timeOnce(c: BenchCase): Promise<BenchResult> {
  const before = tf.memory().numBytes;
  const t0 = performance.now();
  const info = await tf.profile(async () => { await c.step(); });
  return { name: c.name, medianMs: performance.now() - t0, peakExtraBytes: Math.max(0, info.peakBytes - before),
    kernels: info.kernels.length };
}

/**
 * Prints the step-time ratios and peak memory of ButterflyDense (m = 2, 4) over the frozen
 * Dense and the weight-centric BOFT step on the current backend. Never asserts timings.
 */
export async function runButterflyBench(repeats = 5, weightCentric = true): Promise<BenchResult[]> {
  const kernel = tf.randomNormal([D, UNITS], 0, 1 / Math.sqrt(D)) as tf.Tensor2D;
  const bias = tf.zeros([UNITS]) as tf.Tensor1D;
  const frozen = tf.layers.dense({ units: UNITS, trainable: false });
  const boft2 = new ButterflyDense({ units: UNITS, boftBlockSize: B, boftNButterflyFactor: 2 });
  const boft4 = new ButterflyDense({ units: UNITS, boftBlockSize: B, boftNButterflyFactor: 4 });
  const fast = [
    layerStep('frozen Dense', frozen),
    plainFrozenStep(kernel, bias),
    layerStep(`ButterflyDense m=2 b=${B}`, boft2),
    layerStep(`ButterflyDense m=4 b=${B}`, boft4),
  ];
  frozen.setWeights([kernel, bias]);
  for (const l of [boft2, boft4]) { l.baseKernel.write(kernel); l.baseBias?.write(bias); }
  const results = await runCases(fast, repeats, 1);
  for (const c of fast) c.dispose?.();
  for (const m of weightCentric ? [2, 4] : []) {
    const wc = weightCentricStep(m, kernel, bias);
    results.push(await timeOnce(wc.c));
    wc.c.dispose?.();
    wc.free();
  }
  printTable(`ButterflyDense training step, ${D}→${UNITS}, ${ROWS} rows, backend ${tf.getBackend()} ` +
    '(weight-centric: one step each)', results,
    ['frozen Dense', 'frozen x·K+c (plain ops)', `weight-centric BOFT m=4 b=${B}`]);
  const byName = new Map(results.map((x) => [x.name, x]));
  const ratio = (a: string, b: string) => {
    const [ra, rb] = [byName.get(a), byName.get(b)];
    return (ra == null || rb == null ? NaN : timeRatio(ra, rb)).toFixed(2);
  };
  for (const m of [2, 4]) {
    const name = `ButterflyDense m=${m} b=${B}`;
    const wc = `weight-centric BOFT m=${m} b=${B}`;
    console.log(`${name} / frozen Dense: ${ratio(name, 'frozen Dense')}×, / plain x·K+c: ` +
      `${ratio(name, 'frozen x·K+c (plain ops)')}× (target on tensorflow ≤ ${m === 2 ? '1.30' : '1.60'}×)` +
      (byName.has(wc)
        ? `; weight-centric / ButterflyDense: ${ratio(wc, name)}×${m === 4 ? ' (target ≥ 5×)' : ''}` : ''));
  }
  tf.dispose([kernel, bias]);
  await runButterflyMemory();
  return results;
}

/**
 * Peak tensor memory of one BOFT training step at d = 4096, 16 units, m = 4, b = 8, 32 rows:
 * the rotation's intermediates dominate there, not the layer's own weights and activations.
 */
export async function runButterflyMemory(): Promise<void> {
  const [d, units, m, b, rows] = [4096, 16, 4, 8, 32];
  const layer = new ButterflyDense({ units, boftBlockSize: b, boftNButterflyFactor: m });
  tf.dispose(layer.apply(tf.zeros([1, d])) as tf.Tensor); // build
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const c = trainingStep(`ButterflyDense d=${d} n=${units} m=${m} b=${b}, ${rows} rows`, [rows, d],
    (x) => layer.apply(x) as tf.Tensor, params);
  await c.step(); // warm-up: optimizer slots exist before the measured step
  const { peakExtraBytes, kernels } = await profileStep(c);
  console.log(`\nMemory, ${c.name}, backend ${tf.getBackend()}: peak ${(peakExtraBytes / 2 ** 20).toFixed(1)} MiB ` +
    `over the bytes held before the step, ${kernels} kernels (target ≤ 12 MiB on cpu)`);
  c.dispose?.();
  layer.dispose();
}


if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const which = flag('backend', process.env.TFJS_BACKEND ?? 'all');
  for (const backend of which === 'all' ? ['cpu', 'wasm'] : [which]) {
    await useBackend(backend);
    console.log(`\n=== backend: ${tf.getBackend()} ===`);
    await runButterflyBench(Number(flag('repeats', '5')), !process.argv.includes('--no-weight-centric'));
  }
}
