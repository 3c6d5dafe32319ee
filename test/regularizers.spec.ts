// OrthogonalityRegularizer: its value against float64 sums of squares (‖Q_j‖_F² = 2‖v_j‖²,
// docs/math.md §2), its exact contribution to the loss fit reports, its gradient (closed form), its
// serialization through model.json, and tensor bookkeeping.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyBoft,
  applyOft,
  ButterflyDense,
  OrthogonalDense,
  OrthogonalDenseArgs,
  OrthogonalityRegularizer,
} from '../src/index';
import { normals as normalsFrom, rng } from './reference/dense-math';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

/** Deterministic float32 normals, independent of tfjs. */
const normals = (seed: number, n: number, std: number) => normalsFrom(rng(seed), n, std);


/** Float64 `λ · Σ_j max(0, ‖Q_j‖_F² − ρ²)` with Q_j built explicitly from the packed v_j (docs/math.md §2). */
function penalty64(values: ArrayLike<number>, p: number, lambda: number, radius = 0): number {
  const b = Math.round((1 + Math.sqrt(1 + 8 * p)) / 2);
  let total = 0;
  for (let j = 0; j < values.length / p; j++) {
    const q = new Float64Array(b * b);
    let k = 0;
    for (let r = 0; r < b; r++) {
      for (let c = r + 1; c < b; c++) {
        q[r * b + c] = values[j * p + k];
        q[c * b + r] = -values[j * p + k];
        k++;
      }
    }
    let fro2 = 0;
    for (const e of q) fro2 += e * e;
    total += Math.max(0, fro2 - radius * radius);
  }
  return lambda * total;
}

function packedWeight(layer: tf.layers.Layer): tf.LayerVariable {
  const w = layer.weights.find((x) => /b?oft_r$/.test(x.originalName));
  if (w == null) throw new Error(`no packed weight in ${layer.name}`);
  return w;
}

function setPacked(layer: tf.layers.Layer, seed: number, std: number): Float32Array {
  const w = packedWeight(layer);
  const values = normals(seed, w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number, std);
  const t = tf.tensor(values, w.shape as number[]);
  w.write(t);
  t.dispose();
  return values;
}

/** The loss `fit` reports for one full batch with a zero learning rate (weights unchanged). */
async function firstBatchLoss(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<number> {
  model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
  const h = await model.fit(x, y, { epochs: 1, batchSize: x.shape[0], shuffle: false, verbose: 0 });
  return h.history.loss[0] as number;
}

describe('OrthogonalityRegularizer', () => {
  it('computes λ·Σ‖Q_j‖_F² (and the free-radius variant) on [r, p] and [m, N, p] weights', () => {
    for (const [shape, seed] of [[[3, 6], 1], [[2, 4, 10], 2], [[1, 1], 3]] as Array<[number[], number]>) {
      const size = shape.reduce((a, b) => a * b, 1);
      const v = normals(seed, size, 0.4);
      const x = tf.tensor(v, shape);
      const p = shape[shape.length - 1];
      for (const [lambda, radius] of [[0.3, 0], [1e-3, 0], [0.7, 0.5], [0, 0]]) {
        const reg = new OrthogonalityRegularizer({ lambda, radius });
        const got = reg.apply(x);
        const want = penalty64(v, p, lambda, radius);
        expect(Math.abs(got.dataSync()[0] - want)).to.be.at.most(
          1e-6 * Math.max(1, want),
          `${shape} λ=${lambda} ρ=${radius}`,
        );
        got.dispose();
      }
      x.dispose();
    }
  });

  it('the radius leaves small blocks free: a block inside it costs nothing', () => {
    const x = tf.tensor2d([[0.1, 0.1, 0.1], [0.5, 0.5, 0.5]]); // ‖Q‖_F² = 0.06 and 1.5
    const reg = new OrthogonalityRegularizer({ lambda: 2, radius: 0.5 });
    const got = reg.apply(x);
    expect(got.dataSync()[0]).to.be.closeTo(2 * (1.5 - 0.25), 1e-6);
    tf.dispose([x, got]);
  });

  it('rejects bad arguments with the value and a fix', () => {
    expect(() => new OrthogonalityRegularizer({ lambda: -1 })).to.throw(/lambda must be a finite number ≥ 0, got -1/);
    expect(() => new OrthogonalityRegularizer({ lambda: NaN })).to.throw(/lambda/);
    expect(() => new OrthogonalityRegularizer({ radius: -0.1 })).to.throw(/radius must be .* got -0.1/);
  });

  it('adds exactly λ·Σ‖Q‖² to the loss fit reports (OrthogonalDense and ButterflyDense, compared with λ = ' +
    '0)', async () => {
    const x = tf.tensor2d(normals(11, 6 * 8, 1), [6, 8]);
    const y = tf.tensor2d(normals(12, 6 * 5, 1), [6, 5]);
    const lambda = 0.05;
    const make = (reg: number, kind: 'oft' | 'boft') => {
      const m = tf.sequential();
      const regularizer = new OrthogonalityRegularizer({ lambda: reg });
      m.add(
        kind === 'oft'
          ? new OrthogonalDense({
              units: 5,
              inputShape: [8],
              oftBlockSize: 4,
              useCayleyNeumann: false,
              oftRegularizer: regularizer,
            })
          : new ButterflyDense({
              units: 5,
              inputShape: [8],
              boftBlockSize: 2,
              boftNButterflyFactor: 2,
              boftRegularizer: regularizer,
            }),
      );
      return m;
    };
    for (const kind of ['oft', 'boft'] as const) {
      const withReg = make(lambda, kind);
      const without = make(0, kind);
      const v = setPacked(withReg.layers[0], 21, 0.3);
      without.setWeights(withReg.getWeights());
      const p = packedWeight(withReg.layers[0]).shape.at(-1) as number;
      const expected = penalty64(v, p, lambda);
      const diff = (await firstBatchLoss(withReg, x, y)) - (await firstBatchLoss(without, x, y));
      expect(expected).to.be.greaterThan(0.05);
      expect(Math.abs(diff - expected)).to.be.at.most(5e-6, `${kind}: loss difference ${diff} vs ${expected}`);
    }
    tf.dispose([x, y]);
  });

  it('its gradient is 4λv: with a zero kernel one SGD step scales oft_r by (1 − 4ηλ)', async () => {
    const lambda = 0.5;
    const lr = 0.1;
    const m = tf.sequential();
    m.add(new OrthogonalDense({ units: 3, inputShape: [6], oftBlockSize: 3, kernelInitializer: 'zeros',
                                oftRegularizer: new OrthogonalityRegularizer({ lambda }) }));
    const v0 = setPacked(m.layers[0], 31, 0.2);
    m.compile({ optimizer: tf.train.sgd(lr), loss: 'meanSquaredError' });
    const x = tf.tensor2d(normals(32, 4 * 6, 1), [4, 6]);
    const y = tf.tensor2d(normals(33, 4 * 3, 1), [4, 3]);
    await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    const v1 = packedWeight(m.layers[0]).read().dataSync();
    for (let i = 0; i < v0.length; i++) expect(v1[i]).to.be.closeTo(v0[i] * (1 - 4 * lr * lambda), 1e-6);
    tf.dispose([x, y]);
  });

  it('resolves from a config dict and from its class name', () => {
    const a = new OrthogonalDense({ units: 2, oftBlockSize: 2,
      oftRegularizer: { className: 'OrthogonalityRegularizer', config: { lambda: 0.25, radius: 0.1 } } as unknown as
        OrthogonalDenseArgs['oftRegularizer'] });
    const b = new OrthogonalDense({ units: 2, oftBlockSize: 2, oftRegularizer: 'OrthogonalityRegularizer' });
    const ca = a.getConfig().oftRegularizer as { className: string; config: Record<string, number> };
    const cb = b.getConfig().oftRegularizer as { className: string; config: Record<string, number> };
    expect(ca).to.deep.equal({ className: 'OrthogonalityRegularizer', config: { lambda: 0.25, radius: 0.1 } });
    expect(cb.className).to.equal('OrthogonalityRegularizer');
    expect(cb.config.lambda).to.equal(1e-3);
  });

  it('is saved in model.json and reloads (file:// and memory); the reloaded model reports the same loss', async () => {
    const m = tf.sequential();
    m.add(new OrthogonalDense({ units: 4, inputShape: [8], oftBlockSize: 4,
                                oftRegularizer: new OrthogonalityRegularizer({ lambda: 0.125, radius: 0.25 }) }));
    m.add(new ButterflyDense({ units: 3, boftBlockSize: 2, boftNButterflyFactor: 2,
                               boftRegularizer: new OrthogonalityRegularizer({ lambda: 0.0625 }) }));
    setPacked(m.layers[0], 41, 0.3);
    setPacked(m.layers[1], 42, 0.3);
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-oft-reg-'));
    await m.save(`file://${dir}`);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const layers = json.modelTopology.config.layers;
    expect(layers[0].config.oft_regularizer).to.deep.equal(
      { class_name: 'OrthogonalityRegularizer', config: { lambda: 0.125, radius: 0.25 } });
    expect(layers[1].config.boft_regularizer).to.deep.equal(
      { class_name: 'OrthogonalityRegularizer', config: { lambda: 0.0625, radius: 0 } });

    const fromFile = await tf.loadLayersModel(`file://${dir}/model.json`);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const fromMemory = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    for (const loaded of [fromFile, fromMemory]) {
      const c0 = loaded.layers[0].getConfig().oftRegularizer as { className: string; config: Record<string, number> };
      expect(c0).to.deep.equal({ className: 'OrthogonalityRegularizer', config: { lambda: 0.125, radius: 0.25 } });
      const c1 = loaded.layers[1].getConfig().boftRegularizer as { className: string; config: Record<string, number> };
      expect(c1.config.lambda).to.equal(0.0625);
    }
    const x = tf.tensor2d(normals(43, 5 * 8, 1), [5, 8]);
    const y = tf.tensor2d(normals(44, 5 * 3, 1), [5, 3]);
    const want = await firstBatchLoss(m, x, y);
    expect(await firstBatchLoss(fromFile, x, y)).to.equal(want);
    expect(await firstBatchLoss(fromMemory, x, y)).to.equal(want);
    tf.dispose([x, y]);
  });

  it('applyOft / applyBoft pass it to every adapted layer; fit then adds λ·Σ‖Q‖² over all of them', async () => {
    const base = () => {
      const input = tf.input({ shape: [8] });
      const h = tf.layers.dense({ units: 8, name: 'fc1', activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 4, name: 'fc2' }).apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const x = tf.tensor2d(normals(61, 6 * 8, 1), [6, 8]);
    const y = tf.tensor2d(normals(62, 6 * 4, 1), [6, 4]);
    const lambda = 0.03;
    const adapted = [
      (reg: number, m: tf.LayersModel) =>
        applyOft(m, {
          targetModules: ['fc1', 'fc2'],
          oftBlockSize: 4,
          oftRegularizer: new OrthogonalityRegularizer({ lambda: reg }),
        }),
      (reg: number, m: tf.LayersModel) =>
        applyBoft(m, {
          targetModules: ['fc1', 'fc2'],
          boftBlockSize: 2,
          boftNButterflyFactor: 2,
          boftRegularizer: new OrthogonalityRegularizer({ lambda: reg }),
        }),
    ];
    for (const adapt of adapted) {
      const b = base();
      const withReg = adapt(lambda, b);
      const without = adapt(0, b);
      let expected = 0;
      for (const [i, name] of ['fc1', 'fc2'].entries()) {
        const layer = withReg.getLayer(name);
        const key = layer instanceof OrthogonalDense ? 'oftRegularizer' : 'boftRegularizer';
        expect((layer.getConfig()[key] as { className: string }).className).to.equal('OrthogonalityRegularizer');
        const v = setPacked(layer, 63 + i, 0.3);
        expected += penalty64(v, packedWeight(layer).shape.at(-1) as number, lambda);
      }
      without.setWeights(withReg.getWeights());
      const diff = (await firstBatchLoss(withReg, x, y)) - (await firstBatchLoss(without, x, y));
      expect(Math.abs(diff - expected)).to.be.at.most(5e-6, `loss difference ${diff} vs ${expected}`);
    }
    tf.dispose([x, y]);
  });

  it('leaks no tensors: apply, and a fit with the regularizer', async () => {
    const reg = new OrthogonalityRegularizer({ lambda: 0.1, radius: 0.2 });
    const x = tf.tensor2d(normals(51, 12, 1), [2, 6]);
    const before = tensorsBesidesOpConstants();
    tf.dispose(reg.apply(x));
    expect(tensorsBesidesOpConstants()).to.equal(before);

    const m = tf.sequential();
    m.add(new OrthogonalDense({ units: 2, inputShape: [6], oftBlockSize: 3, oftRegularizer: reg }));
    m.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const xs = tf.tensor2d(normals(52, 8 * 6, 1), [8, 6]);
    const ys = tf.tensor2d(normals(53, 8 * 2, 1), [8, 2]);
    await m.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0 }); // optimizer state is created here
    const steady = tensorsBesidesOpConstants();
    await m.fit(xs, ys, { epochs: 2, batchSize: 4, verbose: 0 });
    expect(tensorsBesidesOpConstants()).to.equal(steady);
    tf.dispose([x, xs, ys]);
  });
});
