import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterDense } from '../src/layers/adapter-dense';
import {
  applyBoft, applyOft, ButterflyConv2D, loadAdapter, mergeAndUnload, ModuleDropoutSchedule, OrthogonalConv2D,
  OrthogonalityMonitor, OrthogonalityRegularizer, orthogonalityReport, saveAdapter, trainableParameters,
  exportPeftAdapterFiles, parsePeftAdapter, applyPeftAdapter,
} from '../src/index';
import * as ref from './reference/dense-math';
import { oftRotation } from './reference/oft-reference';
import { referenceRotation } from './reference/boft-reference';
import {
  ConvGeometry, convForward, explicitPadding, flattenKernel, mergedFlatKernel, unflattenKernel,
} from './reference/conv-reference';
import { bits } from './helpers/model-snapshot';
import { convolveBySlices } from '../src/layers/conv2d-args';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

type Kernel4 = [number, number, number, number];

interface Case {
  label: string;
  geometry: ConvGeometry;
  filters: number;
  oft?: { b: number; neumann: number | null; blockShare?: boolean };
  boft?: { b: number; m: number };
}

const g = (inputShape: Kernel4, kernelSize: [number, number], strides: number, padding: 'valid' | 'same',
  dilation: number): ConvGeometry => ({ inputShape, kernelSize, strides: [strides, strides], padding,
  dilation: [dilation, dilation] });

// Kernels 1×1, 3×3, 3×1 and 2×3; strides 1 and 2; 'valid' and 'same'; dilation 1 and 2; OFT exact,
// Neumann and shared; BOFT m = 1…3. The 1×1 cases on 4 pixels and 6 filters take the input-centric path.
const CASES: Case[] = [
  { label: '1×1 s1 valid, OFT exact', geometry: g([2, 5, 5, 8], [1, 1], 1, 'valid', 1), filters: 6,
    oft: { b: 4, neumann: null } },
  { label: '1×1 s1 valid on 4 pixels (input-centric), OFT Neumann', geometry: g([1, 2, 2, 8], [1, 1], 1, 'valid', 1),
    filters: 6, oft: { b: 4, neumann: 5 } },
  { label: '1×1 s1 same on 4 pixels (input-centric), BOFT m=2', geometry: g([1, 2, 2, 8], [1, 1], 1, 'same', 1),
    filters: 6, boft: { b: 2, m: 2 } },
  { label: '3×3 s1 same, OFT Neumann', geometry: g([2, 6, 6, 4], [3, 3], 1, 'same', 1), filters: 5,
    oft: { b: 6, neumann: 5 } },
  { label: '3×3 s2 valid, OFT exact blockShare', geometry: g([2, 7, 7, 4], [3, 3], 2, 'valid', 1), filters: 5,
    oft: { b: 9, neumann: null, blockShare: true } },
  { label: '3×1 s1 same dilation 2, OFT exact', geometry: g([2, 7, 5, 4], [3, 1], 1, 'same', 2), filters: 3,
    oft: { b: 4, neumann: null } },
  { label: '2×3 s1 valid, OFT exact', geometry: g([1, 5, 6, 3], [2, 3], 1, 'valid', 1), filters: 4,
    oft: { b: 3, neumann: null } },
  { label: '3×1 s2 same, BOFT m=1', geometry: g([2, 7, 6, 4], [3, 1], 2, 'same', 1), filters: 3,
    boft: { b: 4, m: 1 } },
  { label: '3×3 s1 valid dilation 2, BOFT m=2', geometry: g([1, 7, 7, 4], [3, 3], 1, 'valid', 2), filters: 4,
    boft: { b: 6, m: 2 } },
  { label: '3×3 s2 same, BOFT m=3', geometry: g([1, 6, 6, 8], [3, 3], 2, 'same', 1), filters: 3,
    boft: { b: 2, m: 3 } },
  { label: '1×1 s2 same, BOFT m=2', geometry: g([2, 5, 5, 8], [1, 1], 2, 'same', 1), filters: 4,
    boft: { b: 2, m: 2 } },
];

function makeLayer(c: Case): AdapterDense {
  const [kh, kw] = c.geometry.kernelSize;
  const common = { filters: c.filters, kernelSize: [kh, kw], strides: c.geometry.strides,
    padding: c.geometry.padding, dilationRate: c.geometry.dilation, initWeights: false };
  const layer: AdapterDense = c.oft != null
    ? new OrthogonalConv2D({ ...common, oftBlockSize: c.oft.b, useCayleyNeumann: c.oft.neumann != null,
      blockShare: c.oft.blockShare ?? false })
    : new ButterflyConv2D({ ...common, boftBlockSize: c.boft!.b, boftNButterflyFactor: c.boft!.m });
  tf.dispose(layer.apply(tf.zeros(c.geometry.inputShape)) as tf.Tensor);
  return layer;
}

/** Float32-rounded random values in every weight; rotation parameters small (Neumann stays accurate). */
function randomize(layer: AdapterDense, seed: number): void {
  const random = ref.rng(seed);
  for (const w of layer.weights) {
    const name = w.originalName;
    const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const data = ref.normals(random, size, /(oft|boft)_r$/.test(name) ? 0.05 : name.endsWith('boft_s') ? 0.2 : 0.5);
    if (name.endsWith('boft_s')) for (let i = 0; i < size; i++) data[i] += 1;
    w.write(tf.tensor(data, w.shape as number[]));
  }
}

const weightOf = (layer: tf.layers.Layer, suffix: string) => {
  const w = layer.weights.find((x) => x.originalName.endsWith(`/${suffix}`));
  if (w == null) throw new Error(`no weight ${suffix}`);
  return w;
};
const valuesOf = (layer: tf.layers.Layer, suffix: string) => weightOf(layer, suffix).read().dataSync() as Float32Array;

/** The float64 reference: merged flat kernel and forward as functions of the packed parameters (and s). */
function reference(c: Case, layer: AdapterDense) {
  const kernelShape = layer.baseKernel.shape as Kernel4;
  const kFlat = flattenKernel(valuesOf(layer, 'kernel'), kernelShape);
  const d = kFlat.rows;
  const bias = valuesOf(layer, 'bias');
  const rotation = (v: ArrayLike<number>) => c.oft != null
    ? oftRotation({ b: c.oft.b, r: d / c.oft.b, v, blockShare: c.oft.blockShare ?? false, neumannTerms: c.oft.neumann })
    : referenceRotation({ d, b: c.boft!.b, m: c.boft!.m, v });
  const merged = (v: ArrayLike<number>, s: ArrayLike<number> | null) => mergedFlatKernel(rotation(v), kFlat, s);
  const forward = (x: ArrayLike<number>, v: ArrayLike<number>, s: ArrayLike<number> | null) =>
    convForward(x, c.geometry, merged(v, s), bias);
  return { kernelShape, merged, forward };
}

describe('OrthogonalConv2D / ButterflyConv2D against the float64 conv reference (docs/math.md §10)', () => {
  for (const [index, c] of CASES.entries()) {
    it(`outputs, merged kernel and gradients (parameters, input) match (${c.label})`, () => {
      const layer = makeLayer(c);
      randomize(layer, 100 + index);
      const isBoft = c.boft != null;
      const param = isBoft ? 'boft_r' : 'oft_r';
      const v = Array.from(valuesOf(layer, param));
      const s = isBoft ? Array.from(valuesOf(layer, 'boft_s')) : null;
      const want = reference(c, layer);
      const random = ref.rng(7 + index);
      const x = ref.normals(random, c.geometry.inputShape.reduce((a, b) => a * b, 1));
      const xt = tf.tensor4d(x, c.geometry.inputShape);

      const y = layer.apply(xt) as tf.Tensor;
      const yWant = want.forward(x, v, s);
      expect(ref.relErr(y.dataSync(), yWant), 'output').to.be.below(1e-5);

      const merged = layer.mergedKernel();
      const mergedWant = unflattenKernel(want.merged(v, s), want.kernelShape);
      expect(merged.shape).to.deep.equal(want.kernelShape);
      expect(ref.relErr(merged.dataSync(), mergedWant), 'merged kernel').to.be.below(1e-5);
      // A plain Conv2D with the merged kernel computes the adapter's output.
      const plain = tf.conv2d(xt, merged as tf.Tensor4D, c.geometry.strides, explicitPadding(c.geometry), 'NHWC',
        c.geometry.dilation);
      const yPlain = tf.add(plain, weightOf(layer, 'bias').read());
      expect(ref.maxAbsDiff(yPlain.dataSync(), y.dataSync()) / ref.maxAbs(yWant), 'merged vs unmerged')
        .to.be.below(1e-5);

      // The convolution by slices (training on wasm and cpu) computes the same.
      const bySlices = convolveBySlices({ strides: c.geometry.strides, dilationRate: c.geometry.dilation,
        padding: c.geometry.padding }, xt, merged as tf.Tensor4D);
      const yBySlices = tf.add(bySlices, weightOf(layer, 'bias').read());
      expect(ref.relErr(yBySlices.dataSync(), yWant), 'by slices').to.be.below(1e-5);
      tf.dispose([bySlices, yBySlices]);

      // Gradients of L = Σ w ⊙ y against central differences of the float64 reference.
      const w = ref.normals(random, yWant.length);
      const loss = (vv: ArrayLike<number>, ss: ArrayLike<number> | null) =>
        want.forward(x, vv, ss).reduce((acc, yi, i) => acc + yi * w[i], 0);
      const h = 1e-6;
      const fd = (values: number[], f: (p: number[]) => number) => values.map((_, i) => {
        const up = values.slice(); up[i] += h;
        const down = values.slice(); down[i] -= h;
        return (f(up) - f(down)) / (2 * h);
      });
      const wt = tf.tensor(w, y.shape);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xt, { training: true }) as tf.Tensor, wt)));
      const gradOf = (suffix: string) => {
        const variable = weightOf(layer, suffix).read() as tf.Variable;
        return grads[variable.name].dataSync();
      };
      expect(Object.keys(grads).length, 'trained variables').to.equal(isBoft ? 2 : 1);
      expect(ref.relErr(gradOf(param), fd(v, (p) => loss(p, s))), `∂L/∂${param}`).to.be.below(1e-5);
      if (s != null) expect(ref.relErr(gradOf('boft_s'), fd(s, (p) => loss(v, p))), '∂L/∂boft_s').to.be.below(1e-5);
      // The gradient to the input, which a layer in front of this one trains through.
      const lossOf = (input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, wt));
      const gx = tf.grad(lossOf)(xt);
      const lossOfInput = (input: number[]) => want.forward(input, v, s).reduce((acc, yi, i) => acc + yi * w[i], 0);
      expect(ref.relErr(gx.dataSync(), fd(Array.from(x), lossOfInput)), '∂L/∂x').to.be.below(1e-5);
      tf.dispose([xt, y, merged, plain, yPlain, wt, gx, ...Object.values(grads)]);
      layer.dispose();
    });
  }
});

/**
 * A small CNN: conv 3×3 (4 → 6) · conv 1×1 (6 → 8) · depthwise 3×3 (optional: wasm has no
 * gradient for it) · flatten · dense 2.
 */
function tinyCnn(depthwise = true): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotNormal({ seed });
  const bias = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed });
  const m = tf.sequential({ name: 'tiny_cnn' });
  m.add(tf.layers.conv2d({ name: 'conv1', inputShape: [6, 6, 4], filters: 6, kernelSize: 3, padding: 'same',
    activation: 'relu', kernelInitializer: init(1), biasInitializer: bias(11) }));
  m.add(tf.layers.conv2d({ name: 'conv2', filters: 8, kernelSize: 1, strides: 2, kernelInitializer: init(2),
    biasInitializer: bias(12) }));
  if (depthwise) {
    m.add(tf.layers.depthwiseConv2d({ name: 'depthwise', kernelSize: 3, padding: 'same',
      depthwiseInitializer: init(3) }));
  }
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ name: 'head', units: 2, activation: 'softmax', kernelInitializer: init(4) }));
  return m;
}

const cnnInput = (rows: number, seed: number) =>
  tf.tensor4d(ref.normals(ref.rng(seed), rows * 6 * 6 * 4), [rows, 6, 6, 4]);

describe('OrthogonalConv2D / ButterflyConv2D layers', () => {
  it('fromConv2D at identity init equals the base Conv2D (OFT exact and Neumann, BOFT), base untouched', () => {
    for (const [kernelSize, strides, padding, dilationRate] of [[3, 1, 'same', 1], [[3, 1], 2, 'valid', 1],
      [3, 1, 'valid', 2], [1, 1, 'valid', 1]] as const) {
      const base = tf.layers.conv2d({ filters: 4, kernelSize: kernelSize as number, strides, padding, dilationRate,
        activation: 'tanh', biasInitializer: 'randomNormal' });
      const x = tf.randomNormal([2, 7, 7, 8]) as tf.Tensor4D;
      const yBase = base.apply(x) as tf.Tensor;
      const before = base.getWeights().map((w) => bits(w));
      for (const layer of [OrthogonalConv2D.fromConv2D(base, { oftBlockSize: 4, useCayleyNeumann: false }),
        OrthogonalConv2D.fromConv2D(base, { oftBlockSize: 8 }), ButterflyConv2D.fromConv2D(base, { boftBlockSize: 2,
          boftNButterflyFactor: 2 })]) {
        const y = layer.apply(x) as tf.Tensor;
        expect(ref.maxAbsDiff(y.dataSync(), yBase.dataSync()), layer.getClassName()).to.be.at.most(1e-6);
        tf.dispose(y); layer.dispose();
      }
      expect(base.getWeights().map((w) => bits(w))).to.deep.equal(before);
      tf.dispose([x, yBase]); base.dispose();
    }
  });

  it('weights: frozen kernel [kh, kw, cin, filters], oft_r [r, p] / [1, p], boft_r [m, N, p], boft_s [filters]', () => {
    const shapes = (layer: tf.layers.Layer) => Object.fromEntries(layer.weights.map((w) =>
      [w.originalName.split('/').pop(), [w.shape, w.trainable]]));
    const oft = new OrthogonalConv2D({ filters: 5, kernelSize: [3, 2], oftBlockSize: 4 });
    tf.dispose(oft.apply(tf.zeros([1, 4, 4, 2])) as tf.Tensor);
    expect(shapes(oft)).to.deep.equal({ oft_r: [[3, 6], true], kernel: [[3, 2, 2, 5], false], bias: [[5], false] });
    const shared = new OrthogonalConv2D({ filters: 5, kernelSize: 3, oftBlockSize: 6, blockShare: true });
    tf.dispose(shared.apply(tf.zeros([1, 4, 4, 2])) as tf.Tensor);
    expect(shapes(shared).oft_r).to.deep.equal([[1, 15], true]);
    const boft = new ButterflyConv2D({ filters: 5, kernelSize: 3, boftBlockSize: 2, boftNButterflyFactor: 3,
      biasTrainable: true });
    tf.dispose(boft.apply(tf.zeros([1, 4, 4, 8])) as tf.Tensor);
    expect(shapes(boft)).to.deep.equal({ boft_r: [[3, 36, 1], true], boft_s: [[5], true], bias: [[5], true],
      kernel: [[3, 3, 8, 5], false] });
    oft.dispose(); shared.dispose(); boft.dispose();
  });

  it('OFT adjusts a block size that does not divide d = cin·kh·kw with a warning; BOFT refuses it', () => {
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    try {
      const oft = new OrthogonalConv2D({ name: 'c_oft', filters: 2, kernelSize: 3, oftBlockSize: 8 });
      tf.dispose(oft.apply(tf.zeros([1, 3, 3, 4])) as tf.Tensor); // d = 36: 8 → 9
      expect(oft.oftBlockSize).to.equal(9);
      expect(warnings.join('\n'))
        .to.match(/'c_oft': oftBlockSize=8 does not divide the input dimension 36; using oftBlockSize=9/);
      oft.dispose();
    } finally {
      console.warn = warn;
    }
    const boft = new ButterflyConv2D({ name: 'c_boft', filters: 2, kernelSize: 3, boftBlockSize: 8 });
    expect(() => boft.apply(tf.zeros([1, 3, 3, 4])))
      .to.throw(/ButterflyConv2D 'c_boft': boftBlockSize=8 does not divide the input dimension 36/);
  });

  it('rejects channelsFirst, strides with dilation, unknown options and missing filters, naming the layer', () => {
    expect(() => new OrthogonalConv2D({ name: 'cf', filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' }))
      .to.throw(/OrthogonalConv2D 'cf': dataFormat 'channelsFirst' is not supported.*channelsLast/);
    expect(() => new ButterflyConv2D({ name: 'sd', filters: 2, kernelSize: 3, strides: 2, dilationRate: 2,
      boftBlockSize: 2 })).to.throw(/ButterflyConv2D 'sd': strides \[2,2\] and dilationRate \[2,2\].*strides: 1/);
    expect(() => new OrthogonalConv2D({ name: 'u', filters: 2, kernelSize: 3, units: 4 } as never))
      .to.throw(/OrthogonalConv2D 'u': unknown option\(s\) units.*tf\.layers\.conv2d/);
    expect(() => new OrthogonalConv2D({ name: 'f', kernelSize: 3 } as never))
      .to.throw(/OrthogonalConv2D 'f': filters must be a positive integer, got undefined.*tf\.layers\.conv2d/);
  });

  it('module dropout replaces exactly the drawn blocks by I in training (float64 reference), none in predict', () => {
    const c: Case = { label: 'dropout', geometry: g([1, 5, 5, 4], [3, 3], 1, 'valid', 1), filters: 3,
      oft: { b: 6, neumann: 5 } };
    const layer = makeLayer(c) as OrthogonalConv2D;
    randomize(layer, 3);
    layer.moduleDropout = 0.5;
    layer.random = () => 0; // randomSubset then draws blocks 0, 1, 2 of the 6
    const v = Array.from(valuesOf(layer, 'oft_r'));
    const kFlat = flattenKernel(valuesOf(layer, 'kernel'), layer.baseKernel.shape as Kernel4);
    const rot = referenceRotation({ d: 36, b: 6, m: 1, v, neumannTerms: 5,
      identityBlocks: { factor: 0, blocks: [0, 1, 2] } });
    const x = ref.normals(ref.rng(4), 100);
    const xt = tf.tensor4d(x, [1, 5, 5, 4]);
    const want = convForward(x, c.geometry, mergedFlatKernel(rot, kFlat, null), valuesOf(layer, 'bias'));
    const y = layer.apply(xt, { training: true }) as tf.Tensor;
    expect(ref.relErr(y.dataSync(), want)).to.be.below(1e-5);
    const yPredict = layer.apply(xt) as tf.Tensor;
    expect(ref.relErr(yPredict.dataSync(), reference(c, layer).forward(x, v, null))).to.be.below(1e-5);
    tf.dispose([xt, y, yPredict]); layer.dispose();
  });

  it('BOFT dropout on a conv kernel: the drawn factor\'s drawn blocks become I (float64 reference)', () => {
    const c: Case = { label: 'boft dropout', geometry: g([1, 4, 4, 8], [1, 2], 1, 'valid', 1), filters: 3,
      boft: { b: 2, m: 3 } };
    const layer = makeLayer(c) as ButterflyConv2D;
    randomize(layer, 5);
    layer.boftDropout = 0.5;
    layer.random = ref.rng(6);
    const v = Array.from(valuesOf(layer, 'boft_r'));
    const s = Array.from(valuesOf(layer, 'boft_s'));
    const kFlat = flattenKernel(valuesOf(layer, 'kernel'), layer.baseKernel.shape as Kernel4);
    const x = ref.normals(ref.rng(7), 128);
    const xt = tf.tensor4d(x, [1, 4, 4, 8]);
    const full = convForward(x, c.geometry, reference(c, layer).merged(v, s), valuesOf(layer, 'bias'));
    const factors = new Set<number>();
    for (let t = 0; t < 6; t++) {
      const y = layer.apply(xt, { training: true }) as tf.Tensor;
      const drawn = layer.lastDropout!;
      expect(drawn.blocks, 'floor(0.5 · N) of N = 8 blocks').to.have.length(4);
      factors.add(drawn.factor);
      const rot = referenceRotation({ d: 16, b: 2, m: 3, v, identityBlocks: drawn });
      const want = convForward(x, c.geometry, mergedFlatKernel(rot, kFlat, s), valuesOf(layer, 'bias'));
      expect(ref.relErr(y.dataSync(), want)).to.be.below(1e-5);
      expect(ref.relErr(y.dataSync(), full), 'differs from no dropout').to.be.above(1e-3);
      y.dispose();
    }
    expect(factors.size, 'factors drawn over 6 steps').to.be.above(1);
    xt.dispose(); layer.dispose();
  });

  it('COFT keeps every block within ‖Q_j‖_F ≤ eps/√r over fit steps', async () => {
    const m = tf.sequential();
    const layer = new OrthogonalConv2D({ inputShape: [5, 5, 4], filters: 3, kernelSize: 3, oftBlockSize: 6,
      coft: true, eps: 1e-3 });
    m.add(layer); m.add(tf.layers.flatten());
    m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const x = tf.randomNormal([16, 5, 5, 4]);
    const y = tf.randomNormal([16, 27]);
    await m.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
    const v = valuesOf(layer, 'oft_r');
    const radius = 1e-3 / Math.sqrt(6);
    for (let j = 0; j < 6; j++) {
      const block = v.slice(j * 15, (j + 1) * 15);
      expect(Math.sqrt(2 * block.reduce((a, e) => a + e * e, 0))).to.be.at.most(radius * (1 + 1e-5));
    }
    expect(ref.maxAbs(v)).to.be.above(0);
    tf.dispose([x, y]); m.dispose();
  });

  it('save → load in a fresh process is bit-identical, and numTensors stays flat over fit and predict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-conv-save-'));
    const model = tf.sequential();
    model.add(new OrthogonalConv2D({ inputShape: [6, 6, 4], filters: 6, kernelSize: 3, padding: 'same',
      oftBlockSize: 4, initWeights: false, activation: 'relu', moduleDropout: 0.3, coft: true }));
    model.add(new ButterflyConv2D({ filters: 4, kernelSize: [3, 2], strides: 2, boftBlockSize: 2,
      boftNButterflyFactor: 2, initWeights: false, boftDropout: 0.25 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = cnnInput(40, 8);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 2), 'int32'), 2);
    await model.fit(x.slice(0, 4), labels.slice(0, 4), { batchSize: 4, epochs: 1, verbose: 0 });
    const start = tensorsBesidesOpConstants();
    await model.fit(x, labels, { batchSize: 4, epochs: 2, verbose: 0 });
    for (let i = 0; i < 10; i++) tf.dispose(tf.tidy(() => model.predict(x.slice(i * 4, 4)) as tf.Tensor));
    expect(tensorsBesidesOpConstants()).to.equal(start);

    await model.save(`file://${dir}`);
    const xs = Array.from(ref.normals(ref.rng(9), 3 * 6 * 6 * 4));
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ shape: [3, 6, 6, 4], data: xs }));
    const y = model.predict(tf.tensor4d(xs, [3, 6, 6, 4])) as tf.Tensor;
    const out = JSON.parse(execFileSync('npx', ['tsx', 'test/helpers/predict-in-fresh-process.ts',
      join(dir, 'model.json'), join(dir, 'input.json')], { encoding: 'utf8', env: process.env }));
    expect(out.classes.slice(0, 2)).to.deep.equal(['OrthogonalConv2D', 'ButterflyConv2D']);
    expect(Object.values(out.weights)).to.deep.equal(model.weights.map((w) => bits(w.read())));
    expect(out.output).to.deep.equal(bits(y));
    tf.dispose([x, labels, y]); model.dispose();
  });
});

describe('surgery on Conv2D layers', () => {
  it('applyOft adapts named Conv2D layers: identity init equals the base, fit, merge gives plain Conv2D', async () => {
    const base = tinyCnn(false);
    const x = cnnInput(8, 1);
    const yBase = base.predict(x) as tf.Tensor;
    const model = applyOft(base, { targetModules: ['conv1', 'conv2'], oftBlockSize: 4 });
    expect(model.layers.map((l) => l.getClassName())).to.deep.equal(['OrthogonalConv2D', 'OrthogonalConv2D',
      'Flatten', 'Dense']);
    const y0 = model.predict(x) as tf.Tensor;
    expect(ref.maxAbsDiff(y0.dataSync(), yBase.dataSync())).to.be.at.most(1e-6);
    // conv1: d = 4·9 = 36, b = 4 → 9 blocks of 6 parameters; conv2: d = 6 → b = 3 (warned), 2 blocks of 3.
    expect(trainableParameters(model).trainable).to.equal(9 * 6 + 2 * 3);
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const labels = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1], 'int32'), 2);
    await model.fit(x, labels, { epochs: 3, batchSize: 4, verbose: 0 });
    const y1 = model.predict(x) as tf.Tensor;
    expect(ref.maxAbsDiff(y1.dataSync(), y0.dataSync())).to.be.above(1e-6);
    const merged = mergeAndUnload(model);
    expect(merged.layers.map((l) => l.getClassName())).to.deep.equal(['Conv2D', 'Conv2D', 'Flatten', 'Dense']);
    expect(merged.layers[0].getConfig()).to.include({ filters: 6, padding: 'same', activation: 'relu' });
    const y2 = merged.predict(x) as tf.Tensor;
    expect(ref.maxAbsDiff(y2.dataSync(), y1.dataSync()) / ref.maxAbs(y1.dataSync())).to.be.at.most(1e-5);
    tf.dispose([x, yBase, y0, y1, y2, labels]);
    merged.dispose();
  });

  it('mergeAndUnload gives back each Conv2D\'s own config (dilation, 3×1 stride 2, regularizer, no bias)', () => {
    const base = tf.sequential({ layers: [
      tf.layers.conv2d({ name: 'dilated', inputShape: [9, 9, 4], filters: 8, kernelSize: 3, dilationRate: 2,
        activation: 'relu', kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) }),
      tf.layers.conv2d({ name: 'strided', filters: 4, kernelSize: [3, 1], strides: 2, useBias: false }),
    ] });
    const x = tf.tensor4d(ref.normals(ref.rng(12), 2 * 9 * 9 * 4), [2, 9, 9, 4]);
    for (const adapted of [applyOft(base, { targetModules: ['dilated', 'strided'], oftBlockSize: 6 }),
      applyBoft(base, { targetModules: ['dilated', 'strided'], boftBlockSize: 2, boftNButterflyFactor: 2 })]) {
      for (const w of adapted.trainableWeights) {
        tf.tidy(() => { w.write(tf.add(w.read(), tf.randomNormal(w.shape as number[], 0, 0.1, 'float32', 13))); });
      }
      const merged = mergeAndUnload(adapted);
      for (const name of ['dilated', 'strided']) {
        expect(merged.getLayer(name).getConfig(), name).to.deep.equal(base.getLayer(name).getConfig());
      }
      const [y, yMerged] = [adapted.predict(x) as tf.Tensor, merged.predict(x) as tf.Tensor];
      expect(ref.maxAbsDiff(yMerged.dataSync(), y.dataSync()) / ref.maxAbs(y.dataSync())).to.be.at.most(1e-5);
      tf.dispose([y, yMerged]); adapted.dispose(); merged.dispose();
    }
    x.dispose(); base.dispose();
  });

  it('BOFT conv adapters: adapter checkpoint round trip (bit-identical outputs), orthogonality report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-conv-ckpt-'));
    const x = cnnInput(4, 2);
    // conv2 is 1×1 over 6 channels: d = 6, N = 3 is odd, so two butterfly factors do not fit.
    expect(() => applyBoft(tinyCnn(), { targetModules: ['conv2'], boftBlockSize: 2, boftNButterflyFactor: 2 }))
      .to.throw(/ButterflyConv2D 'conv2'.*d=6 \(b=2, N=3\)/);
    const adapted = applyBoft(tinyCnn(), { targetModules: ['conv1'], boftBlockSize: 2, boftNButterflyFactor: 2,
      bias: 'boft_only' });
    expect(trainableParameters(adapted).trainable).to.equal(2 * 18 * 1 + 6 + 6);
    for (const w of adapted.trainableWeights) {
      w.write(tf.add(w.read(), tf.mul(0.05, tf.randomNormal(w.shape as number[]))));
    }
    const y = adapted.predict(x) as tf.Tensor;
    await saveAdapter(adapted, `file://${dir}`);
    const reloaded = await loadAdapter(tinyCnn(), `file://${dir}`);
    expect(reloaded.layers[0].getClassName()).to.equal('ButterflyConv2D');
    const y2 = reloaded.predict(x) as tf.Tensor;
    expect(bits(y2)).to.deep.equal(bits(y));
    const report = await orthogonalityReport(reloaded);
    expect(report.layers.map((l) => l.layer)).to.deep.equal(['conv1']);
    expect(report.orthogonalityError).to.be.below(1e-5);
    // The same d = 36 and 6 filters in a 1×1 conv over 36 channels: another patch layout, refused.
    const other = tf.sequential({ layers: [tf.layers.conv2d({ name: 'conv1', inputShape: [6, 6, 36], filters: 6,
      kernelSize: 1 })] });
    const otherBefore = other.getWeights().map((w) => bits(w));
    await loadAdapter(other, `file://${dir}`).then(() => expect.fail('loaded'), (e: Error) => expect(e.message)
      .to.match(/'conv1': the checkpoint was made for a Conv2D kernel \[3,3,4,6\], the base has kernel \[1,1,36,6\]/));
    expect(other.getWeights().map((w) => bits(w))).to.deep.equal(otherBefore);
    other.dispose();
    tf.dispose([x, y, y2]); adapted.dispose(); reloaded.dispose();
  });

  it("'all-linear' stays Dense-only; DepthwiseConv2D and SeparableConv2D targets fail naming the layer", () => {
    const boft = applyBoft(tinyCnn(), { targetModules: 'all-linear', boftBlockSize: 2 });
    expect(boft.layers.slice(0, 3).map((l) => l.getClassName())).to.deep.equal(['Conv2D', 'Conv2D',
      'DepthwiseConv2D']);
    expect(() => applyOft(tinyCnn(), { targetModules: ['depthwise'] }))
      .to.throw(/applyOft: targetModules matches layer 'depthwise' of class DepthwiseConv2D, not Dense or Conv2D/);
    const separable = tf.sequential({ layers: [tf.layers.separableConv2d({ name: 'sep', inputShape: [6, 6, 4],
      filters: 8, kernelSize: 3 })] });
    const before = separable.getWeights().map((w) => bits(w));
    expect(() => applyBoft(separable, { targetModules: ['sep'], boftBlockSize: 2 }))
      .to.throw(/applyBoft: targetModules matches layer 'sep' of class SeparableConv2D, not Dense or Conv2D.*remove/);
    expect(separable.getWeights().map((w) => bits(w)), 'model unchanged').to.deep.equal(before);
    expect(separable.layers[0].getClassName()).to.equal('SeparableConv2D');
    separable.dispose();
  });

  it('PEFT interchange: Dense and Conv2D adapters export together; a Linear adapter does not fit a Conv2D', () => {
    const model = applyOft(tinyCnn(), { targetModules: ['conv1', 'head'], oftBlockSize: 4 });
    const files = exportPeftAdapterFiles(model);
    const parsed = parsePeftAdapter(files.configJson, files.weights);
    // conv1: d = 4·3·3 = 36 → 9 blocks; head: d = 3·3·8 = 72 → 18 blocks; b = 4 (6 parameters) each.
    expect(parsed.adapted.get('conv1')!.oftR!.shape).to.deep.equal([9, 6]);
    expect(parsed.adapted.get('head')!.oftR!.shape).to.deep.equal([18, 6]);
    // A PEFT adapter for a Linear named conv1 (d = 8), applied to a model whose conv1 is a Conv2D (d = 36).
    const dense = tf.sequential({ layers: [tf.layers.dense({ name: 'conv1', units: 4, inputShape: [8] })] });
    const out = exportPeftAdapterFiles(applyOft(dense, { targetModules: ['conv1'], oftBlockSize: 4 }));
    expect(() => applyPeftAdapter(tinyCnn(), parsePeftAdapter(out.configJson, out.weights)))
      .to.throw(/oft_R.weight' has shape \[2,6\] but layer 'conv1' expects oft_r of shape \[9,6\]/);
    model.dispose();
  });
});

describe('callbacks and the regularizer on Conv2D adapters', () => {
  /** A conv model: OFT Neumann 3×3 (d = 36, b = 6) then BOFT 1×1 (d = 8, b = 2, m = 2), flattened. */
  function convModel(regularizer?: OrthogonalityRegularizer) {
    const oft = new OrthogonalConv2D({ name: 'oft_conv', inputShape: [5, 5, 4], filters: 8, kernelSize: 3,
      oftBlockSize: 6, useCayleyNeumann: true, oftRegularizer: regularizer });
    const boft = new ButterflyConv2D({ name: 'boft_conv', filters: 2, kernelSize: 1, boftBlockSize: 2,
      boftNButterflyFactor: 2, boftRegularizer: regularizer });
    const model = tf.sequential({ layers: [oft, boft, tf.layers.flatten()] });
    return { model, oft, boft };
  }
  /** Σ_j ‖Q_j‖_F² = 2·Σ v² (Q = U − Uᵀ, docs/math.md §2), and the largest block ‖Q_j‖_F, in float64. */
  function blockNorms(v: ArrayLike<number>, p: number) {
    const sq = Array.from({ length: v.length / p }, (_, j) =>
      2 * Array.from(v).slice(j * p, (j + 1) * p).reduce((a, e) => a + e * e, 0));
    return { sum: sq.reduce((a, e) => a + e, 0), max: Math.sqrt(Math.max(...sq)) };
  }
  const x = () => tf.tensor4d(ref.normals(ref.rng(31), 6 * 5 * 5 * 4), [6, 5, 5, 4]);
  const y = () => tf.tensor2d(ref.normals(ref.rng(32), 6 * 18), [6, 18]);

  it('OrthogonalityRegularizer adds exactly λ·Σ‖Q_j‖² of both conv adapters to the loss fit reports', async () => {
    const lambda = 2; // a penalty near 1, so that the float32 rounding of the loss stays below 1e-5 of it
    const [withReg, without] = [convModel(new OrthogonalityRegularizer({ lambda })), convModel()];
    randomize(withReg.oft, 41);
    randomize(withReg.boft, 42);
    without.model.setWeights(withReg.model.getWeights());
    const want = lambda * (blockNorms(valuesOf(withReg.oft, 'oft_r'), 15).sum +
      blockNorms(valuesOf(withReg.boft, 'boft_r'), 1).sum);
    const [xs, ys] = [x(), y()];
    const loss = async (m: tf.LayersModel) => {
      m.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
      return (await m.fit(xs, ys, { batchSize: 6, epochs: 1, shuffle: false, verbose: 0 })).history.loss[0] as number;
    };
    const diff = (await loss(withReg.model)) - (await loss(without.model));
    expect(want).to.be.above(0.5);
    expect(Math.abs(diff - want)).to.be.at.most(1e-5 * want, `loss difference ${diff} vs λ·Σ‖Q‖² = ${want}`);
    tf.dispose([xs, ys]); withReg.model.dispose(); without.model.dispose();
  });

  it('ModuleDropoutSchedule drives both conv adapters; OrthogonalityMonitor reports them (float64 ‖Q‖)', async () => {
    const { model, oft, boft } = convModel();
    randomize(oft, 43);
    randomize(boft, 44);
    const qOft = blockNorms(valuesOf(oft, 'oft_r'), 15).max;
    const qBoft = blockNorms(valuesOf(boft, 'boft_r'), 1).max;
    const schedule = new ModuleDropoutSchedule({ rate: 0.5, restoreOnTrainEnd: false });
    const monitor = new OrthogonalityMonitor({ log: () => undefined });
    const [xs, ys] = [x(), y()];
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    await model.fit(xs, ys, { batchSize: 3, epochs: 1, verbose: 0, callbacks: [schedule, monitor] });
    expect([oft.moduleDropout, boft.boftDropout]).to.deep.equal([0.5, 0.5]);
    const per = Object.fromEntries(monitor.lastReport!.layers.map((f) => [f.layer, f]));
    expect(Object.keys(per)).to.have.members(['oft_conv', 'boft_conv']);
    expect(per.oft_conv.maxQNorm).to.be.closeTo(qOft, 1e-5 * qOft);
    expect(per.boft_conv.maxQNorm).to.be.closeTo(qBoft, 1e-5 * qBoft);
    expect(per.boft_conv.orthogonalityError, 'exact Cayley').to.be.at.most(1e-5);
    tf.dispose([xs, ys]); model.dispose();
  });
});
