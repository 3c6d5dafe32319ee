import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyBoft, applyOft, ButterflyDense, fileSystem, findAdapterLayers, inferenceModeForFrozenBatchNorm, loadAdapter,
  mergeAndUnload, OrthogonalDense, printTrainableParameters, saveAdapter, setAdaptersEnabled, trainableParameters,
  withAdaptersDisabled,
} from '../src/index';
import * as ref from './reference/dense-math';
import { oftRotation } from './reference/oft-reference';
import { referenceRotation } from './reference/boft-reference';
import { bits, bytesOf, snapshot } from './helpers/model-snapshot';
import {
  seededTensor, sequentialMlp, sharedNestedModel, tinyVit, VIT_CLASSES, VIT_DENSE, VIT_DIM, VIT_HIDDEN, VIT_TOKENS,
} from './surgery-models';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

const TARGETS = ['query', 'value', 'key', 'output.dense', 'mlp.fc1', 'mlp.fc2'];
const BOFT_CONFIG = {
  boftBlockSize: 4, boftNButterflyFactor: 2, targetModules: TARGETS, boftDropout: 0.1, bias: 'boft_only' as const,
  modulesToSave: ['classifier'],
};
const OFT_CONFIG = { oftBlockSize: 32, useCayleyNeumann: true, targetModules: 'all-linear' as const };


function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return ref.maxAbsDiff(a.dataSync(), b.dataSync());
}

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return maxAbsDiff(a, b) / Math.max(1e-12, ref.maxAbs(b.dataSync()));
}

/**
 * Identity-init / adapters-off outputs against the base model: bit-identical on cpu; docs/math.md §9
 * (max abs diff ≤ 1e-6) elsewhere, because tfjs' Dense uses a fused matMul+bias kernel that
 * rounds differently on wasm from the adapter's separate matMul and add.
 */
function expectEqualsBase(got: tf.Tensor, base: tf.Tensor): void {
  if (tf.getBackend() === 'cpu') expect(bits(got)).to.deep.equal(bits(base));
  else expect(maxAbsDiff(got, base)).to.be.at.most(1e-6);
}

function names(ws: tf.LayerVariable[]): string[] {
  return ws.map((w) => w.originalName).sort();
}

/** One-hot labels from a deterministic rule on the inputs (learnable, not random). */
function labelsFor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const score = x.mean(1).slice([0, 0], [-1, VIT_CLASSES]);
    return tf.oneHot(score.argMax(1), VIT_CLASSES).toFloat();
  });
}

describe('surgery: applyOft / applyBoft on a ViT-shaped functional model', function () {
  this.timeout(120000);
  let base: tf.LayersModel;
  let x: tf.Tensor;
  let y: tf.Tensor;
  let yBase: tf.Tensor;

  before(() => {
    base = tinyVit();
    x = seededTensor([32, VIT_TOKENS, VIT_DIM], 7);
    y = labelsFor(x);
    yBase = base.predict(x) as tf.Tensor;
  });
  after(() => {
    tf.dispose([x, y, yBase]);
    base.dispose();
  });

  it('applyBoft: exact trainable set, parameter counts, identity init equals the base exactly', () => {
    const before = snapshot(base);
    const model = applyBoft(base, BOFT_CONFIG);
    const expected = [
      ...TARGETS.flatMap((t) => [`${t}/boft_r`, `${t}/boft_s`, `${t}/bias`]),
      'classifier/kernel',
      'classifier/bias',
    ];
    expect(names(model.trainableWeights)).to.deep.equal([...expected].sort());
    for (const t of TARGETS) expect(model.getLayer(t).getClassName()).to.equal('ButterflyDense');
    expect(model.getLayer('classifier').getClassName()).to.equal('Dense');
    // Closed form (docs/math.md §5): m·N·b(b−1)/2 + n adapter parameters per layer, plus the bias.
    const adapterParams = TARGETS.reduce((s, t) => s + 2 * (VIT_DENSE[t].d / 4) * 6 + VIT_DENSE[t].n, 0);
    const biasParams = TARGETS.reduce((s, t) => s + VIT_DENSE[t].n, 0);
    const classifierParams = VIT_DIM * VIT_CLASSES + VIT_CLASSES;
    const baseTotal = base.countParams();
    const counts = trainableParameters(model);
    expect(counts).to.deep.equal({
      trainable: adapterParams + biasParams + classifierParams,
      total: baseTotal + adapterParams,
    });
    const line = printTrainableParameters(model);
    const pct = (100 * counts.trainable) / counts.total;
    expect(line).to.equal(`trainable params: ${counts.trainable.toLocaleString('en-US')} || all params: ` +
      `${counts.total.toLocaleString('en-US')} || trainable%: ${pct.toFixed(4)}`);
    const out = model.predict(x) as tf.Tensor;
    expectEqualsBase(out, yBase);
    for (const t of TARGETS) {
      const layer = model.getLayer(t) as ButterflyDense;
      expect(bits(layer.baseKernel.read())).to.deep.equal(bits(base.getLayer(t).getWeights()[0]));
      expect(layer.boftDropout).to.equal(0.1);
    }
    expect(snapshot(base)).to.equal(before);
    out.dispose();
    model.dispose();
  });

  it('applyOft all-linear: every Dense but the output layer, only oft_r trains, outputs equal the base', () => {
    const model = applyOft(base, OFT_CONFIG);
    expect(names(model.trainableWeights)).to.deep.equal(TARGETS.map((t) => `${t}/oft_r`).sort());
    expect(model.getLayer('classifier').getClassName()).to.equal('Dense');
    expect(model.getLayer('classifier').trainable).to.equal(false);
    expect(model.getLayer('norm1').trainableWeights).to.have.length(0);
    const layers = findAdapterLayers(model);
    expect(layers.map((l) => l.name)).to.deep.equal(['query', 'key', 'value', 'output.dense', 'mlp.fc1', 'mlp.fc2']);
    expect(layers.every((l) => l instanceof OrthogonalDense && l.useCayleyNeumann)).to.equal(true);
    // docs/math.md §4: r · b(b−1)/2 per layer, b = 32.
    const expected = 5 * (VIT_DIM / 32) * 496 + (VIT_HIDDEN / 32) * 496;
    expect(trainableParameters(model).trainable).to.equal(expected);
    const out = model.predict(x) as tf.Tensor;
    expectEqualsBase(out, yBase);
    out.dispose();
    model.dispose();
  });

  for (const method of ['oft', 'boft'] as const) {
    it(`${method}: fit reduces the loss, frozen weights stay, merge matches within 1e-5 and loads without ` +
      `tfjs-oft`, async () => {
      const before = snapshot(base);
      const model = method === 'oft' ? applyOft(base, OFT_CONFIG) : applyBoft(base, BOFT_CONFIG);
      const frozen = model.weights.filter((w) => !w.trainable).map((w) => [w.originalName, bytesOf(w.read())]);
      const optimizer = tf.train.adam(0.01);
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const loss0 = model.evaluate(x, y) as tf.Scalar;
      const l0 = loss0.dataSync()[0];
      await model.fit(x, y, { epochs: 15, batchSize: 16, verbose: 0, shuffle: false });
      const loss1 = model.evaluate(x, y) as tf.Scalar;
      const l1 = loss1.dataSync()[0];
      expect(l1).to.be.lessThan(0.9 * l0);
      expect(model.weights.filter((w) => !w.trainable).map((w) => [w.originalName, bytesOf(w.read())])).to.deep.equal(
        frozen,
      );
      expect(snapshot(base)).to.equal(before);

      const yModel = model.predict(x) as tf.Tensor;
      expect(maxAbsDiff(yModel, yBase)).to.be.greaterThan(1e-4); // training changed something
      const merged = mergeAndUnload(model);
      const yMerged = merged.predict(x) as tf.Tensor;
      const rel = relDiff(yMerged, yModel);
      console.log(`      [${method} merged vs unmerged: max|Δ|/max|y| = ${rel.toExponential(2)}]`);
      expect(rel).to.be.at.most(1e-5);
      expect(merged.layers.map((l) => l.getClassName())).to.deep.equal(base.layers.map((l) => l.getClassName()));
      expect(merged.layers.map((l) => l.trainable)).to.deep.equal(base.layers.map((l) => l.trainable));
      expect(findAdapterLayers(merged)).to.have.length(0);

      // Merged kernel against an independent float64 product R·K·diag(s) for one layer (OFT: s = 1),
      // R built by test/reference/ from the layer's trained parameters.
      const q = model.getLayer('query') as OrthogonalDense | ButterflyDense;
      const v = q.packedParameters.read().dataSync();
      const rot = method === 'oft'
        ? oftRotation({ b: 32, r: VIT_DIM / 32, v, blockShare: false, neumannTerms: 5 })
        : referenceRotation({ d: VIT_DIM, b: 4, m: 2, v, neumannTerms: null });
      const k = ref.mat(VIT_DIM, VIT_DIM, q.baseKernel.read().dataSync());
      const rk = ref.matmul(rot, k);
      const s = q instanceof ButterflyDense ? q.boftScale.read().dataSync() : null;
      if (s) for (let i = 0; i < VIT_DIM; i++) for (let j = 0; j < VIT_DIM; j++) rk.data[i * VIT_DIM + j] *= s[j];
      const mergedKernel = merged.getLayer('query').getWeights()[0];
      expect(ref.relErr(mergedKernel.dataSync(), rk.data)).to.be.at.most(1e-5);

      const dir = mkdtempSync(join(tmpdir(), `surgery-merged-${method}-`));
      await merged.save(`file://${dir}`);
      const json = readFileSync(join(dir, 'model.json'), 'utf8');
      expect(json).not.to.match(/OrthogonalDense|ButterflyDense|oft_r|boft_/);
      writeFileSync(join(dir, 'input.json'), JSON.stringify({ shape: x.shape, data: Array.from(x.dataSync()) }));
      const fresh = JSON.parse(
        execFileSync(
          'npx',
          [
            'tsx',
            'test/helpers/predict-in-fresh-process.ts',
            join(dir, 'model.json'),
            join(dir, 'input.json'),
            '--no-tfjs-oft',
          ],
          { encoding: 'utf8', env: process.env },
        ),
      );
      expect(fresh.output).to.deep.equal(bits(yMerged));

      tf.dispose([loss0, loss1, yModel, yMerged]);
      optimizer.dispose();
      model.dispose();
      merged.dispose();
    });
  }

  it('boft: full save/load round trip is bit-identical (classes, weights, trainable set, outputs)', async () => {
    const model = applyBoft(base, { ...BOFT_CONFIG, initWeights: false });
    const dir = mkdtempSync(join(tmpdir(), 'surgery-full-'));
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers.map((l) => l.getClassName())).to.deep.equal(model.layers.map((l) => l.getClassName()));
    expect(names(loaded.trainableWeights)).to.deep.equal(names(model.trainableWeights));
    expect(loaded.weights.map((w) => [w.originalName, bits(w.read())])).to.deep.equal(
      model.weights.map((w) => [w.originalName, bits(w.read())]),
    );
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(bits(b)).to.deep.equal(bits(a));
    expect(maxAbsDiff(a, yBase)).to.be.greaterThan(1e-4);
    tf.dispose([a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('setAdaptersEnabled / withAdaptersDisabled switch the adapters off (base outputs) and on without a ' +
    'rebuild', async () => {
    const model = applyOft(base, { ...OFT_CONFIG, initWeights: false });
    const on = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(on, yBase)).to.be.greaterThan(1e-3);
    expect(setAdaptersEnabled(model, false)).to.equal(6);
    const off = model.predict(x) as tf.Tensor;
    expectEqualsBase(off, yBase);
    setAdaptersEnabled(model, true);
    const again = model.predict(x) as tf.Tensor;
    expect(bits(again)).to.deep.equal(bits(on));
    const inside = withAdaptersDisabled(model, () => model.predict(x) as tf.Tensor);
    expectEqualsBase(inside, yBase);
    expect(findAdapterLayers(model).every((l) => l.adapterEnabled)).to.equal(true);
    const asyncInside = await withAdaptersDisabled(model, async () => model.predict(x) as tf.Tensor);
    expectEqualsBase(asyncInside, yBase);
    expect(findAdapterLayers(model).every((l) => l.adapterEnabled)).to.equal(true);
    tf.dispose([on, off, again, inside, asyncInside]);
    model.dispose();
  });

  it('bias modes: none freezes every bias, all trains every bias (and only the bias), oft_only the adapted ' +
    'ones', () => {
    const biases = (m: tf.LayersModel) => names(m.trainableWeights).filter((n) => n.endsWith('/bias'));
    const none = applyOft(base, { targetModules: ['query', 'value'], oftBlockSize: 16 });
    expect(biases(none)).to.deep.equal([]);
    const all = applyOft(base, { targetModules: ['query', 'value'], oftBlockSize: 16, bias: 'all' });
    const denseNames = base.layers.filter((l) => l.getClassName() === 'Dense').map((l) => `${l.name}/bias`);
    expect(biases(all)).to.deep.equal(denseNames.sort());
    expect(names(all.trainableWeights).filter((n) => !n.endsWith('/bias'))).to.deep.equal([
      'query/oft_r',
      'value/oft_r',
    ]);
    const only = applyOft(base, { targetModules: ['query', 'value'], oftBlockSize: 16, bias: 'oft_only' });
    expect(biases(only)).to.deep.equal(['query/bias', 'value/bias']);
    for (const m of [none, all, only]) m.dispose();
  });

  it('targetModules forms: suffix after "." or "/", RegExp full match, excludeModules', () => {
    const bySuffix = applyOft(base, { targetModules: ['fc1', 'dense'], oftBlockSize: 16 });
    expect(findAdapterLayers(bySuffix).map((l) => l.name)).to.deep.equal(['output.dense', 'mlp.fc1']);
    const byRegExp = applyOft(base, { targetModules: /mlp\.fc\d/, oftBlockSize: 16 });
    expect(findAdapterLayers(byRegExp).map((l) => l.name)).to.deep.equal(['mlp.fc1', 'mlp.fc2']);
    expect(() => applyOft(base, { targetModules: /fc/, oftBlockSize: 16 })).to.throw(/matches no layer/);
    const partial = applyOft(base, { targetModules: /.*fc\d/, oftBlockSize: 16, excludeModules: ['fc2'] });
    expect(findAdapterLayers(partial).map((l) => l.name)).to.deep.equal(['mlp.fc1']);
    for (const m of [bySuffix, byRegExp, partial]) m.dispose();
  });
});

/** Float64 forward of sharedNestedModel with optional OFT rotations per layer name. */
function sharedNestedReference(
  model: tf.LayersModel,
  xs: Float32Array,
  rows: number,
  rot: Record<string, ref.Mat | null>,
): Float64Array {
  const w = (layer: tf.layers.Layer) => {
    const k = layer.weights.find((v) => v.originalName.endsWith('/kernel'))!;
    const b = layer.weights.find((v) => v.originalName.endsWith('/bias'))!;
    return { k: ref.mat(k.shape[0]!, k.shape[1]!, k.read().dataSync()), b: b.read().dataSync() };
  };
  const encoder = model.getLayer('encoder') as tf.Sequential;
  const layer = (name: string) => (name === 'fc1' || name === 'fc2' ? encoder.getLayer(name) : model.getLayer(name));
  const apply = (h: ref.Mat, name: string, relu: boolean) => {
    const { k, b } = w(layer(name));
    const r = rot[name];
    const out = ref.matmul(r == null ? h : ref.matmul(h, r), k);
    for (let i = 0; i < out.rows; i++)
      for (let j = 0; j < out.cols; j++) {
        const z = out.data[i * out.cols + j] + b[j];
        out.data[i * out.cols + j] = relu ? Math.max(0, z) : z;
      }
    return out;
  };
  let h = ref.mat(rows, 16, xs);
  h = apply(h, 'shared', false);
  h = apply(h, 'shared', false);
  h = apply(h, 'fc1', true);
  h = apply(h, 'fc2', false);
  return apply(h, 'head', false).data;
}

describe('surgery: shared Dense, nested Sequential, Sequential models', function () {
  this.timeout(60000);

  it('adapts a shared Dense (both calls) and layers of a nested Sequential; matches a float64 reference', () => {
    const base = sharedNestedModel();
    const x = seededTensor([6, 16], 3);
    const yBase = base.predict(x) as tf.Tensor;
    const model = applyOft(base, {
      targetModules: ['shared', 'fc1', 'encoder/fc2'],
      oftBlockSize: 4,
      useCayleyNeumann: false,
      initWeights: false,
      modulesToSave: ['head'],
    });
    expect(model.layers.map((l) => `${l.name}:${l.getClassName()}`)).to.deep.equal(
      ['features:InputLayer', 'shared:OrthogonalDense', 'encoder:Sequential', 'head:Dense']);
    expect(model.getLayer('shared').inboundNodes).to.have.length(2);
    const encoder = model.getLayer('encoder') as tf.Sequential;
    expect(encoder).to.be.instanceOf(tf.Sequential);
    expect(encoder.layers.map((l) => l.getClassName())).to.deep.equal(['OrthogonalDense', 'OrthogonalDense']);
    expect(names(model.trainableWeights)).to.deep.equal([
      'fc1/oft_r',
      'fc2/oft_r',
      'head/bias',
      'head/kernel',
      'shared/oft_r',
    ]);
    expect(findAdapterLayers(model).map((l) => l.name)).to.deep.equal(['shared', 'fc1', 'fc2']);

    const rotOf = (l: OrthogonalDense, d: number) =>
      oftRotation({ b: 4, r: d / 4, v: l.packedParameters.read().dataSync(), blockShare: false, neumannTerms: null });
    const rot = {
      shared: rotOf(model.getLayer('shared') as OrthogonalDense, 16),
      fc1: rotOf(encoder.getLayer('fc1') as OrthogonalDense, 16),
      fc2: rotOf(encoder.getLayer('fc2') as OrthogonalDense, 8),
    };
    const want = sharedNestedReference(model, x.dataSync() as Float32Array, 6, rot);
    const got = model.predict(x) as tf.Tensor;
    expect(ref.maxAbsDiff(got.dataSync(), want) / ref.maxAbs(want)).to.be.at.most(1e-5);
    const plain = sharedNestedReference(base, x.dataSync() as Float32Array, 6, {});
    expect(ref.maxAbsDiff(yBase.dataSync(), plain) / ref.maxAbs(plain)).to.be.at.most(1e-5);
    expect(ref.maxAbsDiff(got.dataSync(), yBase.dataSync())).to.be.greaterThan(1e-3);

    const merged = mergeAndUnload(model);
    expect(merged.layers.map((l) => l.getClassName())).to.deep.equal(['InputLayer', 'Dense', 'Sequential', 'Dense']);
    expect((merged.getLayer('encoder') as tf.Sequential).layers.map((l) => l.getClassName())).to.deep.equal([
      'Dense',
      'Dense',
    ]);
    expect(merged.getLayer('shared').inboundNodes).to.have.length(2);
    const ym = merged.predict(x) as tf.Tensor;
    expect(relDiff(ym, got)).to.be.at.most(1e-5);
    tf.dispose([x, yBase, got, ym]);
    for (const m of [base, model, merged]) m.dispose();
  });

  it("'all-linear' on nested models skips only the output layer; identity init equals the base", () => {
    const base = sharedNestedModel();
    const x = seededTensor([5, 16], 4);
    const model = applyBoft(base, { targetModules: 'all-linear', boftBlockSize: 4 });
    expect(findAdapterLayers(model).map((l) => l.name)).to.deep.equal(['shared', 'fc1', 'fc2']);
    expect(model.getLayer('head').getClassName()).to.equal('Dense');
    const a = base.predict(x) as tf.Tensor;
    const b = model.predict(x) as tf.Tensor;
    expectEqualsBase(b, a);
    tf.dispose([x, a, b]);
    base.dispose();
    model.dispose();
  });

  it('keeps a Sequential a Sequential: apply, fit, merge, save/load', async () => {
    const base = sequentialMlp();
    const x = seededTensor([16, 12], 5);
    const yb = base.predict(x) as tf.Tensor;
    const model = applyBoft(base, { targetModules: 'all-linear', boftBlockSize: 4, bias: 'boft_only' });
    expect(model).to.be.instanceOf(tf.Sequential);
    expect(model.layers.map((l) => l.getClassName())).to.deep.equal(['ButterflyDense', 'ButterflyDense', 'Dense']);
    const y0 = model.predict(x) as tf.Tensor;
    expectEqualsBase(y0, yb);
    const optimizer = tf.train.sgd(0.1);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const target = tf.zerosLike(yb);
    await model.fit(x, target, { epochs: 3, verbose: 0 });
    const merged = mergeAndUnload(model);
    expect(merged).to.be.instanceOf(tf.Sequential);
    const a = model.predict(x) as tf.Tensor;
    const b = merged.predict(x) as tf.Tensor;
    expect(relDiff(b, a)).to.be.at.most(1e-5);
    const dir = mkdtempSync(join(tmpdir(), 'surgery-seq-'));
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded).to.be.instanceOf(tf.Sequential);
    const c = loaded.predict(x) as tf.Tensor;
    expect(bits(c)).to.deep.equal(bits(a));
    tf.dispose([x, yb, y0, target, a, b, c]);
    optimizer.dispose();
    for (const m of [base, model, merged, loaded]) m.dispose();
  });
});

describe('surgery: errors leave the input model byte-identical', function () {
  this.timeout(60000);
  const cases: Array<[string, (m: tf.LayersModel) => unknown, RegExp]> = [
    [
      'matches nothing',
      (m) => applyOft(m, { targetModules: ['attention.nope'] }),
      /targetModules \["attention.nope"\] matches no layer of model 'tiny_vit'.*query/,
    ],
    [
      'unknown modulesToSave',
      (m) => applyOft(m, { targetModules: ['query'], modulesToSave: ['head'] }),
      /modulesToSave names 'head'.*no such layer/,
    ],
    [
      'non-Dense target',
      (m) => applyOft(m, { targetModules: ['query', 'norm1'] }),
      /layer 'norm1' of class LayerNormalization, not Dense/,
    ],
    [
      'target also in modulesToSave',
      (m) => applyOft(m, { targetModules: ['classifier', 'query'], modulesToSave: ['classifier'] }),
      /'classifier' is both a target and in modulesToSave/,
    ],
    [
      'both r and oftBlockSize',
      (m) => applyOft(m, { targetModules: ['query'], r: 4, oftBlockSize: 8 }),
      /OrthogonalDense 'query'.*exactly one of r and oftBlockSize.*r=4.*oftBlockSize=8/,
    ],
    [
      'odd butterfly block',
      (m) => applyBoft(m, { targetModules: ['value'], boftBlockSize: 5, boftNButterflyFactor: 2 }),
      /ButterflyDense 'value'.*even boftBlockSize, got 5/,
    ],
    [
      'block size not dividing d',
      (m) => applyBoft(m, { targetModules: ['mlp.fc2'], boftBlockSize: 6 }),
      /ButterflyDense 'mlp.fc2'.*6/,
    ],
    [
      'unknown option key',
      (m) => applyOft(m, { targetModules: ['query'], oft_block_size: 8 } as never),
      /unknown config key\(s\) oft_block_size/,
    ],
    [
      'wrong bias mode',
      (m) => applyOft(m, { targetModules: ['query'], bias: 'boft_only' } as never),
      /bias must be 'none', 'all' or 'oft_only', got "boft_only"/,
    ],
    [
      'targets an adapter',
      (m) => applyBoft(applyOft(m, { targetModules: ['query'] }), { targetModules: ['query'], boftBlockSize: 4 }),
      /'query' of class OrthogonalDense, not Dense.*merge it first/,
    ],
  ];
  for (const [what, run, message] of cases) {
    it(what, () => {
      const base = tinyVit();
      const before = snapshot(base);
      const tensors = tensorsBesidesOpConstants();
      const warn = console.warn;
      console.warn = () => {};
      try {
        expect(() => run(base)).to.throw(message);
      } finally {
        console.warn = warn;
      }
      expect(snapshot(base)).to.equal(before);
      if (what !== 'targets an adapter') expect(tensorsBesidesOpConstants()).to.equal(tensors);
      base.dispose();
    });
  }

  it('a nested model is not a Dense target', () => {
    const base = sharedNestedModel();
    const before = snapshot(base);
    expect(() => applyOft(base, { targetModules: ['encoder'], oftBlockSize: 4 })).to.throw(
      /'encoder', a nested model \(Sequential\).*'encoder\/fc1'/,
    );
    expect(snapshot(base)).to.equal(before);
    base.dispose();
  });
});

describe('surgery: tensor count', function () {
  this.timeout(60000);
  it('stays flat across apply → fit → merge → dispose (after one warm-up cycle)', async () => {
    const base = tinyVit();
    const x = seededTensor([8, VIT_TOKENS, VIT_DIM], 9);
    const y = labelsFor(x);
    const yBase = base.predict(x) as tf.Tensor;
    const cycle = async (method: 'oft' | 'boft') => {
      const model = method === 'oft' ? applyOft(base, OFT_CONFIG) : applyBoft(base, BOFT_CONFIG);
      const optimizer = tf.train.adam(0.01);
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
      const merged = mergeAndUnload(model);
      tf.dispose(merged.predict(x) as tf.Tensor);
      optimizer.dispose();
      model.dispose();
      merged.dispose();
    };
    await cycle('oft');
    await cycle('boft');
    const start = tensorsBesidesOpConstants();
    await cycle('oft');
    await cycle('boft');
    expect(tensorsBesidesOpConstants()).to.equal(start);
    // The adapted models shared the base's weight data; disposing them left the base intact.
    const after = base.predict(x) as tf.Tensor;
    expect(bits(after)).to.deep.equal(bits(yBase));
    tf.dispose([x, y, yBase, after]);
    base.dispose();
  });
});

describe('surgery: frozen BatchNormalization layers stay frozen in fit', function () {
  // input → fc (adapted) → bn → head; inputs far from the bn's initial moving mean 0 and variance 1.
  const model = (): tf.LayersModel => {
    const input = tf.input({ shape: [4] });
    const fc = tf.layers.dense({ units: 8, name: 'fc', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) });
    const bn = tf.layers.batchNormalization({ name: 'bn' });
    const head = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head',
      kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) });
    return tf.model({ inputs: input, outputs: head.apply(bn.apply(fc.apply(input))) as tf.SymbolicTensor });
  };
  const movingStatistics = (m: tf.LayersModel) =>
    m.getLayer('bn').weights.filter((w) => /moving_(mean|variance)$/.test(w.originalName)).map((w) => bits(w.read()));

  it('runs them in inference mode after applyOft and loadAdapter (moving statistics kept, adapters off = base); ' +
    'a modulesToSave one still updates', async () => {
    const base = model();
    const x = tf.tidy(() => tf.add(3, tf.mul(2, seededTensor([16, 4], 5))));
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3));
    const baseOut = base.predict(x) as tf.Tensor;
    const baseStatistics = movingStatistics(base);
    const dir = mkdtempSync(join(tmpdir(), 'oft-bn-'));
    const fit = async (m: tf.LayersModel) => {
      m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
      await m.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0 });
    };
    const adapted = applyOft(base, { targetModules: ['fc'], oftBlockSize: 4 });
    await saveAdapter(adapted, `file://${dir}`);
    const reloaded = await loadAdapter(base, `file://${dir}`);
    for (const [how, m] of [['applyOft', adapted], ['loadAdapter', reloaded]] as const) {
      await fit(m);
      expect(movingStatistics(m), how).to.deep.equal(baseStatistics);
      const off = withAdaptersDisabled(m, () => m.predict(x) as tf.Tensor);
      expect(bits(off), how).to.deep.equal(bits(baseOut));
      off.dispose();
    }
    const withBn = applyOft(base, { targetModules: ['fc'], oftBlockSize: 4, modulesToSave: ['bn'] });
    await fit(withBn);
    expect(movingStatistics(withBn)[0]).to.not.deep.equal(baseStatistics[0]);   // a trainable one follows the batches

    // A full adapted model reloaded with tf.loadLayersModel has tfjs' own BatchNormalization again (its frozen
    // statistics follow the batches) until inferenceModeForFrozenBatchNorm is applied; applying it twice wraps once.
    const fresh = applyOft(base, { targetModules: ['fc'], oftBlockSize: 4 });
    const fullDir = mkdtempSync(join(tmpdir(), 'oft-bn-full-'));
    await fresh.save(fileSystem(fullDir));
    const plain = await tf.loadLayersModel(fileSystem(fullDir));
    const fixed = await tf.loadLayersModel(fileSystem(fullDir));
    inferenceModeForFrozenBatchNorm(fixed);
    const wrappedCall = fixed.getLayer('bn').call;
    inferenceModeForFrozenBatchNorm(fixed);
    expect(fixed.getLayer('bn').call, 'second application').to.equal(wrappedCall);
    await fit(plain);
    await fit(fixed);
    expect(movingStatistics(plain)[0], 'tf.loadLayersModel alone').to.not.deep.equal(baseStatistics[0]);
    expect(movingStatistics(fixed), 'after inferenceModeForFrozenBatchNorm').to.deep.equal(baseStatistics);
    for (const m of [adapted, reloaded, withBn, fresh, plain, fixed, base]) m.dispose();
    tf.dispose([x, y, baseOut]);
  });
});
