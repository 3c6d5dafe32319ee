import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ButterflyDense, ButterflyDenseArgs, butterflyPermutations, OrthogonalDense } from '../src/index';
import { packedSize } from '../src/ops/skew';
import * as ref from './reference/dense-math';
import {
  referenceForward,
  referenceMergedKernel,
  referencePermutation,
  referenceRotation,
} from './reference/boft-reference';
import { expectFlatOverFitAndPredict, tensorsBesidesOpConstants } from './helpers/leak-check';
import { bits } from './helpers/model-snapshot';

function built(args: ButterflyDenseArgs, d: number): ButterflyDense {
  const layer = new ButterflyDense(args);
  tf.dispose(layer.apply(tf.zeros([1, d])) as tf.Tensor);
  return layer;
}

function weight(layer: tf.layers.Layer, suffix: string): tf.LayerVariable {
  const w = layer.weights.find((x) => x.originalName.endsWith(`/${suffix}`));
  if (w == null) throw new Error(`no weight ${suffix}`);
  return w;
}

function values(layer: tf.layers.Layer, suffix: string): Float32Array {
  return weight(layer, suffix).read().dataSync() as Float32Array;
}

/** Writes float32-rounded random values into every weight (boft_r with std vStd, boft_s near 1). */
function randomize(layer: ButterflyDense, seed: number, vStd: number): void {
  const random = ref.rng(seed);
  for (const w of layer.weights) {
    const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const name = w.originalName;
    let data = ref.normals(random, size, name.endsWith('boft_r') ? vStd : name.endsWith('boft_s') ? 0.2 : 0.5);
    if (name.endsWith('boft_s')) data = data.map((z) => 1 + z);
    const t = tf.tensor(data, w.shape as number[]);
    w.write(t);
    t.dispose();
  }
}


describe('ButterflyDense (BOFT, docs/math.md §5)', () => {
  it('has the permutations of docs/math.md §5 (literal example and the chunk rule)', () => {
    const perms = butterflyPermutations(8, 2, 3).map((p) => Array.from(p));
    expect(perms).to.deep.equal([[0, 1, 2, 3, 4, 5, 6, 7], [0, 2, 1, 3, 4, 6, 5, 7], [0, 2, 4, 6, 1, 3, 5, 7]]);
    expect(butterflyPermutations(8, 2, 1).map((p) => Array.from(p))).to.deep.equal([[0, 1, 2, 3, 4, 5, 6, 7]]);
    for (const [d, b, m] of [[16, 2, 4], [24, 4, 2], [32, 4, 4], [48, 6, 4], [64, 8, 4], [64, 2, 6], [96, 6, 5]]) {
      const perms2 = butterflyPermutations(d, b, m);
      for (let i = 0; i < m; i++)
        expect(Array.from(perms2[i]), `d=${d} b=${b} i=${i}`).to.deep.equal(referencePermutation(d, b, i));
    }
  });

  it('acts with factor 1 on (0,2)(1,3)(4,6)(5,7) and factor 2 on (0,4)(1,5)(2,6)(3,7) for d=8, b=2', () => {
    const layer = built({ units: 2, boftBlockSize: 2, boftNButterflyFactor: 3 }, 8);
    const expected: Record<number, number[][]> = {
      0: [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ],
      1: [
        [0, 2],
        [1, 3],
        [4, 6],
        [5, 7],
      ],
      2: [
        [0, 4],
        [1, 5],
        [2, 6],
        [3, 7],
      ],
    };
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        const v = new Float32Array(3 * 4);
        v[i * 4 + j] = 0.5; // only block j of factor i rotates
        weight(layer, 'boft_r').write(tf.tensor3d(v, [3, 4, 1]));
        const rot = layer.denseRotation();
        const data = rot.dataSync();
        const moved: number[] = [];
        for (let k = 0; k < 8; k++) if (Math.abs(data[k * 8 + k] - 1) > 1e-6) moved.push(k);
        expect(moved, `factor ${i} block ${j}`).to.deep.equal(expected[i][j]);
        rot.dispose();
      }
    }
    layer.dispose();
  });

  // d, b (or N via byNum), m, input rank, activation.
  const configs: Array<{ d: number; b: number; m: number; byNum?: boolean; rank3?: boolean; act?: 'tanh' }> = [
    { d: 8, b: 2, m: 1 }, { d: 8, b: 2, m: 2 }, { d: 8, b: 2, m: 3, rank3: true },
    { d: 16, b: 2, m: 4, byNum: true }, { d: 16, b: 4, m: 3, act: 'tanh' },
    { d: 24, b: 3, m: 1, rank3: true }, { d: 24, b: 2, m: 3, byNum: true }, { d: 20, b: 4, m: 1, byNum: true },
    { d: 32, b: 4, m: 4, rank3: true }, { d: 48, b: 6, m: 4, byNum: true }, { d: 64, b: 8, m: 4, act: 'tanh' },
    { d: 64, b: 16, m: 3, byNum: true, rank3: true }, { d: 64, b: 32, m: 2 }, { d: 64, b: 2, m: 6, byNum: true },
    { d: 128, b: 32, m: 3, byNum: true },
  ];
  for (const cfg of configs) {
    const n = cfg.d / cfg.b;
    const label = `d=${cfg.d} ${cfg.byNum ? `N=${n}` : `b=${cfg.b}`} m=${cfg.m}${cfg.rank3 ? ' ' +
      '3-D' : ''}${cfg.act ? ' tanh' : ''}`;
    it(`matches the float64 reference: outputs, B and merged kernel (${label})`, () => {
      const units = 5;
      const args: ButterflyDenseArgs = { units, boftNButterflyFactor: cfg.m, activation: cfg.act ?? 'linear' };
      if (cfg.byNum) args.boftBlockNum = n; else args.boftBlockSize = cfg.b;
      const layer = built(args, cfg.d);
      expect(weight(layer, 'boft_r').shape).to.deep.equal([cfg.m, n, packedSize(cfg.b)]);
      randomize(layer, cfg.d * 31 + cfg.m, 0.3);
      const v = values(layer, 'boft_r'); const s = values(layer, 'boft_s');
      const kernel = ref.mat(cfg.d, units, values(layer, 'kernel')); const bias = values(layer, 'bias');
      const rotRef = referenceRotation({ d: cfg.d, b: cfg.b, m: cfg.m, v });
      const rows = 6;
      const xData = ref.normals(ref.rng(cfg.d + 7), rows * cfg.d);
      const shape = cfg.rank3 ? [2, 3, cfg.d] : [rows, cfg.d];
      const x = tf.tensor(xData, shape);
      const y = layer.apply(x) as tf.Tensor;
      expect(y.shape).to.deep.equal([...shape.slice(0, -1), units]);
      const act = cfg.act === 'tanh' ? Math.tanh : (z: number) => z;
      const yRef = referenceForward(ref.mat(rows, cfg.d, xData), kernel, s, bias, rotRef, act);
      expect(ref.relErr(y.dataSync(), yRef.data), 'outputs').to.be.at.most(1e-5);
      const rot = layer.denseRotation();
      expect(ref.maxAbsDiff(rot.dataSync(), rotRef.data), 'B').to.be.at.most(1e-5);
      const merged = layer.mergedKernel();
      const mergedRef = referenceMergedKernel(rotRef, kernel, s).data;
      expect(ref.relErr(merged.dataSync(), mergedRef), 'merged').to.be.at.most(1e-5);
      tf.dispose([x, y, rot, merged]);
      layer.dispose();
    });
  }

  it('matches the reference in Cayley–Neumann mode (5 terms, small blocks)', () => {
    const layer = built(
      { units: 4, boftBlockSize: 4, boftNButterflyFactor: 3, useCayleyNeumann: true, useBias: false },
      16,
    );
    randomize(layer, 11, 0.03);
    const v = values(layer, 'boft_r');
    const rotRef = referenceRotation({ d: 16, b: 4, m: 3, v, neumannTerms: 5 });
    const rot = layer.denseRotation();
    expect(ref.maxAbsDiff(rot.dataSync(), rotRef.data)).to.be.at.most(1e-5);
    rot.dispose(); layer.dispose();
  });

  it('with m = 1 equals OrthogonalDense (exact mode) with the same blocks', () => {
    for (const [d, b] of [[12, 3], [32, 8]]) {
      const boft = built({ units: 6, boftBlockSize: b, initWeights: false, activation: 'relu' }, d);
      const ortho = new OrthogonalDense({ units: 6, oftBlockSize: b, useCayleyNeumann: false, activation: 'relu' });
      tf.dispose(ortho.apply(tf.zeros([1, d])) as tf.Tensor);
      randomize(boft, d, 0.4);
      weight(boft, 'boft_s').write(tf.ones([6]));
      const v = weight(boft, 'boft_r').read();
      weight(ortho, 'oft_r').write(v.reshape([d / b, packedSize(b)]));
      weight(ortho, 'kernel').write(weight(boft, 'kernel').read());
      weight(ortho, 'bias').write(weight(boft, 'bias').read());
      const x = tf.tensor2d(ref.normals(ref.rng(3), 5 * d), [5, d]);
      const yb = boft.apply(x) as tf.Tensor; const yo = ortho.apply(x) as tf.Tensor;
      expect(ref.maxAbsDiff(yb.dataSync(), yo.dataSync())).to.be.at.most(1e-6);
      tf.dispose([x, yb, yo]);
    }
  });

  it('starts equal to the base Dense (fromDense copies kernel and bias)', () => {
    const dense = tf.layers.dense({ units: 7, activation: 'tanh', biasInitializer: 'randomNormal' });
    const x = tf.tensor3d(ref.normals(ref.rng(9), 2 * 3 * 32), [2, 3, 32]);
    const yd = dense.apply(x) as tf.Tensor;
    const layer = ButterflyDense.fromDense(dense, { boftBlockSize: 4, boftNButterflyFactor: 4 });
    expect(bits(values(layer, 'kernel'))).to.deep.equal(bits(dense.getWeights()[0]));
    expect(Array.from(values(layer, 'boft_s'))).to.deep.equal(new Array(7).fill(1));
    const yb = layer.apply(x) as tf.Tensor;
    expect(ref.maxAbsDiff(yb.dataSync(), yd.dataSync())).to.be.at.most(1e-6);
    // Trained adapter switched off: the Dense again.
    weight(layer, 'boft_r').write(tf.randomNormal(weight(layer, 'boft_r').shape as number[]));
    layer.adapterEnabled = false;
    const yOff = layer.apply(x) as tf.Tensor;
    expect(ref.maxAbsDiff(yOff.dataSync(), yd.dataSync())).to.be.at.most(1e-6);
    tf.dispose([x, yd, yb, yOff]);
  });

  it('has the analytic gradients of the reference (finite differences on boft_r and boft_s)', () => {
    const d = 8, b = 2, m = 3, units = 3;
    const layer = built({ units, boftBlockSize: b, boftNButterflyFactor: m }, d);
    randomize(layer, 4, 0.4);
    const kernel = ref.mat(d, units, values(layer, 'kernel')); const bias = values(layer, 'bias');
    const xData = ref.normals(ref.rng(2), 4 * d); const w = ref.normals(ref.rng(6), 4 * units);
    const loss = (v: ArrayLike<number>, s: ArrayLike<number>) => {
      const y = referenceForward(ref.mat(4, d, xData), kernel, s, bias, referenceRotation({ d, b, m, v }));
      return y.data.reduce((acc, z, k) => acc + z * w[k], 0);
    };
    const x = tf.tensor2d(xData, [4, d]); const wt = tf.tensor2d(w, [4, units]);
    const vVar = weight(layer, 'boft_r'); const sVar = weight(layer, 'boft_s');
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, wt)) as tf.Scalar,
      [vVar.read() as tf.Variable, sVar.read() as tf.Variable]);
    const v0 = Float64Array.from(vVar.read().dataSync()); const s0 = Float64Array.from(sVar.read().dataSync());
    const numeric = (arr: Float64Array, which: 'v' | 's') => Array.from(arr, (_, k) => {
      const h = 1e-6; const plus = arr.slice(); const minus = arr.slice();
      plus[k] += h; minus[k] -= h;
      const f = (a: Float64Array) => (which === 'v' ? loss(a, s0) : loss(v0, a));
      return (f(plus) - f(minus)) / (2 * h);
    });
    const gv = grads[(vVar.read() as tf.Variable).name].dataSync();
    const gs = grads[(sVar.read() as tf.Variable).name].dataSync();
    expect(ref.relErr(gv, numeric(v0, 'v'))).to.be.at.most(1e-4);
    expect(ref.relErr(gs, numeric(s0, 's'))).to.be.at.most(1e-4);
    tf.dispose([x, wt, ...Object.values(grads)]);
  });

  it('gives the reference gradient to the input, W · (B·K·diag(s))ᵀ, and finite-difference boft_r gradients', () => {
    // The fused op computes ∂L/∂x and ∂L/∂boft_r itself; check both on every factor layout.
    for (const [d, b, m, rows] of [[8, 2, 1, 3], [16, 2, 4, 5], [32, 4, 3, 2], [48, 6, 2, 4]]) {
      const units = 3;
      const layer = built({ units, boftBlockSize: b, boftNButterflyFactor: m }, d);
      randomize(layer, 7 + d, 0.4);
      const kernel = ref.mat(d, units, values(layer, 'kernel')); const s = values(layer, 'boft_s');
      const xData = ref.normals(ref.rng(3), rows * d); const w = ref.normals(ref.rng(5), rows * units);
      const x = tf.variable(tf.tensor2d(xData, [rows, d])); const wt = tf.tensor2d(w, [rows, units]);
      const vVar = weight(layer, 'boft_r').read() as tf.Variable;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, wt)) as tf.Scalar, [x, vVar]);
      const v0 = Float64Array.from(vVar.dataSync());
      const merged = referenceMergedKernel(referenceRotation({ d, b, m, v: v0 }), kernel, s);
      const want = ref.matmul(ref.mat(rows, units, w), ref.transpose(merged));
      expect(ref.relErr(grads[x.name].dataSync(), want.data), `∂x d=${d} b=${b} m=${m}`).to.be.at.most(1e-5);
      const loss = (v: Float64Array) => {
        const rot = referenceRotation({ d, b, m, v });
        const y = referenceForward(ref.mat(rows, d, xData), kernel, s, values(layer, 'bias'), rot);
        return y.data.reduce((acc, z, k) => acc + z * w[k], 0);
      };
      const numeric = Array.from(v0, (_, k) => {
        const plus = v0.slice(); const minus = v0.slice(); plus[k] += 1e-6; minus[k] -= 1e-6;
        return (loss(plus) - loss(minus)) / 2e-6;
      });
      expect(ref.relErr(grads[vVar.name].dataSync(), numeric), `∂boft_r d=${d} b=${b} m=${m}`).to.be.at.most(1e-4);
      tf.dispose([x, wt, ...Object.values(grads)]);
      layer.dispose();
    }
  });

  it('dropout replaces exactly floor(p·N) blocks of one random factor by I, in training only', () => {
    const d = 32, b = 4, m = 3, n = 8, units = 4;
    const layer = built({ units, boftBlockSize: b, boftNButterflyFactor: m, boftDropout: 0.5 }, d);
    randomize(layer, 8, 0.5);
    layer.random = ref.rng(123);
    const v = values(layer, 'boft_r'); const s = values(layer, 'boft_s');
    const kernel = ref.mat(d, units, values(layer, 'kernel')); const bias = values(layer, 'bias');
    const xData = ref.normals(ref.rng(1), 3 * d); const x = tf.tensor2d(xData, [3, d]);
    const forward = (identityBlocks: { factor: number; blocks: number[] } | null) =>
      referenceForward(ref.mat(3, d, xData), kernel, s, bias, referenceRotation({ d, b, m, v, identityBlocks })).data;
    const full = forward(null);
    const factorsSeen = new Set<number>();
    for (const [p, count] of [[0.5, 4], [0.3, 2], [0.9, 7]] as const) {
      layer.boftDropout = p; // mutable between batches
      for (let t = 0; t < 8; t++) {
        const y = layer.apply(x, { training: true }) as tf.Tensor;
        const rec = layer.lastDropout!;
        expect(rec.blocks).to.have.length(count);
        expect(new Set(rec.blocks).size).to.equal(count);
        rec.blocks.forEach((j) => expect(j).to.be.within(0, n - 1));
        factorsSeen.add(rec.factor);
        expect(ref.relErr(y.dataSync(), forward(rec)), 'output = reference with those blocks → I').to.be.at.most(1e-5);
        expect(ref.relErr(y.dataSync(), full)).to.be.above(1e-3);
        y.dispose();
      }
    }
    expect(Array.from(factorsSeen).sort()).to.deep.equal([0, 1, 2]);
    // Inference ignores dropout; floor(p·N) = 0 drops nothing.
    const yi = layer.apply(x) as tf.Tensor;
    expect(ref.relErr(yi.dataSync(), full)).to.be.at.most(1e-5);
    layer.boftDropout = 0.1;
    const y0 = layer.apply(x, { training: true }) as tf.Tensor;
    expect(ref.relErr(y0.dataSync(), full)).to.be.at.most(1e-5);
    tf.dispose([x, yi, y0]);
  });

  it('rejects every invalid configuration with the layer, the numbers and the valid choices', () => {
    const make = (args: Partial<ButterflyDenseArgs>, d?: number) => () => {
      const layer = new ButterflyDense({ units: 3, name: 'bf', ...args });
      if (d != null) layer.apply(tf.zeros([1, d]));
    };
    const cases: Array<[Partial<ButterflyDenseArgs>, number | undefined, RegExp[]]> = [
      [{}, undefined, [/exactly one of boftBlockSize and boftBlockNum/, /boftBlockSize=0 and boftBlockNum=0/]],
      [{ boftBlockSize: 4, boftBlockNum: 2 }, undefined, [/exactly one/, /boftBlockSize=4 and boftBlockNum=2/]],
      [
        { boftBlockSize: 4, boftNButterflyFactor: 0 },
        undefined,
        [/boftNButterflyFactor must be an integer ≥ 1, got 0/],
      ],
      [{ boftBlockSize: 2.5 }, undefined, [/boftBlockSize must be an integer ≥ 0, got 2.5/]],
      [{ boftBlockNum: -2 }, undefined, [/boftBlockNum must be an integer ≥ 0, got -2/]],
      [{ boftBlockSize: 3, boftNButterflyFactor: 2 }, undefined, [/even boftBlockSize, got 3/, /boftBlockSize=2 or 4/]],
      [
        { boftBlockNum: 5, boftNButterflyFactor: 2 },
        undefined,
        [/divisible by 2\^1=2/, /got boftBlockNum=5/, /boftBlockNum=4 or 6/],
      ],
      [
        { boftBlockNum: 4, boftNButterflyFactor: 4 },
        undefined,
        [/divisible by 2\^3=8/, /got boftBlockNum=4/, /boftNButterflyFactor ≤ 3/, /boftBlockNum=8\b/],
      ],
      [
        { boftBlockNum: 12, boftNButterflyFactor: 4 },
        undefined,
        [/divisible by 2\^3=8/, /boftNButterflyFactor ≤ 3/, /boftBlockNum=8 or 16/],
      ],
      [
        { boftBlockSize: 4, inputShape: [10] },
        undefined,
        [/boftBlockSize=4 does not divide the input dimension 10/, /boftBlockSize=2 or 5/],
      ],
      [{ boftBlockNum: 4 }, 10, [/boftBlockNum=4 does not divide the input dimension 10/, /boftBlockNum=2 or 5/]],
      [{ boftBlockNum: 6 }, 6, [/blocks of size 1/, /boftBlockNum=3\b/]],
      [
        { boftBlockSize: 2, boftNButterflyFactor: 4 },
        12,
        [/boftNButterflyFactor=4 does not fit/, /N=6/, /2\^3=8/, /boftNButterflyFactor ≤ 2/],
      ],
      [
        { boftBlockSize: 4, boftNButterflyFactor: 2 },
        12,
        [/N divisible by 2\^1=2, got N=3/, /b=4, N=3/, /boftBlockSize=2 or 6/],
      ],
      [
        { boftBlockNum: 4, boftNButterflyFactor: 2 },
        36,
        [/even block size, got b=9/, /b=9, N=4/, /boftBlockNum=2 or 6/],
      ],
      [
        { boftBlockSize: 8, boftNButterflyFactor: 3 },
        48,
        [/N divisible by 2\^2=4, got N=6/, /boftNButterflyFactor ≤ 2 with this block size, or keep m=3: Valid/,
          /boftBlockSize=6 or 12/],
      ],
      [{ boftBlockSize: 4, boftDropout: 1 }, undefined, [/boftDropout must be in \[0, 1\), got 1/]],
      [
        { boftBlockSize: 4, numCayleyNeumannTerms: 2 },
        undefined,
        [/numCayleyNeumannTerms must be an integer ≥ 3, got 2/],
      ],
    ];
    for (const [args, d, patterns] of cases) {
      let message = '';
      try { make(args, d)(); } catch (e) { message = (e as Error).message; }
      expect(message, JSON.stringify(args)).to.match(/^ButterflyDense 'bf'/);
      for (const p of patterns) expect(message, JSON.stringify(args)).to.match(p);
    }
  });

  it('fit trains boft_r and boft_s only (kernel and bias bit-identical) and the loss falls', async () => {
    const d = 16, units = 4;
    const model = tf.sequential();
    // Seeded throughout (initializer, teacher, data, dropout draws, no shuffling), like the OFT twin.
    const layer = new ButterflyDense({
      units,
      inputShape: [d],
      boftBlockSize: 2,
      boftNButterflyFactor: 3,
      boftDropout: 0.25,
      kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }),
    });
    layer.random = ref.rng(5);
    model.add(layer);
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).to.deep.equal(['boft_r', 'boft_s']);
    // Target: the same layer with another rotation and scale, reachable by training boft_r and boft_s alone.
    const teacher = built({ units, boftBlockSize: 2, boftNButterflyFactor: 3 }, d);
    const teacherR = tf.tensor3d(ref.normals(ref.rng(6), 3 * 8, 0.3), [3, 8, 1]);
    const teacherS = tf.tensor1d(ref.normals(ref.rng(7), units, 0.1).map((z) => 1 + z));
    weight(teacher, 'boft_r').write(teacherR);
    weight(teacher, 'boft_s').write(teacherS);
    tf.dispose([teacherR, teacherS]);
    for (const name of ['kernel', 'bias']) weight(teacher, name).write(weight(layer, name).read());
    const x = tf.tensor2d(ref.normals(ref.rng(4), 64 * d), [64, d]);
    const y = teacher.apply(x) as tf.Tensor;
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const kernelBefore = bits(weight(layer, 'kernel').read()); const biasBefore = bits(weight(layer, 'bias').read());
    const rBefore = bits(weight(layer, 'boft_r').read()); const sBefore = bits(weight(layer, 'boft_s').read());
    const hist = await model.fit(x, y, { batchSize: 16, epochs: 15, shuffle: false, verbose: 0 });
    const losses = hist.history.loss as number[];
    expect(losses[losses.length - 1]).to.be.below(0.5 * losses[0]);
    expect(bits(weight(layer, 'kernel').read())).to.deep.equal(kernelBefore);
    expect(bits(weight(layer, 'bias').read())).to.deep.equal(biasBefore);
    expect(bits(weight(layer, 'boft_r').read())).to.not.deep.equal(rBefore);
    expect(bits(weight(layer, 'boft_s').read())).to.not.deep.equal(sBefore);
    const withBias = new ButterflyDense({ units, inputShape: [d], boftBlockNum: 4, biasTrainable: true });
    tf.sequential({ layers: [withBias] });
    expect(withBias.trainableWeights.map((w) => w.originalName.split('/').pop())).to.deep.equal([
      'boft_r',
      'boft_s',
      'bias',
    ]);
    tf.dispose([x, y]); model.dispose(); teacher.dispose();
  });

  it('save → load through file:// is bit-identical (config, weights, outputs)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'boft-save-'));
    const model = tf.sequential();
    model.add(
      new ButterflyDense({
        units: 8,
        inputShape: [16],
        boftBlockSize: 4,
        boftNButterflyFactor: 3,
        boftDropout: 0.25,
        initWeights: false,
        activation: 'tanh',
        biasTrainable: true,
        boftRegularizer: tf.regularizers.l2({ l2: 0.01 }),
      }),
    );
    model.add(
      new ButterflyDense({
        units: 3,
        boftBlockNum: 2,
        useCayleyNeumann: true,
        numCayleyNeumannTerms: 6,
        initWeights: false,
      }),
    );
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers.map((l) => l.getClassName())).to.deep.equal(['ButterflyDense', 'ButterflyDense']);
    expect(loaded.weights.map((w) => bits(w.read()))).to.deep.equal(model.weights.map((w) => bits(w.read())));
    expect(loaded.layers.map((l) => l.getConfig())).to.deep.equal(model.layers.map((l) => l.getConfig()));
    const first = loaded.layers[0] as ButterflyDense;
    expect([
      first.boftBlockSize,
      first.boftBlockNum,
      first.boftNButterflyFactor,
      first.boftDropout,
      first.useCayleyNeumann,
    ]).to.deep.equal([4, 0, 3, 0.25, false]);
    expect(first.trainableWeights.map((w) => w.originalName.split('/').pop())).to.deep.equal([
      'boft_r',
      'boft_s',
      'bias',
    ]);
    const x = tf.tensor2d(ref.normals(ref.rng(5), 4 * 16), [4, 16]);
    const a = model.predict(x) as tf.Tensor; const b = loaded.predict(x) as tf.Tensor;
    expect(bits(b)).to.deep.equal(bits(a));
    tf.dispose([x, a, b]); model.dispose(); loaded.dispose();
  });

  it('builds no d × d tensor in a training step (adapter memory O(m·d·b))', async () => {
    const d = 128, rows = 3;
    const layer = built({ units: 5, boftBlockSize: 8, boftNButterflyFactor: 4, boftDropout: 0.25 }, d);
    const x = tf.randomNormal([rows, d]);
    const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        params,
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    const largest = Math.max(...info.kernels.flatMap((k) => k.outputShapes.map((s) => s.reduce((a, b) => a * b, 1))));
    expect(info.kernels.length).to.be.above(20);
    expect(largest).to.be.below(d * d);
    // The dense rotation, for contrast, is d × d.
    const rot = layer.denseRotation();
    expect(rot.size).to.equal(d * d);
    tf.dispose([x, rot]);
  });

  it('keeps tf.memory().numTensors flat over 50 fit batches and 50 predicts', async () => {
    const model = tf.sequential();
    model.add(
      new ButterflyDense({
        units: 8,
        inputShape: [16],
        boftBlockSize: 2,
        boftNButterflyFactor: 4,
        boftDropout: 0.5,
        activation: 'relu',
      }),
    );
    model.add(
      new ButterflyDense({
        units: 2,
        boftBlockSize: 2,
        boftNButterflyFactor: 2,
        useCayleyNeumann: true,
        activation: 'softmax',
      }),
    );
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    (await expectFlatOverFitAndPredict(model)).dispose();
    model.dispose();
  });
});

describe('ButterflyDense on an empty batch', () => {
  for (const m of [1, 2, 3]) {
    it(`m=${m}: predicts and trains-forward to shape [0, units] (wasm once threw "divide by zero")`, () => {
      const options = { units: 3, boftBlockSize: 2, boftNButterflyFactor: m, boftDropout: 0.5, initWeights: false };
      const layer = built(options, 8);
      const before = tensorsBesidesOpConstants();
      const x = tf.zeros([0, 8]);
      const y = layer.apply(x) as tf.Tensor;
      const x3 = tf.zeros([2, 0, 8]);
      const yTrain = layer.apply(x3, { training: true }) as tf.Tensor;
      expect(y.shape).to.deep.equal([0, 3]);
      expect(yTrain.shape).to.deep.equal([2, 0, 3]);
      tf.dispose([x, x3, y, yTrain]);
      expect(tensorsBesidesOpConstants()).to.equal(before);
    });
  }
});
