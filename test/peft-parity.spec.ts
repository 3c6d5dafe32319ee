// Parity with Hugging Face PEFT (issue 8). The fixtures in test/fixtures/peft/ were written by the
// real PEFT 0.21.2 (interop/peft/make_fixtures.py): its adapter files, inputs, outputs and merged
// weights. Here we (A) check docs/math.md §7's mapping of PEFT's parameters to ours against them with a
// float64 reference built from docs/math.md, (B) run our layers on the mapped parameters, (C) import
// the PEFT files into a plain tfjs model and export them back. No Python needed.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ButterflyDense, OrthogonalDense } from '../src/index';
import { mergeAndUnload, trainableParameters } from '../src/index';
import {
  exportPeftAdapterFiles,
  importPeftAdapter,
  parsePeftAdapter,
  ParsedPeftAdapter,
  setTorchModuleWeights,
  setPeftModuleWeights,
} from '../src/interop/peft-adapter';
import {
  boftOptionsFromPeft,
  boftParamsFromPeft,
  boftParamsToPeft,
  oftOptionsFromPeft,
  PeftAdapterConfig,
} from '../src/interop/peft-conventions';
import { readSafetensors, writeSafetensors } from '../src/interop/safetensors';
import * as ref from './reference/dense-math';
import { boftRotationFromPeft, decode, Encoded, oftRotationFromPeft } from './reference/peft-reference';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

const FIXTURES = fileURLToPath(new URL('./fixtures/peft/', import.meta.url));
const TOL = 1e-5;

interface Case {
  name: string;
  method: 'oft' | 'boft';
  model: 'proj' | 'mlp';
  dims: { d: number; n: number; h?: number };
  block_diag: string;
  base: Record<string, { weight: Encoded; bias: Encoded }>;
  x: Encoded; y: Encoded; y64: Encoded; y_merged: Encoded;
  adapter_stored: Record<string, Record<string, Encoded>>;
  merged: Record<string, { weight: Encoded; bias: Encoded }>;
  resolved: Record<string, Record<string, number | boolean>>;
  peft_train_mode_equals_eval?: boolean;
}

function loadCase(name: string): {
  c: Case;
  config: PeftAdapterConfig;
  weights: Uint8Array;
  parsed: ParsedPeftAdapter;
} {
  const dir = `${FIXTURES}${name}/`;
  const c = JSON.parse(readFileSync(`${dir}case.json`, 'utf8')) as Case;
  const configText = readFileSync(`${dir}adapter_config.json`, 'utf8');
  const weights = new Uint8Array(readFileSync(`${dir}adapter_model.safetensors`));
  return { c, config: JSON.parse(configText), weights, parsed: parsePeftAdapter(configText, weights) };
}

const index = JSON.parse(readFileSync(`${FIXTURES}index.json`, 'utf8')) as {
  cases: string[];
  versions: Record<string, string>;
};

/** Module order of the torch model (activation ReLU between fc1 and fc2). */
function modulesOf(c: Case): string[] {
  return c.model === 'mlp' ? ['fc1', 'fc2'] : ['proj'];
}

// ---------------------------------------------------------------------------------------------
// (A) docs/math.md §7 mapping, float64, no code under test except the pure conventions module.

interface RefModule { rot: ref.Mat; kernel: ref.Mat; s: Float64Array | null; bias: Float64Array }

function referenceModules(c: Case, config: PeftAdapterConfig): Map<string, RefModule> {
  const out = new Map<string, RefModule>();
  for (const name of modulesOf(c)) {
    const w = decode(c.base[name].weight);
    const [n, d] = c.base[name].weight.shape;
    const kernel = ref.transpose(ref.mat(n, d, w)); // torch weight is Kᵀ
    const bias = Float64Array.from(decode(c.base[name].bias));
    const stored = c.adapter_stored[name];
    if (c.method === 'oft') {
      const e = stored['oft_R.weight'];
      out.set(name, { rot: oftRotationFromPeft(decode(e) as Float32Array, e.shape, config, d), kernel, s: null, bias });
    } else {
      out.set(name, { rot: boftRotationFromPeft(decode(stored.boft_R) as Float32Array, stored.boft_R.shape), kernel,
        s: Float64Array.from(decode(stored.boft_s)), bias });
    }
  }
  return out;
}

function referenceForward(c: Case, mods: Map<string, RefModule>): Float64Array {
  let h = ref.mat(c.x.shape[0], c.x.shape[1], decode(c.x));
  const names = modulesOf(c);
  names.forEach((name, idx) => {
    const m = mods.get(name)!;
    const y = ref.matmul(ref.matmul(h, m.rot), m.kernel);
    for (let r = 0; r < y.rows; r++) {
      for (let col = 0; col < y.cols; col++) {
        let z = y.data[r * y.cols + col] * (m.s ? m.s[col] : 1) + m.bias[col];
        if (idx < names.length - 1) z = Math.max(0, z);
        y.data[r * y.cols + col] = z;
      }
    }
    h = y;
  });
  return h.data;
}

const measured: Record<string, Record<string, number>> = {};
function record(name: string, key: string, value: number): void {
  (measured[name] ??= {})[key] = value;
}

describe('PEFT parity fixtures (written by the real PEFT)', () => {
  it(`were written by peft ${index.versions.peft} and cover OFT and BOFT (m = 1, 2, 3)`, () => {
    expect(index.cases.length).to.be.greaterThan(15);
    const ms = new Set<number>();
    for (const name of index.cases) {
      const { c } = loadCase(name);
      if (c.method === 'boft') for (const r of Object.values(c.resolved)) ms.add(r.boft_n_butterfly_factor as number);
    }
    expect([...ms].sort()).to.deep.equal([1, 2, 3]);
  });

  it('PEFT OFT ignores module_dropout in training mode (the fixture recorded it)', () => {
    const { c } = loadCase('oft_module_dropout');
    expect(c.peft_train_mode_equals_eval).to.equal(true);
  });

  describe('(A) docs/math.md §7 mapping, float64 reference from docs/math.md', () => {
    for (const name of index.cases) {
      it(`${name}: outputs and merged weights`, () => {
        const { c, config } = loadCase(name);
        const mods = referenceModules(c, config);
        const y = referenceForward(c, mods);
        const e64 = ref.relErr(y, decode(c.y64));
        const e32 = ref.relErr(y, decode(c.y));
        record(name, 'A_y_vs_peft64', e64);
        record(name, 'A_y_vs_peft32', e32);
        expect(e64, 'vs PEFT float64 outputs').to.be.below(TOL);
        expect(e32, 'vs PEFT float32 outputs').to.be.below(TOL);
        for (const [mod, m] of mods) {
          let merged = ref.matmul(m.rot, m.kernel);
          if (m.s)
            for (let i = 0; i < merged.rows; i++)
              for (let j = 0; j < merged.cols; j++) merged.data[i * merged.cols + j] *= m.s[j];
          merged = ref.transpose(merged);
          const em = ref.relErr(merged.data, decode(c.merged[mod].weight));
          record(name, `A_merged_${mod}`, em);
          expect(em, `merged ${mod}.weight`).to.be.below(TOL);
          expect(ref.maxAbsDiff(decode(c.merged[mod].bias), decode(c.base[mod].bias)), 'bias never rotated').to.equal(
            0,
          );
        }
      });
    }

    it('the exact Cayley modes really differ by the sign of v (the mapping is not vacuous)', () => {
      const { c, config } = loadCase('oft_exact_b4');
      const mods = referenceModules(c, { ...config, use_cayley_neumann: true, num_cayley_neumann_terms: 12 });
      // Without the negation (and with a near-exact series instead) the outputs are far from PEFT's.
      expect(ref.relErr(referenceForward(c, mods), decode(c.y64))).to.be.above(1e-2);
    });
  });

  // -------------------------------------------------------------------------------------------
  // (B) our layers, built directly with the mapped options and parameters.

  function buildOurs(c: Case, parsed: ParsedPeftAdapter): tf.LayersModel {
    const input = tf.input({ shape: [c.dims.d] });
    let h: tf.SymbolicTensor = input;
    const names = modulesOf(c);
    const layers: Array<[string, tf.layers.Layer]> = [];
    names.forEach((name, idx) => {
      const units = c.base[name].weight.shape[0];
      const activation = idx < names.length - 1 ? 'relu' : 'linear';
      const layer = parsed.method === 'oft'
        ? new OrthogonalDense({ name, units, activation, ...oftOptionsFromPeft(parsed.config) })
        : new ButterflyDense({ name, units, activation, ...boftOptionsFromPeft(parsed.config) });
      h = layer.apply(h) as tf.SymbolicTensor;
      layers.push([name, layer]);
    });
    const model = tf.model({ inputs: input, outputs: h });
    for (const [name, layer] of layers) {
      const w = c.base[name];
      setTorchModuleWeights(layer, name, {
        weight: { dtype: 'F32', shape: w.weight.shape, data: decode(w.weight) as Float32Array },
        bias: { dtype: 'F32', shape: w.bias.shape, data: decode(w.bias) as Float32Array },
      });
      setPeftModuleWeights(layer, name, parsed.adapted.get(name)!, parsed.config);
    }
    return model;
  }

  describe('(B) OrthogonalDense / ButterflyDense with the mapped parameters', () => {
    for (const name of index.cases) {
      it(`${name}: outputs within 1e-5 of PEFT's, merged kernels of PEFT's merged weights`, () => {
        const { c, parsed } = loadCase(name);
        const before = tensorsBesidesOpConstants();
        const model = buildOurs(c, parsed);
        const x = tf.tensor(decode(c.x) as Float32Array, c.x.shape);
        const y = model.predict(x) as tf.Tensor;
        const ey = ref.relErr(y.dataSync(), decode(c.y));
        record(name, 'B_y', ey);
        expect(ey, 'outputs').to.be.below(TOL);
        for (const mod of modulesOf(c)) {
          const layer = model.getLayer(mod) as OrthogonalDense | ButterflyDense;
          const k = layer.mergedKernel();
          const kt = tf.transpose(k);
          const em = ref.relErr(kt.dataSync(), decode(c.merged[mod].weight));
          record(name, `B_merged_${mod}`, em);
          expect(em, `merged ${mod}`).to.be.below(TOL);
          tf.dispose([k, kt]);
        }
        tf.dispose([x, y]);
        model.dispose();
        expect(tensorsBesidesOpConstants()).to.equal(before);
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  // (C) importPeftAdapter on a plain tfjs model (Dense layers named differently from torch's).

  /** The torch base model as plain tfjs Dense layers named `tf_<module>` (kernel = weightᵀ). */
  function plainBase(c: Case): tf.LayersModel {
    const input = tf.input({ shape: [c.dims.d] });
    let h: tf.SymbolicTensor = input;
    const names = modulesOf(c);
    names.forEach((name, idx) => {
      const [units] = c.base[name].weight.shape;
      h = tf.layers
        .dense({ name: `tf_${name}`, units, activation: idx < names.length - 1 ? 'relu' : 'linear' })
        .apply(h) as tf.SymbolicTensor;
    });
    const model = tf.model({ inputs: input, outputs: h });
    for (const name of names) {
      const [n, d] = c.base[name].weight.shape;
      const w = decode(c.base[name].weight);
      const k = tf.tensor2d(w as Float32Array, [n, d]).transpose();
      const b = tf.tensor1d(decode(c.base[name].bias) as Float32Array);
      model.getLayer(`tf_${name}`).setWeights([k, b]);
      tf.dispose([k, b]);
    }
    return model;
  }

  describe('(C) importPeftAdapter into a plain tfjs model', () => {
    for (const [i, name] of index.cases.entries()) {
      // Alternate the forms: directory path (Node) with a table, in-memory files with a function.
      const fromDir = i % 2 === 0;
      it(`${name}: ${fromDir ? 'directory + nameMap table' : 'in-memory files + nameMap function'}; outputs and ` +
        `merged model match PEFT`, async () => {
        const { c, config, weights } = loadCase(name);
        const base = plainBase(c);
        const before = tensorsBesidesOpConstants();
        const table = Object.fromEntries(modulesOf(c).map((m) => [m, `tf_${m}`]));
        const model = fromDir
          ? await importPeftAdapter(base, `${FIXTURES}${name}`, { nameMap: table })
          : await importPeftAdapter(base, { config: JSON.stringify(config), weights }, { nameMap: (t) => `tf_${t}` });
        const x = tf.tensor(decode(c.x) as Float32Array, c.x.shape);
        const y = model.predict(x) as tf.Tensor;
        const ey = ref.relErr(y.dataSync(), decode(c.y));
        record(name, 'C_import_y', ey);
        expect(ey).to.be.below(TOL);
        const merged = mergeAndUnload(model);
        const ym = merged.predict(x) as tf.Tensor;
        const em = ref.relErr(ym.dataSync(), decode(c.y_merged));
        record(name, 'C_merged_y', em);
        expect(em).to.be.below(TOL);
        // Only the adapter parameters train (bias 'none' in every fixture), as in PEFT.
        const perLayer = modulesOf(c).map((m) =>
          c.method === 'oft'
            ? (c.adapter_stored[m]['oft_R.weight'].shape as number[]).reduce((a, b) => a * b, 1)
            : (() => {
                const [mm, nn, bb] = c.adapter_stored[m].boft_R.shape;
                return (mm * nn * (bb * (bb - 1))) / 2 + c.adapter_stored[m].boft_s.shape[0];
              })(),
        );
        expect(trainableParameters(model).trainable).to.equal(perLayer.reduce((a, b) => a + b, 0));
        tf.dispose([x, y, ym]);
        merged.dispose();
        model.dispose();
        expect(tensorsBesidesOpConstants()).to.equal(before);
        base.dispose();
      });
    }

    it('a BOFT adapter PEFT trained without its CUDA extension (config m=2, tensors m=1) loads as PEFT computed ' +
      'it', async () => {
      const { c, config, weights } = loadCase('boft_m1_b4');
      const base = plainBase(c);
      const warn = console.warn;
      const warnings: string[] = [];
      console.warn = (m: string) => {
        warnings.push(m);
      };
      let model: tf.LayersModel;
      try {
        model = await importPeftAdapter(
          base,
          { config: { ...config, boft_n_butterfly_factor: 2 }, weights },
          { nameMap: (t) => `tf_${t}` },
        );
      } finally {
        console.warn = warn;
      }
      expect(warnings.join('\n')).to.match(/boft_n_butterfly_factor=2 but boft_R holds 1 factor.*CUDA extension/);
      const x = tf.tensor(decode(c.x) as Float32Array, c.x.shape);
      const y = model.predict(x) as tf.Tensor;
      expect(ref.relErr(y.dataSync(), decode(c.y))).to.be.below(TOL);
      tf.dispose([x, y]);
      model.dispose();
      base.dispose();
    });

    it('fails clearly, leaving the base model usable, when names or layers do not fit', async () => {
      const { c, config, weights } = loadCase('oft_neumann_b4');
      const base = plainBase(c);
      const files = { config, weights };
      await importPeftAdapter(base, files).then(() => { throw new Error('no error'); },
        (e: Error) => expect(e.message).to.match(/no layer named 'proj'.*tf_proj.*nameMap/));
      await importPeftAdapter(base, files, { nameMap: {} }).then(() => { throw new Error('no error'); },
        (e: Error) => expect(e.message).to.match(/nameMap has no tfjs layer for torch module 'proj'/));
      const d24 = loadCase('oft_adjust_b7_d24');
      await importPeftAdapter(
        base,
        { config: d24.config, weights: d24.weights },
        { nameMap: { proj: 'tf_proj' } },
      ).then(
        () => {
          throw new Error('no error');
        },
        (e: Error) =>
          expect(e.message).to.match(
            /oft_R.weight' has shape \[4,15\] but layer 'tf_proj' expects oft_r of shape \[2,28\]/,
          ),
      );
      await importPeftAdapter(base, `${FIXTURES}does-not-exist`).then(() => { throw new Error('no error'); },
        (e: Error) => expect(e.message).to.match(/cannot read .*does-not-exist\/adapter_config.json/));
      const x = tf.tensor(decode(c.x) as Float32Array, c.x.shape);
      const y = base.predict(x) as tf.Tensor;
      expect(y.shape).to.deep.equal([c.x.shape[0], c.dims.n]);
      tf.dispose([x, y]);
      base.dispose();
    });
  });

  // -------------------------------------------------------------------------------------------
  // Export of the same layers gives back what PEFT stored (up to its representation).

  describe('export to PEFT files', () => {
    for (const name of index.cases) {
      it(`${name}: exported tensors and config reproduce PEFT's`, () => {
        const { c, config, parsed } = loadCase(name);
        const model = buildOurs(c, parsed);
        const out = exportPeftAdapterFiles(model);
        const back = parsePeftAdapter(out.configJson, out.weights);
        expect(out.config.peft_type).to.equal(config.peft_type);
        for (const key of [
          'use_cayley_neumann',
          'block_share',
          'coft',
          'eps',
          'module_dropout',
          'boft_n_butterfly_factor',
          'boft_dropout',
        ] as const) {
          if (config[key] !== undefined) expect(out.config[key], key).to.equal(config[key]);
        }
        expect(out.config.target_modules).to.deep.equal([...(config.target_modules as string[])].sort());
        for (const mod of modulesOf(c)) {
          const mine = back.adapted.get(mod)!;
          const theirs = parsed.adapted.get(mod)!;
          if (c.method === 'oft') {
            // COFT projects on write: compare with what PEFT holds after its (projecting) forward.
            const want = c.adapter_stored[mod]['oft_R.weight'];
            const got = mine.oftR!.data as Float32Array;
            if (config.coft) {
              const after = decode((JSON.parse(readFileSync(`${FIXTURES}${name}/case.json`, 'utf8')) as
                { adapter_after_forward: Case['adapter_stored'] }).adapter_after_forward[mod]['oft_R.weight']);
              expect(ref.relErr(got, after)).to.be.below(1e-6);
            } else {
              expect(Array.from(got)).to.deep.equal(Array.from(decode(want)));
            }
          } else {
            const [m, n, b] = theirs.boftR!.shape;
            expect(mine.boftR!.shape).to.deep.equal(theirs.boftR!.shape);
            // PEFT's A need not be skew: compare what it uses, ½(A − Aᵀ), through our packing.
            const a = boftParamsFromPeft(mine.boftR!.data as Float32Array, m, n, b);
            const want = boftParamsFromPeft(theirs.boftR!.data as Float32Array, m, n, b);
            expect(ref.maxAbsDiff(a, want)).to.be.below(1e-7);
            expect(Array.from(mine.boftS!.data as Float32Array)).to.deep.equal(
              Array.from(theirs.boftS!.data as Float32Array),
            );
            expect(mine.boftS!.shape).to.deep.equal(theirs.boftS!.shape);
          }
        }
        model.dispose();
      });
    }

    it('refuses what PEFT cannot express, naming the layer and the fix', () => {
      const input = tf.input({ shape: [8] });
      const a = new OrthogonalDense({ name: 'a', units: 8, oftBlockSize: 4, numCayleyNeumannTerms: 3 });
      const m1 = tf.model({ inputs: input, outputs: a.apply(input) as tf.SymbolicTensor });
      expect(() => exportPeftAdapterFiles(m1)).to.throw(/'a'.*numCayleyNeumannTerms=3.*numCayleyNeumannTerms ≥ 4/);
      const bfly = new ButterflyDense({ name: 'bf', units: 4, boftBlockSize: 2, useCayleyNeumann: true });
      const m2 = tf.model({ inputs: input, outputs: bfly.apply(input) as tf.SymbolicTensor });
      expect(() => exportPeftAdapterFiles(m2)).to.throw(/ButterflyDense 'bf'.*Cayley–Neumann.*useCayleyNeumann: false/);
      const p = new OrthogonalDense({ name: 'p', units: 8, oftBlockSize: 4 });
      const q = new OrthogonalDense({ name: 'q', units: 4, oftBlockSize: 4, useCayleyNeumann: false });
      const m3 = tf.model({ inputs: input, outputs: q.apply(p.apply(input)) as tf.SymbolicTensor });
      expect(() => exportPeftAdapterFiles(m3)).to.throw(/useCayleyNeumann differs.*p: true, q: false/);
      const u = new OrthogonalDense({ name: 'u', units: 12, oftBlockSize: 4 });
      const w = new OrthogonalDense({ name: 'w', units: 4, oftBlockSize: 0, r: 4 });
      const m4 = tf.model({ inputs: input, outputs: w.apply(u.apply(input)) as tf.SymbolicTensor });
      expect(() => exportPeftAdapterFiles(m4)).to.throw(
        /neither one block size nor one number of blocks.*u: b=4, r=2; w: b=3, r=4/,
      );
      // One number of blocks with different block sizes is expressible: PEFT's r.
      const w2 = new OrthogonalDense({ name: 'w2', units: 4, oftBlockSize: 0, r: 2 });
      const m5 = tf.model({ inputs: input, outputs: w2.apply(u.apply(input)) as tf.SymbolicTensor });
      const cfg = exportPeftAdapterFiles(m5).config;
      expect([cfg.r, cfg.oft_block_size]).to.deep.equal([2, 0]);
      const mixed = tf.model({
        inputs: input,
        outputs: [a.apply(input) as tf.SymbolicTensor, bfly.apply(input) as tf.SymbolicTensor],
      });
      expect(() => exportPeftAdapterFiles(mixed)).to.throw(/mixes OrthogonalDense and ButterflyDense/);
      for (const m of [m1, m2, m3, m4, m5]) m.dispose();
    });
  });

  describe('PEFT configs tfjs-oft cannot express fail clearly on import', () => {
    it('rejects other PEFT methods, truncated Neumann series and Conv1D-style weights', () => {
      const { weights } = loadCase('oft_neumann_b4');
      expect(() => parsePeftAdapter({ peft_type: 'LORA' }, weights)).to.throw(/peft_type 'LORA' is not supported/);
      expect(() => oftOptionsFromPeft({ peft_type: 'OFT', num_cayley_neumann_terms: 2 })).to.throw(
        /num_cayley_neumann_terms=2/,
      );
      expect(oftOptionsFromPeft({ peft_type: 'OFT', num_cayley_neumann_terms: 3 }).numCayleyNeumannTerms).to.equal(4);
      expect(() => oftOptionsFromPeft({ peft_type: 'OFT', fan_in_fan_out: true })).to.throw(/fan_in_fan_out/);
      expect(() => parsePeftAdapter('{not json', weights)).to.throw(/not valid JSON/);
    });

    it('a parameter shape that does not fit the layer names both shapes', () => {
      const { c, parsed } = loadCase('oft_neumann_b4');
      const layer = new OrthogonalDense({ name: 'proj', units: 8, oftBlockSize: 8 });
      tf.dispose(layer.apply(tf.zeros([1, c.dims.d])) as tf.Tensor);
      expect(() => setPeftModuleWeights(layer, 'proj', parsed.adapted.get('proj')!, parsed.config))
        .to.throw(/shape \[4,6\].*'proj' expects oft_r of shape \[2,28\]/);
      layer.dispose();
    });
  });

  describe('BOFT parameter packing', () => {
    it('boftParamsToPeft ∘ boftParamsFromPeft keeps ½(A − Aᵀ) and is exact on skew input', () => {
      const random = ref.rng(7);
      const a = ref.normals(random, 2 * 3 * 4 * 4);
      const v = boftParamsFromPeft(a, 2, 3, 4);
      const a2 = boftParamsToPeft(v, 2, 3, 4);
      expect(Array.from(boftParamsFromPeft(a2, 2, 3, 4))).to.deep.equal(Array.from(v));
      for (let blk = 0; blk < 6; blk++) {
        for (let i = 0; i < 4; i++) {
          for (let j = 0; j < 4; j++) {
            const o = blk * 16;
            const skewA = 0.5 * (a[o + i * 4 + j] - a[o + j * 4 + i]);
            expect(a2[o + i * 4 + j]).to.be.closeTo(skewA, 1e-6);
          }
        }
      }
    });
  });

  describe('safetensors reader/writer', () => {
    it('reads the files PEFT wrote bit-exactly', () => {
      for (const name of index.cases) {
        const { c, weights } = loadCase(name);
        const file = readSafetensors(weights);
        expect(file.metadata).to.deep.equal({ format: 'pt' });
        for (const mod of modulesOf(c)) {
          for (const [k, enc] of Object.entries(c.adapter_stored[mod])) {
            const t = file.tensors.get(`base_model.model.${mod}.${k}`)!;
            expect(t.dtype).to.equal('F32');
            expect(t.shape).to.deep.equal(enc.shape);
            expect(Array.from(t.data as Float32Array)).to.deep.equal(Array.from(decode(enc)));
          }
        }
      }
    });

    it('decodes F16 and BF16 (half-precision PEFT adapters) to float32', () => {
      const header = new TextEncoder().encode(
        JSON.stringify({
          h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
        }),
      );
      const bytes = new Uint8Array(8 + header.length + 10);
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, BigInt(header.length), true);
      bytes.set(header, 8);
      const o = 8 + header.length;
      // F16: 1.0 = 0x3C00, -2.5 = 0xC100, 2^-24 (smallest subnormal) = 0x0001; BF16: 1.0 = 0x3F80, -2.5 = 0xC020.
      [0x3c00, 0xc100, 0x0001, 0x3f80, 0xc020].forEach((h, i) => view.setUint16(o + 2 * i, h, true));
      const file = readSafetensors(bytes);
      expect(Array.from(file.tensors.get('h')!.data as Float32Array)).to.deep.equal([1, -2.5, 2 ** -24]);
      expect(Array.from(file.tensors.get('b')!.data as Float32Array)).to.deep.equal([1, -2.5]);
    });

    it('round-trips F32/F64, pads the header to 8 bytes and rejects corrupt files', () => {
      const bytes = writeSafetensors({
        'a.b': { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-8, 0, 7]) },
        c: { shape: [1], data: new Float64Array([Math.PI]) },
      }, { format: 'pt' });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).to.equal(0);
      const back = readSafetensors(bytes);
      expect(Array.from(back.tensors.get('a.b')!.data as Float32Array)).to.deep.equal([
        1,
        -2,
        3.5,
        Math.fround(1e-8),
        0,
        7,
      ]);
      expect(back.tensors.get('c')!.dtype).to.equal('F64');
      expect((back.tensors.get('c')!.data as Float64Array)[0]).to.equal(Math.PI);
      expect(() => readSafetensors(bytes.subarray(0, bytes.length - 4))).to.throw(/truncated or corrupt/);
      expect(() => readSafetensors(bytes.subarray(0, 5))).to.throw(/too short/);
      const bad = bytes.slice();
      new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
      expect(() => readSafetensors(bad)).to.throw(/exceeds the file/);
      expect(() => writeSafetensors({ x: { shape: [3], data: [1, 2] } })).to.throw(/2 values but shape \[3\]/);
    });
  });

  after(() => {
    if (process.env.PEFT_PARITY_REPORT) {
      // PEFT_PARITY_REPORT=1 npx mocha test/peft-parity.spec.ts prints the measured relative differences.
      const rows = Object.entries(measured).map(
        ([k, v]) =>
          `${k.padEnd(24)} ${Object.entries(v)
            .map(([a, b]) => `${a}=${b.toExponential(2)}`)
            .join('  ')}`,
      );
      console.log(`\nmax relative differences vs PEFT (${tf.getBackend()}):\n${rows.join('\n')}`);
    }
  });
});
