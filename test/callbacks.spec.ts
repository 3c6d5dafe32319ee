// Callbacks: ModuleDropoutSchedule (rates vs their formulas, what the layers then do),
// OrthogonalityMonitor (figures vs an independent float64 computation, warnings, stopping),
// ProgressBar (output on a terminal and off one), mixing with tfjs' own callbacks, leaks.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import {
  ButterflyDense,
  ModuleDropoutSchedule,
  OrthogonalDense,
  OrthogonalityMonitor,
  ProgressBar,
} from '../src/index';
import { normals as normalsFrom, rng } from './reference/dense-math';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

/** Deterministic float32 normals, independent of tfjs. */
const normals = (seed: number, n: number, std: number) => normalsFrom(rng(seed), n, std);

// ---------- float64 math from docs/math.md §2–§3, independent of the code under test ----------

type M = Float64Array; // b × b, row-major

function skew64(v: ArrayLike<number>, offset: number, b: number): M {
  const q = new Float64Array(b * b);
  let k = offset;
  for (let i = 0; i < b; i++) {
    for (let j = i + 1; j < b; j++) { q[i * b + j] = v[k]; q[j * b + i] = -v[k]; k++; }
  }
  return q;
}
function eye64(b: number): M {
  const m = new Float64Array(b * b);
  for (let i = 0; i < b; i++) m[i * b + i] = 1;
  return m;
}
function mul64(a: M, c: M, b: number): M {
  const out = new Float64Array(b * b);
  for (let i = 0; i < b; i++)
    for (let k = 0; k < b; k++) for (let j = 0; j < b; j++) out[i * b + j] += a[i * b + k] * c[k * b + j];
  return out;
}
function add64(a: M, c: M, s = 1): M { return a.map((x, i) => x + s * c[i]); }
function inv64(a: M, b: number): M {
  const m = new Float64Array(b * 2 * b);
  for (let i = 0; i < b; i++) { for (let j = 0; j < b; j++) m[i * 2 * b + j] = a[i * b + j]; m[i * 2 * b + b + i] = 1; }
  for (let c = 0; c < b; c++) {
    let p = c;
    for (let i = c + 1; i < b; i++) if (Math.abs(m[i * 2 * b + c]) > Math.abs(m[p * 2 * b + c])) p = i;
    for (let j = 0; j < 2 * b; j++) {
      const t = m[c * 2 * b + j];
      m[c * 2 * b + j] = m[p * 2 * b + j];
      m[p * 2 * b + j] = t;
    }
    const piv = m[c * 2 * b + c];
    for (let j = 0; j < 2 * b; j++) m[c * 2 * b + j] /= piv;
    for (let i = 0; i < b; i++) {
      if (i === c) continue;
      const f = m[i * 2 * b + c];
      for (let j = 0; j < 2 * b; j++) m[i * 2 * b + j] -= f * m[c * 2 * b + j];
    }
  }
  const out = new Float64Array(b * b);
  for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) out[i * b + j] = m[i * 2 * b + b + j];
  return out;
}
/** Exact Cayley R = (I + Q)(I − Q)⁻¹ or the Neumann form (I + Q)(I + Q + … + Q^(N−2)). */
function rotation64(q: M, b: number, neumannTerms: number | null): M {
  const i = eye64(b);
  if (neumannTerms == null) return mul64(add64(i, q), inv64(add64(i, q, -1), b), b);
  let sum = eye64(b);
  let pow = eye64(b);
  for (let t = 1; t <= neumannTerms - 2; t++) { pow = mul64(pow, q, b); sum = add64(sum, pow); }
  return mul64(add64(i, q), sum, b);
}
/** max |RᵀR − I|. */
function orthError64(r: M, b: number): number {
  let worst = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      let s = 0;
      for (let k = 0; k < b; k++) s += r[k * b + i] * r[k * b + j];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}
function froNorm64(q: M): number { return Math.sqrt(q.reduce((a, x) => a + x * x, 0)); }


function packedWeight(layer: tf.layers.Layer): tf.LayerVariable {
  const w = layer.weights.find((x) => /b?oft_r$/.test(x.originalName));
  if (w == null) throw new Error(`no packed weight in ${layer.name}`);
  return w;
}
function writeWeight(w: tf.LayerVariable, values: Float32Array): void {
  const t = tf.tensor(values, w.shape as number[]);
  w.write(t);
  t.dispose();
}
function setPacked(layer: tf.layers.Layer, seed: number, std: number): Float32Array {
  const w = packedWeight(layer);
  const values = normals(seed, w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number, std);
  writeWeight(w, values);
  return values;
}

/** Float64 figures of one adapter's packed weight: per block Q, R per the layer's mode. */
function figures64(values: Float32Array, b: number, neumannTerms: number | null): { err: number; qNorm: number } {
  const p = (b * (b - 1)) / 2;
  let err = 0;
  let qNorm = 0;
  for (let j = 0; j < values.length / p; j++) {
    const q = skew64(values, j * p, b);
    err = Math.max(err, orthError64(rotation64(q, b, neumannTerms), b));
    qNorm = Math.max(qNorm, froNorm64(q));
  }
  return { err, qNorm };
}

class Recorder extends tf.CustomCallback {
  batchLogs: tf.Logs[] = [];
  epochLogs: tf.Logs[] = [];
  constructor() {
    super({
      onBatchEnd: async (_b, logs) => { this.batchLogs.push({ ...logs }); },
      onEpochEnd: async (_e, logs) => { this.epochLogs.push({ ...logs }); },
    });
  }
}

// ---------- ModuleDropoutSchedule ----------

describe('ModuleDropoutSchedule', () => {
  it('rates follow the formula: warm-up, then constant / linear / cosine', () => {
    // Closed forms with peak 0.4, final 0.1, warm-up 2, T = 10 (u = (t − 2) / 8 after the warm-up).
    const constant = new ModuleDropoutSchedule({ rate: 0.4, warmupSteps: 2 });
    const linear = new ModuleDropoutSchedule({ rate: 0.4, finalRate: 0.1, schedule: 'linear', warmupSteps: 2 });
    const cosine = new ModuleDropoutSchedule({ rate: 0.4, finalRate: 0.1, schedule: 'cosine', warmupSteps: 2 });
    const want: Array<[number, number, number, number]> = [
      // t, constant, linear, cosine
      [0, 0, 0, 0],
      [1, 0.2, 0.2, 0.2],
      [2, 0.4, 0.4, 0.4],
      [4, 0.4, 0.4 - 0.3 * 0.25, 0.1 + 0.3 * (1 + Math.SQRT1_2) / 2],
      [6, 0.4, 0.25, 0.25],
      [8, 0.4, 0.4 - 0.3 * 0.75, 0.1 + 0.3 * (1 - Math.SQRT1_2) / 2],
      [10, 0.4, 0.1, 0.1],
      [15, 0.4, 0.1, 0.1],
    ];
    for (const [t, c, l, k] of want) {
      expect(constant.rateAt(t, 10)).to.be.closeTo(c, 1e-12, `constant t=${t}`);
      expect(linear.rateAt(t, 10)).to.be.closeTo(l, 1e-12, `linear t=${t}`);
      expect(cosine.rateAt(t, 10)).to.be.closeTo(k, 1e-12, `cosine t=${t}`);
    }
  });

  it('rejects bad arguments with the value', () => {
    expect(() => new ModuleDropoutSchedule({ rate: 1 })).to.throw(/rate must be in \[0, 1\), got 1/);
    expect(() => new ModuleDropoutSchedule({ rate: 0.1, finalRate: -0.5 })).to.throw(/finalRate .* got -0.5/);
    expect(() => new ModuleDropoutSchedule({ rate: 0.1, warmupSteps: 1.5 })).to.throw(/warmupSteps must be an integer/);
    expect(() => new ModuleDropoutSchedule({ rate: 0.1, schedule: 'step' as never })).to.throw(/schedule must be/);
  });

  it('each batch uses the scheduled rate: dropped-block counts and reported losses match (nested model)', async () => {
    // d = 16, b = 2 → r = 8 blocks. Linear: peak 0.5, final 0, warm-up 2, T = 2 epochs × 5 batches.
    // floor(rate · 8) per batch: 0, 2, 4, 3, 3, 2, 2, 1, 1, 0 (all rates are binary fractions).
    const d = 16, units = 3, n = 20, bs = 4;
    const oft = new OrthogonalDense({ units, inputShape: [d], oftBlockSize: 2, useCayleyNeumann: false });
    const inner = tf.sequential({ layers: [oft] });
    const model = tf.sequential({ layers: [inner] }); // the adapter sits in a nested model
    const v = setPacked(oft, 61, 0.5);
    const [kernel, bias] = oft
      .getWeights()
      .filter((w) => w.rank <= 2 && w.shape[w.rank - 1] === units)
      .map((w) => w.dataSync());
    let calls = 0;
    oft.random = () => { calls++; return 0; }; // picks blocks 0 … k−1, deterministic
    const counts: number[] = [];
    const counter = new tf.CustomCallback({ onBatchEnd: async () => { counts.push(calls); calls = 0; } });
    const recorder = new Recorder();
    const schedule = new ModuleDropoutSchedule({ rate: 0.5, schedule: 'linear', finalRate: 0, warmupSteps: 2 });
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    const xv = normals(62, n * d, 1);
    const yv = normals(63, n * units, 1);
    const x = tf.tensor2d(xv, [n, d]);
    const y = tf.tensor2d(yv, [n, units]);
    expect(oft.moduleDropout).to.equal(0);
    const h = await model.fit(x, y, {
      epochs: 2,
      batchSize: bs,
      shuffle: false,
      verbose: 0,
      callbacks: [schedule, counter, recorder],
    });
    tf.dispose([x, y]);

    const rates = Array.from({ length: 10 }, (_, t) => (t < 2 ? 0.5 * t / 2 : 0.5 * (1 - (t - 2) / 8)));
    expect(counts).to.deep.equal(rates.map((r) => Math.floor(r * 8)));
    expect(recorder.batchLogs.map((l) => l.module_dropout)).to.deep.equal(rates);
    expect(h.history.module_dropout).to.deep.equal([rates[4], rates[9]]);
    expect(oft.moduleDropout).to.equal(0); // restored after training

    // Reported batch loss = float64 loss with blocks 0 … k−1 replaced by I (lr = 0: weights fixed).
    const blocks = Array.from({ length: 8 }, (_, j) => rotation64(skew64(v, j, 2), 2, null));
    for (let t = 0; t < 10; t++) {
      const k = Math.floor(rates[t] * 8);
      const row0 = (t % 5) * bs;
      let sse = 0;
      for (let r = row0; r < row0 + bs; r++) {
        const xr = new Float64Array(d);
        for (let j = 0; j < 8; j++) {
          for (let c = 0; c < 2; c++) {
            let s = 0;
            for (let a = 0; a < 2; a++) s += xv[r * d + 2 * j + a] * (j < k ? (a === c ? 1 : 0) : blocks[j][a * 2 + c]);
            xr[2 * j + c] = s;
          }
        }
        for (let o = 0; o < units; o++) {
          let z = bias[o];
          for (let i = 0; i < d; i++) z += xr[i] * kernel[i * units + o];
          sse += (z - yv[r * units + o]) ** 2;
        }
      }
      expect(recorder.batchLogs[t].loss).to.be.closeTo(sse / (bs * units), 1e-5, `batch ${t} (k=${k})`);
    }
  });

  it('per epoch (cosine) it drives ButterflyDense.boftDropout too, and logs one rate per epoch', async () => {
    const boft = new ButterflyDense({ units: 2, inputShape: [8], boftBlockSize: 2, boftNButterflyFactor: 2 });
    const oft = new OrthogonalDense({ units: 8, inputShape: [8], oftBlockSize: 2 });
    const model = tf.sequential({ layers: [oft, boft] });
    const seen: Array<[number, number]> = [];
    const spy = new tf.CustomCallback({
      onBatchBegin: async () => {
        seen.push([oft.moduleDropout, boft.boftDropout]);
      },
    });
    const schedule = new ModuleDropoutSchedule({
      rate: 0.5,
      schedule: 'cosine',
      unit: 'epoch',
      restoreOnTrainEnd: false,
    });
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = tf.tensor2d(normals(71, 6 * 8, 1), [6, 8]);
    const y = tf.tensor2d(normals(72, 6 * 2, 1), [6, 2]);
    const h = await model.fit(x, y, { epochs: 3, batchSize: 3, verbose: 0, callbacks: [schedule, spy] });
    tf.dispose([x, y]);
    const want = [0.5, 0.5 * (1 + Math.cos(Math.PI / 3)) / 2, 0.5 * (1 + Math.cos(2 * Math.PI / 3)) / 2];
    (h.history.module_dropout as number[]).forEach((r, e) => expect(r).to.be.closeTo(want[e], 1e-12));
    expect(seen.length).to.equal(6);
    seen.forEach(([a, b], i) => { expect(a).to.be.closeTo(want[Math.floor(i / 2)], 1e-12); expect(b).to.equal(a); });
    expect(boft.boftDropout).to.be.closeTo(want[2], 1e-12); // restoreOnTrainEnd: false keeps the last rate
  });
});

// ---------- OrthogonalityMonitor ----------

describe('OrthogonalityMonitor', () => {
  /** Functional model: Neumann OFT inside a nested Sequential, exact OFT and BOFT at top level. */
  function monitoredModel() {
    const neumann = new OrthogonalDense({
      units: 8,
      inputShape: [8],
      oftBlockSize: 4,
      useCayleyNeumann: true,
      name: 'neu',
    });
    const inner = tf.sequential({ layers: [neumann], name: 'inner' });
    const exact = new OrthogonalDense({ units: 8, oftBlockSize: 4, useCayleyNeumann: false, name: 'exact' });
    const boft = new ButterflyDense({ units: 3, boftBlockSize: 2, boftNButterflyFactor: 3, name: 'boft' });
    const input = tf.input({ shape: [8] });
    const out = boft.apply(exact.apply(inner.apply(input))) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: input, outputs: out }), neumann, exact, boft };
  }

  it('figures equal a float64 computation on the same weights; warns once per Neumann layer past the ' +
    'threshold', async () => {
    const { model, neumann, exact, boft } = monitoredModel();
    // Neumann blocks of b = 4 with ‖Q‖_F near 1; exact blocks large (exact Cayley stays orthogonal).
    const vN = setPacked(neumann, 81, 0.35);
    const vE = setPacked(exact, 82, 0.8);
    const vB = setPacked(boft, 83, 0.3);
    const fN = figures64(vN, 4, 5);
    const fE = figures64(vE, 4, null);
    const fB = figures64(vB, 2, null);
    expect(fN.qNorm).to.be.greaterThan(0.8);
    const warnings: string[] = [];
    const monitor = new OrthogonalityMonitor({ everyBatches: 2, neumannWarnAt: 0.8, log: (m) => warnings.push(m) });
    const recorder = new Recorder();
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    const x = tf.tensor2d(normals(84, 12 * 8, 1), [12, 8]);
    const y = tf.tensor2d(normals(85, 12 * 3, 1), [12, 3]);
    const h = await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [monitor, recorder] });
    tf.dispose([x, y]);

    const wantErr = Math.max(fN.err, fE.err, fB.err);
    const wantQ = Math.max(fN.qNorm, fE.qNorm, fB.qNorm);
    expect(wantErr).to.equal(fN.err); // the Neumann layer dominates
    for (const e of h.history.orthogonality_error as number[]) expect(e).to.be.closeTo(wantErr, 1e-6 + 1e-5 * wantErr);
    for (const q of h.history.max_q_norm as number[]) expect(q).to.be.closeTo(wantQ, 1e-5 * wantQ);
    // Batch logs: figures at global batches 2, 4, 6 (every 2nd), none elsewhere.
    const measured = recorder.batchLogs.map((l) => 'orthogonality_error' in l);
    expect(measured).to.deep.equal([false, true, false, true, false, true]);
    const per = Object.fromEntries(monitor.lastReport!.layers.map((f) => [f.layer, f]));
    expect(Object.keys(per)).to.have.members(['neu', 'exact', 'boft']);
    expect(per.neu.orthogonalityError).to.be.closeTo(fN.err, 1e-6 + 1e-5 * fN.err);
    expect(per.exact.orthogonalityError).to.be.at.most(2e-5); // float32 rounding only
    expect(per.boft.orthogonalityError).to.be.at.most(2e-5);
    expect(per.neu.maxQNorm).to.be.closeTo(fN.qNorm, 1e-5 * fN.qNorm);
    expect(per.exact.maxQNorm).to.be.closeTo(fE.qNorm, 1e-5 * fE.qNorm);
    expect(per.boft.maxQNorm).to.be.closeTo(fB.qNorm, 1e-5 * fB.qNorm);
    // 5 measurements, one warning, naming the Neumann layer (the exact layer has larger ‖Q‖ but no warning).
    expect(fE.qNorm).to.be.greaterThan(0.8);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/layer 'neu' \(Cayley–Neumann\).*‖Q‖_F = [\d.]+ ≥ 0\.8/);
  });

  it('stops training past stopAtError (mid-epoch with everyBatches) and past stopAtQNorm (at epoch end)', async () => {
    for (const mode of ['error', 'qnorm'] as const) {
      const { model, neumann } = monitoredModel();
      setPacked(neumann, 91, 0.2);
      const warnings: string[] = [];
      const monitor = mode === 'error'
        ? new OrthogonalityMonitor({ everyBatches: 1, stopAtError: 1e-9, log: (m) => warnings.push(m) })
        : new OrthogonalityMonitor({ stopAtQNorm: 1e-6, log: (m) => warnings.push(m) });
      let batches = 0;
      const counter = new tf.CustomCallback({ onBatchEnd: async () => { batches++; } });
      model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
      const x = tf.tensor2d(normals(92, 12 * 8, 1), [12, 8]);
      const y = tf.tensor2d(normals(93, 12 * 3, 1), [12, 3]);
      const h = await model.fit(x, y, { epochs: 5, batchSize: 4, verbose: 0, callbacks: [monitor, counter] });
      tf.dispose([x, y]);
      expect(h.epoch).to.deep.equal([0]);
      expect(batches).to.equal(mode === 'error' ? 1 : 3);
      expect(monitor.stopReason).to.match(
        mode === 'error' ? /stopAtError = 1e-9 \(layer 'neu'\)/ : /stopAtQNorm = 0.000001/,
      );
      expect(warnings.some((w) => /stopping training/.test(w))).to.equal(true);
    }
  });
});

// ---------- ProgressBar ----------

class FakeStream {
  text = '';
  constructor(public isTTY: boolean, public columns = 160) {}
  write(s: string): boolean { this.text += s; return true; }
  // readline.cursorTo/moveCursor/clearLine call these with a callback on some Node versions.
  on(): this { return this; }
}

function tinyModel(): tf.LayersModel {
  const m = tf.sequential({ layers: [new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2 })] });
  m.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError', metrics: ['mae'] });
  return m;
}

const num = (text: string, key: string): number[] =>
  [...text.matchAll(new RegExp(`${key} (-?[\\d.]+(?:e[-+]\\d+)?)`, 'g'))].map((m) => Number(m[1]));

describe('ProgressBar', () => {
  it('off a terminal: exactly one line per epoch with batch count and the epoch figures', async () => {
    const stream = new FakeStream(false);
    const model = tinyModel();
    const x = tf.tensor2d(normals(101, 14 * 4, 1), [14, 4]);
    const y = tf.tensor2d(normals(102, 14 * 2, 1), [14, 2]);
    const h = await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, validationData: [x, y],
                                      callbacks: [new ProgressBar({ stream })] });
    tf.dispose([x, y]);
    const lines = stream.text.split('\n').filter((l) => l !== '');
    expect(lines).to.have.length(3);
    expect(stream.text).to.not.include('\x1b'); // no terminal control codes
    lines.forEach((l, e) => expect(l).to.match(new RegExp(`^Epoch ${e + 1}/3 · 4/4 batches · `)));
    for (const key of ['loss', 'mae', 'val_loss', 'val_mae']) {
      const shown = lines.map((l) => num(l, ` ${key}`)[0]);
      const hist = h.history[key] as number[];
      shown.forEach((s, e) => expect(s).to.be.closeTo(hist[e], 6e-5, `${key} epoch ${e + 1}`));
    }
  });

  it('on a terminal: a cli-progress bar per epoch with batch count, ETA and the epoch figures', async () => {
    const stream = new FakeStream(true);
    const model = tinyModel();
    const x = tf.tensor2d(normals(111, 16 * 4, 1), [16, 4]);
    const y = tf.tensor2d(normals(112, 16 * 2, 1), [16, 2]);
    const recorder = new Recorder();
    const h = await model.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0,
                                      callbacks: [new ProgressBar({ stream, refreshMs: 0 }), recorder] });
    tf.dispose([x, y]);
    const text = stream.text;
    expect(text).to.include('\x1b['); // drawn in place with control codes
    const frames = text.split('\x1b[1G').filter((f) => f.startsWith('Epoch '));
    for (const e of [1, 2]) {
      // One frame per batch (refreshMs: 0), each with the running mean of the epoch's batch losses.
      for (let i = 1; i <= 4; i++) {
        const frame = frames.find((f) => f.startsWith(`Epoch ${e}/2 [`) && f.includes(` ${i}/4 | ETA `));
        expect(frame, `epoch ${e} batch ${i}`).to.not.equal(undefined);
        const batchLosses = recorder.batchLogs.slice((e - 1) * 4, (e - 1) * 4 + i).map((l) => l.loss);
        const mean = batchLosses.reduce((a, b) => a + b, 0) / i; // equal batch sizes
        expect(num(frame!, 'loss')[0]).to.be.closeTo(mean, 6e-5, `running loss, epoch ${e} batch ${i}`);
      }
      const last = frames.filter((f) => f.startsWith(`Epoch ${e}/2 [`)).at(-1)!;
      expect(last).to.match(/\[=+\] 4\/4 \| ETA [^|]+\| loss /);
      expect(num(last, 'loss')[0]).to.be.closeTo(h.history.loss[e - 1] as number, 6e-5);
      expect(num(last, 'mae')[0]).to.be.closeTo(h.history.mae[e - 1] as number, 6e-5);
    }
  });
});

// ---------- mixing and bookkeeping ----------

describe('callbacks together', () => {
  it('mix with tf.CustomCallback and tf.callbacks.earlyStopping, in any order, and leak no tensors', async () => {
    const model = tinyModel();
    const x = tf.tensor2d(normals(121, 8 * 4, 1), [8, 4]);
    const y = tf.tensor2d(normals(122, 8 * 2, 1), [8, 2]);
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' }); // constant loss → early stop
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 }); // optimizer state is created here
    const before = tensorsBesidesOpConstants();
    const stream = new FakeStream(false);
    let customEpochs = 0;
    const custom = new tf.CustomCallback({ onEpochEnd: async () => { customEpochs++; } });
    const h = await model.fit(x, y, {
      epochs: 6,
      batchSize: 4,
      shuffle: false,
      verbose: 0,
      callbacks: [
        custom,
        new ModuleDropoutSchedule({ rate: 0.2, schedule: 'linear' }),
        new OrthogonalityMonitor({ everyBatches: 1 }),
        tf.callbacks.earlyStopping({ monitor: 'loss', patience: 1, minDelta: 1e-4 }),
        new ProgressBar({ stream }),
      ],
    });
    expect(h.epoch).to.deep.equal([0, 1]); // earlyStopping still works
    expect(customEpochs).to.equal(2);
    expect(Object.keys(h.history)).to.include.members(['loss', 'module_dropout', 'orthogonality_error', 'max_q_norm']);
    expect(stream.text.split('\n').filter((l) => l !== '')).to.have.length(2);
    const h2 = await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [
      new ProgressBar({ stream }), new OrthogonalityMonitor(), new ModuleDropoutSchedule({ rate: 0.3 }), custom] });
    expect(h2.history.orthogonality_error).to.have.length(1);
    tf.dispose([x, y]);
    expect(tensorsBesidesOpConstants()).to.equal(before - 2);
  });
});
