import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterDense } from '../src/layers/adapter-dense';
import { applyBoft, applyOft, ButterflyConv2D, mergeAndUnload, OrthogonalConv2D, trainableParameters } from '../src/index';
import * as ref from './reference/dense-math';
import { oftRotation } from './reference/oft-reference';
import { referenceRotation } from './reference/boft-reference';
import { ConvGeometry, convForward, flattenKernel, mergedFlatKernel, unflattenKernel } from './reference/conv-reference';
import { bits } from './helpers/model-snapshot';

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
// Neumann and shared; BOFT m = 1…3. The 1×1 case on 4 pixels and 6 filters takes the input-centric path.
const CASES: Case[] = [
  { label: '1×1 s1 valid, OFT exact', geometry: g([2, 5, 5, 8], [1, 1], 1, 'valid', 1), filters: 6,
    oft: { b: 4, neumann: null } },
  { label: '1×1 s1 valid on 4 pixels (input-centric), OFT Neumann', geometry: g([1, 2, 2, 8], [1, 1], 1, 'valid', 1),
    filters: 6, oft: { b: 4, neumann: 5 } },
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
    it(`outputs, merged kernel and gradients match (${c.label})`, () => {
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
      const plain = tf.conv2d(xt, merged as tf.Tensor4D, c.geometry.strides, c.geometry.padding, 'NHWC',
        c.geometry.dilation);
      const yPlain = tf.add(plain, weightOf(layer, 'bias').read());
      expect(ref.maxAbsDiff(yPlain.dataSync(), y.dataSync()) / ref.maxAbs(yWant), 'merged vs unmerged').to.be.below(1e-5);

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
      tf.dispose([xt, y, merged, plain, yPlain, wt, ...Object.values(grads)]);
      layer.dispose();
    });
  }
});
