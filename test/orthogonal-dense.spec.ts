import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ButterflyDense, OrthogonalDense, OrthogonalDenseArgs, OrthogonalityRegularizer } from '../src/index';
import { packedSize } from '../src/ops/skew';
import * as ref from './reference/dense-math';
import { oftForward, oftMergedKernel, oftRotation } from './reference/oft-reference';
import { expectFlatOverFitAndPredict, tensorsBesidesOpConstants } from './helpers/leak-check';
import { bits } from './helpers/model-snapshot';

const relu = (z: number) => Math.max(0, z);

function built(args: OrthogonalDenseArgs, d: number): OrthogonalDense {
  const layer = new OrthogonalDense(args);
  tf.dispose(layer.apply(tf.zeros([1, d])) as tf.Tensor); // builds it and marks it used
  return layer;
}

/** Writes float32-rounded random values into every weight; returns them. */
function randomizeWeights(layer: OrthogonalDense, seed: number, vStd: number): Float32Array[] {
  const random = ref.rng(seed);
  return layer.weights.map((w) => {
    const size = w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number;
    const values = ref.normals(random, size, w.originalName.endsWith('oft_r') ? vStd : 0.5);
    const t = tf.tensor(values, w.shape as number[]);
    w.write(t);
    t.dispose();
    return values;
  });
}

function weightValues(layer: OrthogonalDense, suffix: string): Float32Array {
  const w = layer.weights.find((x) => x.originalName.endsWith(`/${suffix}`));
  if (w == null) throw new Error(`no weight ${suffix}`);
  return w.read().dataSync() as Float32Array;
}

describe('OrthogonalDense against the float64 reference (docs/math.md §4, §9)', () => {
  const cases: Array<{ d: number; b: number; n: number; neumann: boolean; share: boolean; rank3: boolean }> = [
    { d: 8, b: 2, n: 5, neumann: false, share: false, rank3: false },
    { d: 12, b: 4, n: 7, neumann: true, share: false, rank3: true },
    { d: 24, b: 8, n: 6, neumann: false, share: true, rank3: false },
    { d: 48, b: 16, n: 9, neumann: true, share: true, rank3: true },
    { d: 64, b: 32, n: 10, neumann: false, share: false, rank3: true },
    { d: 64, b: 64, n: 4, neumann: false, share: false, rank3: false },
    { d: 96, b: 32, n: 8, neumann: true, share: false, rank3: false },
    { d: 30, b: 3, n: 5, neumann: true, share: false, rank3: true },
  ];
  for (const c of cases) {
    const label = `d=${c.d} b=${c.b} n=${c.n} ${c.neumann ? 'Neumann' : 'exact'}${c.share ? ' blockShare' : ''} ` +
      `${c.rank3 ? '3-D' : '2-D'}`;
    it(`outputs, R and merged kernel match (${label})`, () => {
      const layer = built({ units: c.n, oftBlockSize: c.b, useCayleyNeumann: c.neumann, blockShare: c.share,
                            activation: 'relu', useBias: true }, c.d);
      // Neumann is only meant for small ‖Q‖; exact Cayley is tested with large rotations too.
      const vStd = c.neumann ? 0.02 : 0.3;
      randomizeWeights(layer, c.d * 7 + c.b, vStd);
      const v = weightValues(layer, 'oft_r');
      const kernel = ref.mat(c.d, c.n, weightValues(layer, 'kernel'));
      const bias = weightValues(layer, 'bias');
      const rot = oftRotation({ b: c.b, r: c.d / c.b, v, blockShare: c.share, neumannTerms: c.neumann ? 5 : null });
      const rows = 6;
      const xs = ref.normals(ref.rng(c.n), rows * c.d);
      const x = c.rank3 ? tf.tensor3d(xs, [2, 3, c.d]) : tf.tensor2d(xs, [rows, c.d]);
      const y = layer.apply(x) as tf.Tensor;
      expect(y.shape).to.deep.equal(c.rank3 ? [2, 3, c.n] : [rows, c.n]);
      const expected = oftForward(ref.mat(rows, c.d, xs), kernel, bias, rot, relu);
      expect(ref.relErr(y.dataSync(), expected.data)).to.be.below(1e-5);
      const r = layer.denseRotation();
      expect(ref.relErr(r.dataSync(), rot.data)).to.be.below(1e-5);
      const merged = layer.mergedKernel();
      expect(ref.relErr(merged.dataSync(), oftMergedKernel(rot, kernel).data)).to.be.below(1e-5);
      if (!c.neumann) {
        const rtr = ref.matmul(ref.transpose(ref.mat(c.d, c.d, r.dataSync())), ref.mat(c.d, c.d, r.dataSync()));
        expect(ref.maxAbsDiff(rtr.data, ref.eye(c.d).data)).to.be.below(1e-5);
      }
      tf.dispose([x, y, r, merged]);
    });
  }

  it('trains exactly r · b(b−1)/2 parameters, or b(b−1)/2 with blockShare', () => {
    const a = built({ units: 3, oftBlockSize: 32 }, 4096);
    expect(a.countParams() - 4096 * 3 - 3).to.equal(63488);
    expect(a.trainableWeights.map((w) => w.shape)).to.deep.equal([[128, 496]]);
    const s = built({ units: 3, oftBlockSize: 32, blockShare: true }, 256);
    expect(s.trainableWeights.map((w) => w.shape)).to.deep.equal([[1, 496]]);
  });
});

describe('OrthogonalDense as a drop-in Dense', () => {
  it('equals the base Dense at identity init (2-D and 3-D inputs, exact and Neumann)', () => {
    for (const useCayleyNeumann of [true, false]) {
      const dense = tf.layers.dense({ units: 7, activation: 'tanh', inputShape: [16] });
      const x2 = tf.randomNormal([5, 16]);
      const x3 = tf.randomNormal([2, 3, 16]);
      const base2 = dense.apply(x2) as tf.Tensor;
      const base3 = dense.apply(x3) as tf.Tensor;
      const oft = OrthogonalDense.fromDense(dense, { oftBlockSize: 4, useCayleyNeumann });
      const y2 = oft.apply(x2) as tf.Tensor;
      const y3 = oft.apply(x3) as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(y2, base2))).dataSync()[0]).to.be.at.most(1e-6);
      expect(tf.max(tf.abs(tf.sub(y3, base3))).dataSync()[0]).to.be.at.most(1e-6);
      expect(oft.name).to.equal(dense.name);
      tf.dispose([x2, x3, base2, base3, y2, y3]);
    }
  });

  it('fit trains oft_r only: kernel and bias stay bit-identical and the loss falls', async () => {
    const d = 16; const n = 4;
    const model = tf.sequential();
    // Seeded throughout (initializer, data, no shuffling) so that the run is the same every time.
    model.add(new OrthogonalDense({ units: n, inputShape: [d], oftBlockSize: 4,
                                    kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }));
    const layer = model.layers[0] as OrthogonalDense;
    // Target: the same layer with a rotated input, reachable by training oft_r alone.
    const teacher = built({ units: n, oftBlockSize: 4, initWeights: false }, d);
    teacher.setWeights([tf.tensor2d(ref.normals(ref.rng(1), 24, 0.3), [4, 6]), ...layer.getWeights().slice(1)]);
    const x = tf.tensor2d(ref.normals(ref.rng(2), 128 * d), [128, d]);
    const yT = teacher.apply(x) as tf.Tensor;
    const kernelBefore = Array.from(weightValues(layer, 'kernel'));
    const biasBefore = Array.from(weightValues(layer, 'bias'));
    const rBefore = Array.from(weightValues(layer, 'oft_r'));
    model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
    const h = await model.fit(x, yT, { epochs: 15, batchSize: 32, shuffle: false, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses[losses.length - 1]).to.be.below(0.2 * losses[0]);
    expect(Array.from(weightValues(layer, 'kernel'))).to.deep.equal(kernelBefore);
    expect(Array.from(weightValues(layer, 'bias'))).to.deep.equal(biasBefore);
    expect(ref.maxAbsDiff(weightValues(layer, 'oft_r'), rBefore)).to.be.above(1e-3);
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).to.deep.equal(['oft_r']);
    tf.dispose([x, yT]);
    model.dispose();
  });

  it('biasTrainable: true trains the bias as well', () => {
    const layer = built({ units: 3, oftBlockSize: 2, biasTrainable: true }, 4);
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop()).sort()).to.deep.equal(['bias', 'oft_r']);
  });

  it('adapterEnabled = false computes the frozen Dense', () => {
    const layer = built({ units: 3, oftBlockSize: 2, initWeights: false }, 4);
    const x = tf.randomNormal([3, 4]);
    const [, kernel, bias] = layer.getWeights();
    const plain = tf.add(tf.matMul(x, kernel), bias);
    const on = layer.apply(x) as tf.Tensor;
    layer.adapterEnabled = false;
    const off = layer.apply(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(off, plain))).dataSync()[0]).to.be.at.most(1e-6);
    expect(tf.max(tf.abs(tf.sub(on, plain))).dataSync()[0]).to.be.above(1e-3);
    tf.dispose([x, plain, on, off]); // getWeights() returns the variables themselves: not disposed
  });
});

describe('OrthogonalDense and tfjs automatic layer names', () => {
  it('leaves the numbering of the next dense unchanged (its private templates have a fixed name)', () => {
    const uid = (layer: tf.layers.Layer) => Number(/(\d+)$/.exec(layer.name)![1]);
    const before = tf.layers.dense({ units: 2 });
    const adapters = [
      new OrthogonalDense({ units: 2, oftBlockSize: 2, oftRegularizer: new OrthogonalityRegularizer() }),
      new ButterflyDense({ units: 2, boftBlockSize: 2, boftRegularizer: new OrthogonalityRegularizer() }),
    ];
    const after = tf.layers.dense({ units: 2 });
    expect(uid(after)).to.equal(uid(before) + 1);
    expect(adapters.map((l) => l.name)).to.satisfy((names: string[]) => names.every((n) => !n.startsWith('dense')));
  });
});

describe('OrthogonalDense block sizes (docs/math.md §4)', () => {
  let warnings: string[] = [];
  const original = console.warn;
  beforeEach(() => { warnings = []; console.warn = (m: string) => { warnings.push(String(m)); }; });
  afterEach(() => { console.warn = original; });

  const adjust = [
    { d: 100, args: { oftBlockSize: 32 }, b: 25, r: 4 },
    { d: 10, args: { oftBlockSize: 32 }, b: 10, r: 1 },
    { d: 12, args: { oftBlockSize: 5 }, b: 4, r: 3 },     // 4 and 6 tie: the smaller wins
    { d: 12, args: { r: 5 }, b: 3, r: 4 },                 // r: 4 and 6 tie → 4
    { d: 64, args: { oftBlockSize: 16 }, b: 16, r: 4 },
  ];
  for (const c of adjust) {
    it(`d=${c.d}, ${JSON.stringify(c.args)} → b=${c.b}, r=${c.r}`, () => {
      const layer = built(
        { units: 2, name: `adj_${c.d}_${JSON.stringify(c.args).replace(/\W/g, '')}`, ...c.args },
        c.d,
      );
      expect(layer.numOftBlocks).to.equal(c.r);
      expect(layer.trainableWeights[0].shape).to.deep.equal([c.r, packedSize(c.b)]);
      const changed =
        c.d % ((c.args as { oftBlockSize?: number }).oftBlockSize ?? c.d / (c.args as { r: number }).r) !== 0 ||
        ((c.args as { oftBlockSize?: number }).oftBlockSize ?? 0) > c.d;
      if (changed) {
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.contain(layer.name).and.to.match(/using/);
      } else {
        expect(warnings).to.have.length(0);
      }
    });
  }

  it('rejects block size 1 (no rotation) with the fix', () => {
    expect(() => built({ units: 2, r: 7, oftBlockSize: 0, name: 'prime' }, 7)).to.throw(/prime.*block of size 1/);
  });
});

describe('OrthogonalDense configuration errors', () => {
  const bad: Array<[Partial<OrthogonalDenseArgs>, RegExp]> = [
    [{ r: 4, oftBlockSize: 8 }, /exactly one of r and oftBlockSize.*r=4.*oftBlockSize=8/],
    [{ r: 0, oftBlockSize: 0 }, /exactly one of r and oftBlockSize.*r=0.*oftBlockSize=0/],
    [{ oftBlockSize: -4 }, /oftBlockSize must be an integer ≥ 0, got -4/],
    [{ oftBlockSize: 2.5 }, /oftBlockSize must be an integer ≥ 0, got 2.5/],
    [{ r: -1 }, /r must be an integer ≥ 0, got -1/],
    [{ numCayleyNeumannTerms: 2 }, /numCayleyNeumannTerms must be an integer ≥ 3, got 2/],
    [{ moduleDropout: 1 }, /moduleDropout must be in \[0, 1\), got 1/],
    [{ moduleDropout: -0.1 }, /moduleDropout must be in \[0, 1\), got -0.1/],
    [{ eps: 0 }, /eps must be a finite number > 0, got 0/],
    [{ units: 0 }, /units must be a positive integer, got 0/],
  ];
  for (const [args, pattern] of bad) {
    it(`throws at construction for ${JSON.stringify(args)}`, () => {
      const make = () => new OrthogonalDense({ units: 3, name: 'bad_layer', ...args } as OrthogonalDenseArgs);
      expect(make).to.throw(pattern);
      expect(make).to.throw(/OrthogonalDense 'bad_layer'/);
    });
  }
  it('r alone (without oftBlockSize) is accepted', () => {
    const layer = built({ units: 2, r: 2 }, 8);
    expect(layer.numOftBlocks).to.equal(2);
  });
});

describe('OrthogonalDense module dropout (docs/math.md §4)', () => {
  /** Layer with K = I (d = n, no bias) so that the output is x · R_effective. */
  function identityKernelLayer(d: number, b: number, p: number): OrthogonalDense {
    const layer = built({ units: d, oftBlockSize: b, moduleDropout: p, useBias: false, initWeights: false,
                          useCayleyNeumann: false }, d);
    const eye = tf.eye(d);
    layer.baseKernel.write(eye);
    eye.dispose();
    return layer;
  }

  /** Which blocks of x · R_eff equal x (dropped to I). */
  function droppedBlocks(layer: OrthogonalDense, x: tf.Tensor, b: number, training: boolean): number[] {
    const y = layer.apply(x, { training }) as tf.Tensor;
    const yd = y.dataSync(); const xd = x.dataSync();
    const d = x.shape[1] as number;
    const dropped: number[] = [];
    for (let j = 0; j < d / b; j++) {
      let diff = 0;
      for (let row = 0; row < (x.shape[0] as number); row++) {
        for (let t = 0; t < b; t++) diff = Math.max(diff, Math.abs(yd[row * d + j * b + t] - xd[row * d + j * b + t]));
      }
      if (diff < 1e-6) dropped.push(j);
    }
    y.dispose();
    return dropped;
  }

  it('replaces exactly floor(p · r) random blocks by I per training call, none at inference', () => {
    const d = 32; const b = 4; const p = 0.3; // r = 8 → 2 blocks
    const layer = identityKernelLayer(d, b, p);
    const x = tf.randomNormal([3, d]);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const dropped = droppedBlocks(layer, x, b, true);
      expect(dropped).to.have.length(Math.floor(p * 8));
      seen.add(dropped.join(','));
    }
    expect(seen.size).to.be.above(3);
    expect(droppedBlocks(layer, x, b, false)).to.have.length(0);
    x.dispose();
  });

  it('the rate can change between batches, and model.fit really drops', async () => {
    const d = 16; const b = 4;
    const layer = identityKernelLayer(d, b, 0.5);
    const x = tf.randomNormal([2, d]);
    layer.moduleDropout = 0.75;
    expect(droppedBlocks(layer, x, b, true)).to.have.length(3);
    layer.moduleDropout = 0;
    expect(droppedBlocks(layer, x, b, true)).to.have.length(0);
    layer.moduleDropout = 0.5;
    let draws = 0;
    layer.random = () => { draws++; return Math.random(); };
    const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [d] }), layer] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await model.fit(tf.randomNormal([8, d]), tf.randomNormal([8, d]), { batchSize: 2, epochs: 1, verbose: 0 });
    expect(draws).to.equal(4 * 2); // 4 batches × floor(0.5 · 4) picks
    draws = 0;
    tf.dispose(model.predict(x) as tf.Tensor);
    expect(draws).to.equal(0);
    x.dispose(); model.dispose();
  });
});

describe('OrthogonalDense COFT (docs/math.md §4)', () => {
  it('keeps every block within ‖Q_j‖_F ≤ eps/√r after model.fit steps', async () => {
    const d = 16; const b = 4; const eps = 0.05;
    const model = tf.sequential();
    model.add(new OrthogonalDense({ units: 4, inputShape: [d], oftBlockSize: b, coft: true, eps }));
    const layer = model.layers[0] as OrthogonalDense;
    model.compile({ optimizer: tf.train.adam(0.1), loss: 'meanSquaredError' });
    await model.fit(tf.randomNormal([64, d]), tf.randomNormal([64, 4]), { epochs: 3, batchSize: 16, verbose: 0 });
    const v = weightValues(layer, 'oft_r');
    const radius = eps / Math.sqrt(4);
    const p = packedSize(b);
    let largest = 0;
    for (let j = 0; j < 4; j++) {
      const q = ref.skew(v.slice(j * p, (j + 1) * p), b);
      largest = Math.max(largest, Math.sqrt(q.data.reduce((s, e) => s + e * e, 0)));
    }
    expect(largest).to.be.at.most(radius * (1 + 1e-5));
    expect(largest).to.be.above(radius * 0.99); // Adam at lr 0.1 pushes to the boundary
    model.dispose();
  });

  it('leaves blocks inside the ball unchanged (bit for bit)', () => {
    const layer = built({ units: 2, oftBlockSize: 4, coft: true, eps: 1 }, 8);
    const v = tf.tensor2d([[0.01, -0.02, 0.03, 0, 0.01, 0.02], [0, 0, 0, 0, 0, 0.1]]);
    layer.packedParameters.write(v);
    expect(Array.from(weightValues(layer, 'oft_r'))).to.deep.equal(Array.from(v.dataSync()));
    v.dispose();
  });
});

describe('OrthogonalDense COFT: loading never changes stored values', () => {
  it('a COFT model with every block on the boundary reloads bit-identically: save → load → save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-coft-'));
    const model = tf.sequential();
    model.add(new OrthogonalDense({ units: 4, inputShape: [256], oftBlockSize: 4, coft: true, eps: 0.05 }));
    // 64 blocks projected onto the sphere (as training leaves them): re-projecting any of them
    // on load would move it by an ulp.
    const big = tf.randomNormal([64, 6], 0, 1, 'float32', 3);
    (model.layers[0] as OrthogonalDense).packedParameters.write(big);
    const x = tf.randomNormal([8, 256], 0, 1, 'float32', 4);
    const stored = Array.from(weightValues(model.layers[0] as OrthogonalDense, 'oft_r'));
    await model.save(`file://${dir}/a`);
    const loaded = await tf.loadLayersModel(`file://${dir}/a/model.json`);
    // Independent of the layer: the bytes in the file are what the model held.
    const bytes = readFileSync(join(dir, 'a', 'weights.bin'));
    const fileValues = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, stored.length));
    expect(fileValues).to.deep.equal(stored);
    expect(Array.from(weightValues(loaded.layers[0] as OrthogonalDense, 'oft_r'))).to.deep.equal(stored);
    const [ya, yb] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(yb.dataSync())).to.deep.equal(Array.from(ya.dataSync()));
    await loaded.save(`file://${dir}/b`);
    expect(readFileSync(join(dir, 'b', 'weights.bin')).equals(bytes)).to.equal(true);
    tf.dispose([x, big, ya, yb]);
    model.dispose(); loaded.dispose();
  });
});

describe('OrthogonalDense serialization and memory', () => {
  const allOptions: OrthogonalDenseArgs = {
    units: 6, activation: 'relu', useBias: true, oftBlockSize: 0, r: 2, useCayleyNeumann: false,
    numCayleyNeumannTerms: 7, coft: true, eps: 0.5, blockShare: true, moduleDropout: 0.25, initWeights: false,
    biasTrainable: true, name: 'every_option',
  };

  it('getConfig → fromConfig round-trips every option (through snake_case JSON)', async () => {
    const model = tf.sequential({ layers: [new OrthogonalDense({ ...allOptions, inputShape: [8] })] });
    const json = JSON.stringify(model.toJSON(null, false));
    expect(json).to.contain('"class_name":"OrthogonalDense"').and.to.contain('"num_cayley_neumann_terms":7');
    const rebuilt = await tf.models.modelFromJSON(JSON.parse(json));
    const layer = rebuilt.layers[0] as OrthogonalDense;
    const a = model.layers[0].getConfig(); const b = layer.getConfig();
    expect(b).to.deep.equal(a);
    expect(layer.coft).to.equal(true); expect(layer.blockShare).to.equal(true);
    expect(layer.moduleDropout).to.equal(0.25); expect(layer.numCayleyNeumannTerms).to.equal(7);
    expect(layer.r).to.equal(2); expect(layer.biasTrainable).to.equal(true);
    model.dispose(); rebuilt.dispose();
  });

  it('save → load in a fresh process is bit-identical (weights and outputs)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-save-'));
    const model = tf.sequential();
    model.add(
      new OrthogonalDense({ units: 5, inputShape: [12], oftBlockSize: 4, initWeights: false, activation: 'tanh' }),
    );
    model.add(new OrthogonalDense({ units: 3, oftBlockSize: 5, useCayleyNeumann: false, initWeights: false }));
    await model.save(`file://${dir}`);
    const xs = Array.from(ref.normals(ref.rng(5), 4 * 12));
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ shape: [4, 12], data: xs }));
    const y = model.predict(tf.tensor2d(xs, [4, 12])) as tf.Tensor;
    const out = JSON.parse(execFileSync('npx', ['tsx', 'test/helpers/predict-in-fresh-process.ts',
      join(dir, 'model.json'), join(dir, 'input.json')], { encoding: 'utf8', env: process.env }));
    expect(out.classes).to.deep.equal(['OrthogonalDense', 'OrthogonalDense']);
    expect(Object.values(out.weights)).to.deep.equal(model.weights.map((w) => bits(w.read())));
    expect(out.output).to.deep.equal(bits(y));
    y.dispose(); model.dispose();
  });

  it('keeps tf.memory().numTensors flat over 50 fit batches, 50 predicts and 5 save/load cycles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-leak-'));
    const build = () => {
      const m = tf.sequential();
      m.add(
        new OrthogonalDense({ units: 8, inputShape: [16], oftBlockSize: 4, moduleDropout: 0.5, coft: true, eps: 0.1 }),
      );
      m.add(new OrthogonalDense({ units: 2, oftBlockSize: 4, useCayleyNeumann: false, activation: 'softmax' }));
      m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
      return m;
    };
    const model = build();
    const { start, x, dispose } = await expectFlatOverFitAndPredict(model);
    for (let i = 0; i < 5; i++) {
      await model.save(`file://${dir}`);
      const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
      tf.dispose(tf.tidy(() => loaded.predict(x.slice(0, 4)) as tf.Tensor));
      loaded.dispose();
    }
    expect(tensorsBesidesOpConstants()).to.equal(start);
    dispose();
    model.dispose();
  });
});
