// Parity with Hugging Face PEFT on Conv2d adapters (issue 16). The fixtures listed as `conv_cases` in
// test/fixtures/peft/index.json were written by the real PEFT 0.21.2 (interop/peft/make_fixtures.py):
// torch nn.Conv2d modules (NCHW, square kernels, integer padding) with OFT or BOFT, PEFT's files,
// inputs, outputs and merge_and_unload weights. PEFT's unmerged OFT Conv2d forward is wrong for k > 1,
// so OFT cases hold its merged model's outputs as the reference ("y"); BOFT cases its unmerged ones.
// (A) docs/math.md §7/§10 in float64 against them, (B) our conv layers, (C) importPeftAdapter into a
// plain tfjs CNN, (D) export back, and the checks of untrusted input.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyOft, ButterflyConv2D, mergeAndUnload, OrthogonalConv2D, trainableParameters } from '../src/index';
import {
  exportPeftAdapterFiles, importPeftAdapter, parsePeftAdapter, ParsedPeftAdapter, setTorchModuleWeights,
  setPeftModuleWeights,
} from '../src/interop/peft-adapter';
import { boftOptionsFromPeft, boftParamsFromPeft, oftOptionsFromPeft, PeftAdapterConfig } from
  '../src/interop/peft-conventions';
import { readSafetensors, writeSafetensors } from '../src/interop/safetensors';
import * as ref from './reference/dense-math';
import { boftRotationFromPeft, decode, Encoded, oftRotationFromPeft, torchConv2d } from './reference/peft-reference';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

const FIXTURES = fileURLToPath(new URL('./fixtures/peft/', import.meta.url));
const TOL = 1e-5;

interface ConvSpec { name: string; out: number; k: number; stride: number; padding: number }
interface ConvCase {
  name: string;
  method: 'oft' | 'boft';
  dims: { cin: number; hw: number };
  convs: ConvSpec[];
  base: Record<string, { weight: Encoded; bias: Encoded }>;
  x: Encoded; y: Encoded; y64: Encoded; y_merged: Encoded; y_peft_unmerged: Encoded;
  peft_unmerged_vs_merged_rel: number;
  /** max |PEFT's unmerged output at identity init − the base model's| / max |base|. */
  peft_identity_vs_base_rel: number;
  reference_outputs?: 'merged';
  adapter_stored: Record<string, Record<string, Encoded>>;
  merged: Record<string, { weight: Encoded; bias: Encoded }>;
}

const index = JSON.parse(readFileSync(`${FIXTURES}index.json`, 'utf8')) as { conv_cases: string[] };

function loadCase(name: string): { c: ConvCase; config: PeftAdapterConfig; weights: Uint8Array;
  parsed: ParsedPeftAdapter } {
  const dir = `${FIXTURES}${name}/`;
  const c = JSON.parse(readFileSync(`${dir}case.json`, 'utf8')) as ConvCase;
  const configText = readFileSync(`${dir}adapter_config.json`, 'utf8');
  const weights = new Uint8Array(readFileSync(`${dir}adapter_model.safetensors`));
  return { c, config: JSON.parse(configText), weights, parsed: parsePeftAdapter(configText, weights) };
}

const measured: Record<string, Record<string, number>> = {};
function record(name: string, key: string, value: number): void {
  (measured[name] ??= {})[key] = value;
}

// ---------------------------------------------------------------------------------------------
// float64 reference: PEFT's parameters → R (docs/math.md §7), the torch weight viewed [out, d] is
// K_flatᵀ (docs/math.md §10), merged K' = R · K_flat · diag(s), torch convolution over patches.

interface RefConv { spec: ConvSpec; merged: ref.Mat; bias: Float64Array }

function referenceConvs(c: ConvCase, config: PeftAdapterConfig): RefConv[] {
  return c.convs.map((spec) => {
    const w = c.base[spec.name].weight;
    const [out, cin, k] = w.shape;
    const d = cin * k * k;
    const kernel = ref.transpose(ref.mat(out, d, decode(w)));
    const stored = c.adapter_stored[spec.name];
    let rot: ref.Mat;
    let s: Float32Array | Float64Array | null = null;
    if (c.method === 'oft') {
      const e = stored['oft_R.weight'];
      rot = oftRotationFromPeft(decode(e) as Float32Array, e.shape, config, d);
    } else {
      rot = boftRotationFromPeft(decode(stored.boft_R) as Float32Array, stored.boft_R.shape);
      s = decode(stored.boft_s);
    }
    const merged = ref.matmul(rot, kernel);
    if (s != null) for (let t = 0; t < d; t++) for (let o = 0; o < out; o++) merged.data[t * out + o] *= s[o];
    return { spec, merged, bias: Float64Array.from(decode(c.base[spec.name].bias)) };
  });
}

function referenceForward(c: ConvCase, convs: RefConv[]): Float64Array {
  let h: ArrayLike<number> = decode(c.x);
  let shape = c.x.shape;
  convs.forEach(({ spec, merged, bias }, idx) => {
    const out = torchConv2d(h, shape, merged, bias, spec.k, spec.stride, spec.padding);
    if (idx < convs.length - 1) for (let i = 0; i < out.y.length; i++) out.y[i] = Math.max(0, out.y[i]);
    h = out.y;
    shape = out.shape;
  });
  return Float64Array.from(h);
}

// ---------------------------------------------------------------------------------------------
// tfjs models of the torch CNN: NHWC, torch's symmetric padding as a ZeroPadding2D before a 'valid' conv.

type ConvFactory = (spec: ConvSpec, activation: 'relu' | 'linear') => tf.layers.Layer;

function cnn(c: ConvCase, make: ConvFactory, padName: (m: string) => string): tf.LayersModel {
  const input = tf.input({ shape: [c.dims.hw, c.dims.hw, c.dims.cin] });
  let h: tf.SymbolicTensor = input;
  c.convs.forEach((spec, idx) => {
    if (spec.padding > 0) h = tf.layers.zeroPadding2d({ name: padName(spec.name), padding: spec.padding }).apply(h) as
      tf.SymbolicTensor;
    h = make(spec, idx < c.convs.length - 1 ? 'relu' : 'linear').apply(h) as tf.SymbolicTensor;
  });
  return tf.model({ inputs: input, outputs: h });
}

const convArgs = (spec: ConvSpec, name: string, activation: 'relu' | 'linear') => ({
  name, filters: spec.out, kernelSize: spec.k, strides: spec.stride, padding: 'valid' as const, activation,
});

/** The torch base model as plain tfjs Conv2D layers `tf_<module>`; kernels transposed here, in the test. */
function plainBase(c: ConvCase): tf.LayersModel {
  const model = cnn(c, (spec, act) => tf.layers.conv2d(convArgs(spec, `tf_${spec.name}`, act)), (m) => `pad_${m}`);
  for (const { name } of c.convs) {
    const w = c.base[name].weight;
    const torch = tf.tensor(decode(w) as Float32Array, w.shape);
    const kernel = tf.transpose(torch, [2, 3, 1, 0]); // [out, cin, kh, kw] → [kh, kw, cin, out]
    const bias = tf.tensor(decode(c.base[name].bias) as Float32Array);
    model.getLayer(`tf_${name}`).setWeights([kernel, bias]);
    tf.dispose([torch, kernel, bias]);
  }
  return model;
}

/** Our conv adapter layers built directly with the mapped options and PEFT's parameters. */
function buildOurs(c: ConvCase, parsed: ParsedPeftAdapter): tf.LayersModel {
  const layers: tf.layers.Layer[] = [];
  const model = cnn(c, (spec, act) => {
    const args = convArgs(spec, spec.name, act);
    const layer = parsed.method === 'oft'
      ? new OrthogonalConv2D({ ...args, ...oftOptionsFromPeft(parsed.config) })
      : new ButterflyConv2D({ ...args, ...boftOptionsFromPeft(parsed.config) });
    layers.push(layer);
    return layer;
  }, (m) => `pad_${m}`);
  for (const layer of layers) {
    const w = c.base[layer.name];
    setTorchModuleWeights(layer, layer.name, {
      weight: { dtype: 'F32', shape: w.weight.shape, data: decode(w.weight) as Float32Array },
      bias: { dtype: 'F32', shape: w.bias.shape, data: decode(w.bias) as Float32Array },
    });
    setPeftModuleWeights(layer, layer.name, parsed.adapted.get(layer.name)!, parsed.config);
  }
  return model;
}

/** Runs a tfjs NHWC model on the case's NCHW input; returns NCHW outputs. */
function predictNchw(model: tf.LayersModel, c: ConvCase): Float32Array {
  return tf.tidy(() => {
    const x = tf.transpose(tf.tensor(decode(c.x) as Float32Array, c.x.shape), [0, 2, 3, 1]);
    return tf.transpose(model.predict(x) as tf.Tensor, [0, 3, 1, 2]).dataSync() as Float32Array;
  });
}

/** A tfjs kernel `[kh, kw, cin, out]` in torch's `[out, cin, kh, kw]` order (transposed with tf ops). */
function torchOrder(kernel: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.transpose(kernel, [3, 2, 0, 1]).dataSync() as Float32Array);
}

function adapterParameterCount(c: ConvCase): number {
  return c.convs.reduce((sum, { name }) => {
    const st = c.adapter_stored[name];
    if (c.method === 'oft') return sum + st['oft_R.weight'].shape.reduce((a, b) => a * b, 1);
    const [m, n, b] = st.boft_R.shape;
    return sum + (m * n * b * (b - 1)) / 2 + st.boft_s.shape.reduce((a, v) => a * v, 1);
  }, 0);
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await p.then(() => { throw new Error(`no error (expected ${pattern})`); },
    (e: Error) => expect(e.message).to.match(pattern));
}

describe('PEFT parity on Conv2d adapters (fixtures written by the real PEFT)', () => {
  it('cover OFT (exact, Neumann, 3×3 and 1×1, stride/padding, block share, adjusted block) and BOFT m = 1, 2, 3',
    () => {
      expect(index.conv_cases.length).to.be.at.least(9);
      const cases = index.conv_cases.map((n) => loadCase(n).c);
      expect(new Set(cases.flatMap((c) => c.convs.map((s) => s.k)))).to.deep.equal(new Set([3, 1]));
      expect(cases.some((c) => c.convs.some((s) => s.stride === 2 && s.padding === 1))).to.equal(true);
      const ms = cases.filter((c) => c.method === 'boft').map((c) => c.adapter_stored[c.convs[0].name].boft_R.shape[0]);
      expect([...new Set(ms)].sort()).to.deep.equal([1, 2, 3]);
    });

  it("PEFT's unmerged OFT Conv2d forward differs from its merged one, and from the base conv at identity init, " +
    'for k > 1 (recorded by the fixtures)', () => {
    for (const name of index.conv_cases) {
      const { c } = loadCase(name);
      const wrong = c.method === 'oft' && c.convs.some((s) => s.k > 1);
      record(name, 'peft_unmerged_vs_merged', c.peft_unmerged_vs_merged_rel);
      record(name, 'peft_identity_vs_base', c.peft_identity_vs_base_rel);
      if (wrong) {
        expect(c.peft_unmerged_vs_merged_rel, name).to.be.above(0.5);
        expect(c.peft_identity_vs_base_rel, name).to.be.above(0.5);
      } else {
        expect(c.peft_unmerged_vs_merged_rel, name).to.be.below(TOL);
        expect(c.peft_identity_vs_base_rel, name).to.be.below(TOL);
      }
      expect(c.reference_outputs === 'merged', name).to.equal(c.method === 'oft');
    }
  });

  describe('(A) docs/math.md §7/§10 mapping, float64 reference', () => {
    for (const name of index.conv_cases) {
      it(`${name}: outputs and merged weights`, () => {
        const { c, config } = loadCase(name);
        const convs = referenceConvs(c, config);
        const y = referenceForward(c, convs);
        const e64 = ref.relErr(y, decode(c.y64));
        record(name, 'A_y_vs_peft64', e64);
        expect(e64, 'vs PEFT float64 outputs').to.be.below(TOL);
        expect(ref.relErr(y, decode(c.y)), 'vs PEFT float32 outputs').to.be.below(TOL);
        expect(ref.relErr(y, decode(c.y_merged)), 'vs PEFT merged model').to.be.below(TOL);
        for (const { spec, merged } of convs) {
          const em = ref.relErr(ref.transpose(merged).data, decode(c.merged[spec.name].weight));
          record(name, `A_merged_${spec.name}`, em);
          expect(em, `merged ${spec.name}.weight`).to.be.below(TOL);
        }
      });
    }

    it('the channel-major order matters: a spatial-major flattening misses PEFT by far', () => {
      const { c, config } = loadCase('oft_conv3x3_neumann');
      const convs = referenceConvs(c, config);
      // Rotate rows ordered (i, j, c) instead of (c, i, j): the same R on the wrong rows.
      const { spec } = convs[0];
      const w = c.base[spec.name].weight;
      const [out, cin, k] = w.shape;
      const d = cin * k * k;
      const torchW = decode(w);
      const spatial = ref.mat(d, out);
      for (let o = 0; o < out; o++)
        for (let ch = 0; ch < cin; ch++)
          for (let t = 0; t < k * k; t++) spatial.data[(t * cin + ch) * out + o] = torchW[(o * cin + ch) * k * k + t];
      const rot = oftRotationFromPeft(decode(c.adapter_stored[spec.name]['oft_R.weight']) as Float32Array,
        c.adapter_stored[spec.name]['oft_R.weight'].shape, config, d);
      const wrong = ref.matmul(rot, spatial);
      const back = ref.mat(d, out);
      for (let o = 0; o < out; o++)
        for (let ch = 0; ch < cin; ch++)
          for (let t = 0; t < k * k; t++) back.data[(ch * k * k + t) * out + o] = wrong.data[(t * cin + ch) * out + o];
      expect(ref.relErr(ref.transpose(back).data, decode(c.merged[spec.name].weight))).to.be.above(1e-2);
    });
  });

  describe('(B) OrthogonalConv2D / ButterflyConv2D with the mapped parameters', () => {
    for (const name of index.conv_cases) {
      it(`${name}: outputs and merged kernels within 1e-5 of PEFT's`, () => {
        const { c, parsed } = loadCase(name);
        const before = tensorsBesidesOpConstants();
        const model = buildOurs(c, parsed);
        const ey = ref.relErr(predictNchw(model, c), decode(c.y));
        record(name, 'B_y', ey);
        expect(ey, 'outputs').to.be.below(TOL);
        for (const { name: mod } of c.convs) {
          const layer = model.getLayer(mod) as OrthogonalConv2D | ButterflyConv2D;
          const k = layer.mergedKernel();
          const em = ref.relErr(torchOrder(k), decode(c.merged[mod].weight));
          record(name, `B_merged_${mod}`, em);
          expect(em, `merged ${mod}`).to.be.below(TOL);
          k.dispose();
        }
        model.dispose();
        expect(tensorsBesidesOpConstants()).to.equal(before);
      });
    }
  });

  describe('(C) importPeftAdapter into a plain tfjs CNN', () => {
    for (const [i, name] of index.conv_cases.entries()) {
      const fromDir = i % 2 === 0;
      it(`${name}: ${fromDir ? 'directory + table' : 'in-memory files + function'}; outputs and merged model ` +
        'match PEFT', async () => {
        const { c, config, weights } = loadCase(name);
        const base = plainBase(c);
        const yBase = predictNchw(base, c);
        const before = tensorsBesidesOpConstants();
        const table = Object.fromEntries(c.convs.map((s) => [s.name, `tf_${s.name}`]));
        const model = fromDir
          ? await importPeftAdapter(base, `${FIXTURES}${name}`, { nameMap: table })
          : await importPeftAdapter(base, { config: JSON.stringify(config), weights }, { nameMap: (t) => `tf_${t}` });
        const ey = ref.relErr(predictNchw(model, c), decode(c.y));
        record(name, 'C_import_y', ey);
        expect(ey).to.be.below(TOL);
        const merged = mergeAndUnload(model);
        for (const { name: mod } of c.convs) expect(merged.getLayer(`tf_${mod}`).getClassName()).to.equal('Conv2D');
        const em = ref.relErr(predictNchw(merged, c), decode(c.y_merged));
        record(name, 'C_merged_y', em);
        expect(em).to.be.below(TOL);
        expect(trainableParameters(model).trainable).to.equal(adapterParameterCount(c));
        merged.dispose();
        model.dispose();
        expect(tensorsBesidesOpConstants()).to.equal(before);
        expect(Array.from(predictNchw(base, c)), 'base model unchanged').to.deep.equal(Array.from(yBase));
        base.dispose();
      });
    }
  });

  describe('(D) exportPeftAdapterFiles on conv adapters', () => {
    for (const name of index.conv_cases) {
      it(`${name}: tensors and config as PEFT stores them; the export imports back to PEFT's outputs`, async () => {
        const { c, config, parsed } = loadCase(name);
        const model = buildOurs(c, parsed);
        const out = exportPeftAdapterFiles(model);
        // The block geometry may be written as a size where PEFT's file has a count (or the resolved size where
        // PEFT adjusted it): the import of the export below shows that it builds the same layers.
        for (const key of ['peft_type', 'use_cayley_neumann', 'block_share', 'boft_n_butterfly_factor'] as const) {
          if (config[key] !== undefined) expect(out.config[key], key).to.equal(config[key]);
        }
        const file = readSafetensors(out.weights);
        for (const { name: mod } of c.convs) {
          const key = (k: string) => `base_model.model.${mod}.${k}`;
          if (c.method === 'oft') {
            const want = c.adapter_stored[mod]['oft_R.weight'];
            const got = file.tensors.get(key('oft_R.weight'))!;
            expect(got.shape).to.deep.equal(want.shape);
            expect(Array.from(got.data as Float32Array)).to.deep.equal(Array.from(decode(want)));
          } else {
            const want = parsed.adapted.get(mod)!;
            const r = file.tensors.get(key('boft_R'))!;
            expect(r.shape).to.deep.equal(want.boftR!.shape);
            const [m, n, b] = r.shape;
            const mine = boftParamsFromPeft(r.data as Float32Array, m, n, b);
            const theirs = boftParamsFromPeft(want.boftR!.data as Float32Array, m, n, b);
            expect(Array.from(mine), 'the same packed parameters').to.deep.equal(Array.from(theirs));
            const s = file.tensors.get(key('boft_s'))!;
            expect(s.shape, "PEFT's conv boft_s is [1, n]").to.deep.equal(c.adapter_stored[mod].boft_s.shape);
            expect(s.shape[0]).to.equal(1);
            expect(Array.from(s.data as Float32Array)).to.deep.equal(Array.from(decode(c.adapter_stored[mod].boft_s)));
          }
        }
        const base = plainBase(c);
        const back = await importPeftAdapter(base, { config: out.configJson, weights: out.weights },
          { nameMap: (t) => `tf_${t}` });
        expect(ref.relErr(predictNchw(back, c), decode(c.y))).to.be.below(TOL);
        back.dispose();
        base.dispose();
        model.dispose();
      });
    }

    it('writes and reads a Conv2d modules_to_save in torch layout [out, cin, kh, kw]', async () => {
      const { c } = loadCase('oft_conv_cnn_stride');
      const base = plainBase(c);
      const model = applyOft(base, { targetModules: ['tf_conv1'], oftBlockSize: 6, modulesToSave: ['tf_conv2'] });
      const out = exportPeftAdapterFiles(model, { nameMap: (t) => t.replace(/^tf_/, '') });
      expect(out.config.modules_to_save).to.deep.equal(['conv2']);
      const w = readSafetensors(out.weights).tensors.get('base_model.model.conv2.weight')!;
      expect(w.shape).to.deep.equal(c.base.conv2.weight.shape);
      expect(Array.from(w.data as Float32Array), 'bit for bit the torch weight').to.deep.equal(
        Array.from(decode(c.base.conv2.weight)));
      // Back in: a changed conv2 kernel is restored from the file.
      const zeroed = plainBase(c);
      const k = zeroed.getLayer('tf_conv2').getWeights();
      const zeros = k.map((t) => tf.zerosLike(t));
      zeroed.getLayer('tf_conv2').setWeights(zeros);
      const back = await importPeftAdapter(zeroed, { config: out.configJson, weights: out.weights },
        { nameMap: (t) => `tf_${t}` });
      const restored = back.getLayer('tf_conv2').getWeights()[0];
      expect(Array.from(torchOrder(restored))).to.deep.equal(Array.from(decode(c.base.conv2.weight)));
      tf.dispose(zeros);
      for (const m of [back, zeroed, model, base]) m.dispose();
    });
  });

  describe("bias: 'all' on a CNN", () => {
    it('writes the adapted conv bias as base_layer.bias and every other Conv2D bias; import restores them',
      async () => {
        const { c } = loadCase('oft_conv_cnn_stride');
        const base = plainBase(c);
        const model = applyOft(base, { targetModules: ['tf_conv1'], oftBlockSize: 6, bias: 'all' });
        const out = exportPeftAdapterFiles(model, { nameMap: (t) => t.replace(/^tf_/, '') });
        expect(out.config.bias).to.equal('all');
        const file = readSafetensors(out.weights);
        const written = (k: string) => Array.from(file.tensors.get(`base_model.model.${k}`)!.data as Float32Array);
        expect(written('conv1.base_layer.bias')).to.deep.equal(Array.from(decode(c.base.conv1.bias)));
        expect(written('conv2.bias')).to.deep.equal(Array.from(decode(c.base.conv2.bias)));
        const zeroed = plainBase(c);
        for (const name of ['tf_conv1', 'tf_conv2']) {
          const [k, b] = zeroed.getLayer(name).getWeights();
          const zero = tf.zerosLike(b);
          zeroed.getLayer(name).setWeights([k, zero]);
          zero.dispose();
        }
        const back = await importPeftAdapter(zeroed, { config: out.configJson, weights: out.weights },
          { nameMap: (t) => `tf_${t}` });
        for (const mod of ['conv1', 'conv2']) {
          const bias = back.getLayer(`tf_${mod}`).getWeights().find((w) => w.shape.length === 1)!;
          expect(Array.from(bias.dataSync()), mod).to.deep.equal(Array.from(decode(c.base[mod].bias)));
        }
        for (const m of [back, zeroed, model, base]) m.dispose();
      });
  });

  describe('what PEFT cannot express, and untrusted files, fail clearly and change nothing', () => {
    it('a non-square kernel: import and export name the layer and both values of d', async () => {
      const { config, weights } = loadCase('oft_conv3x3_neumann');
      const input = tf.input({ shape: [6, 6, 2] });
      const conv = tf.layers.conv2d({ name: 'tf_conv', filters: 4, kernelSize: [3, 1] });
      const base = tf.model({ inputs: input, outputs: conv.apply(input) as tf.SymbolicTensor });
      const x = tf.ones([1, 6, 6, 2]);
      const y0 = (base.predict(x) as tf.Tensor).dataSync();
      await rejects(importPeftAdapter(base, { config, weights }, { nameMap: { conv: 'tf_conv' } }),
        /torch module 'conv'.*Conv2D 'tf_conv' has a 3×1 kernel.*square.*d = cin·kh² = 18.*cin·kh·kw = 6/);
      const yAfter = base.predict(x) as tf.Tensor;
      expect(Array.from(yAfter.dataSync())).to.deep.equal(Array.from(y0));
      const adapted = applyOft(base, { targetModules: ['tf_conv'], oftBlockSize: 3 });
      expect(() => exportPeftAdapterFiles(adapted))
        .to.throw(/PEFT export: OrthogonalConv2D 'tf_conv' has a 3×1 kernel/);
      tf.dispose([x, yAfter]);
      adapted.dispose();
      base.dispose();
    });

    it('an OFT conv with dilation is refused on export (PEFT refuses it); BOFT with dilation warns', () => {
      const input = tf.input({ shape: [7, 7, 2] });
      const oft = new OrthogonalConv2D({ name: 'dil', filters: 4, kernelSize: 3, dilationRate: 2, oftBlockSize: 6 });
      const m1 = tf.model({ inputs: input, outputs: oft.apply(input) as tf.SymbolicTensor });
      expect(() => exportPeftAdapterFiles(m1))
        .to.throw(/OrthogonalConv2D 'dil' has dilationRate \[2,2\].*dilation > 1/);
      const boft = new ButterflyConv2D({ name: 'bdil', filters: 4, kernelSize: 3, dilationRate: 2, boftBlockSize: 6 });
      const m2 = tf.model({ inputs: input, outputs: boft.apply(input) as tf.SymbolicTensor });
      const warn = console.warn;
      const warnings: string[] = [];
      console.warn = (m: string) => { warnings.push(m); };
      try {
        exportPeftAdapterFiles(m2);
      } finally {
        console.warn = warn;
      }
      expect(warnings.join('\n')).to.match(/ButterflyConv2D 'bdil'.*drops the dilation.*merge_and_unload/);
      m1.dispose();
      m2.dispose();
    });

    it('a boft_s of the wrong shape, or oft_R of the wrong size, is refused and the base model is untouched',
      async () => {
        const { c, config, weights } = loadCase('boft_conv3x3_m1');
        const base = plainBase(c);
        const y0 = predictNchw(base, c);
        const file = readSafetensors(weights);
        const tensors = Object.fromEntries([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
        tensors['base_model.model.conv.boft_s'] = { shape: [2, 2], data: tensors['base_model.model.conv.boft_s'].data };
        const bad = writeSafetensors(tensors as Parameters<typeof writeSafetensors>[0], { format: 'pt' });
        await rejects(importPeftAdapter(base, { config, weights: bad }, { nameMap: { conv: 'tf_conv' } }),
          /boft_s' has shape \[2,2\].*'tf_conv' takes a vector.*\[1, n\]/);
        const oft = loadCase('oft_conv1x1_exact');
        await rejects(importPeftAdapter(base, { config: oft.config, weights: oft.weights },
          { nameMap: { conv: 'tf_conv' } }), /oft_R.weight' has shape \[2,6\] but layer 'tf_conv' expects oft_r/);
        expect(Array.from(predictNchw(base, c))).to.deep.equal(Array.from(y0));
        base.dispose();
      });
  });

  after(() => {
    if (process.env.PEFT_PARITY_REPORT) {
      // PEFT_PARITY_REPORT=1 npx mocha test/peft-conv-parity.spec.ts prints the measured relative differences.
      const rows = Object.entries(measured).map(([k, v]) =>
        `${k.padEnd(24)} ${Object.entries(v).map(([a, b]) => `${a}=${b.toExponential(2)}`).join('  ')}`);
      console.log(`\nmax relative differences vs PEFT, Conv2d (${tf.getBackend()}):\n${rows.join('\n')}`);
    }
  });
});
