import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyBoft, applyOft, loadAdapter, mergeAndUnload, saveAdapter, trainableParameters } from '../src/index';
import type { AdapterCheckpointTopology } from '../src/index';
import * as ref from './reference/dense-math';
import {
  seededTensor,
  sequentialMlp,
  sharedNestedModel,
  tinyVit,
  VIT_CLASSES,
  VIT_DENSE,
  VIT_DIM,
  VIT_TOKENS,
} from './surgery-models';
import { bits, snapshot } from './helpers/model-snapshot';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

const weightTable = (m: tf.LayersModel) => m.weights.map((w) => [w.originalName, w.trainable, bits(w.read())]);

/** Writes random values into every trainable weight so that a round trip has something to carry. */
function perturbTrainable(model: tf.LayersModel, seed: number): void {
  const random = ref.rng(seed);
  for (const w of model.trainableWeights) {
    const size = w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number;
    const t = tf.add(w.read(), tf.tensor(ref.normals(random, size, 0.05), w.shape as number[]));
    (w.read() as tf.Variable).assign(t);
    t.dispose();
  }
}

describe('adapter-only checkpoints: saveAdapter / loadAdapter', function () {
  this.timeout(60000);
  let base: tf.LayersModel;
  let x: tf.Tensor;

  before(() => {
    base = tinyVit();
    x = seededTensor([4, VIT_TOKENS, VIT_DIM], 17);
  });
  after(() => {
    x.dispose();
    base.dispose();
  });

  const configs = {
    boft: () =>
      applyBoft(base, {
        boftBlockSize: 4,
        boftNButterflyFactor: 2,
        targetModules: ['query', 'value', 'key', 'output.dense', 'mlp.fc1', 'mlp.fc2'],
        boftDropout: 0.1,
        bias: 'boft_only',
        modulesToSave: ['classifier'],
      }),
    oft: () => applyOft(base, { oftBlockSize: 32, useCayleyNeumann: true, targetModules: 'all-linear', bias: 'all' }),
  };

  // What each config trains, in closed form (docs/math.md §4–§6): the adapters of the six targets,
  // plus BOFT's target biases and classifier, or OFT's biases of every Dense (bias: 'all').
  const targets = ['query', 'value', 'key', 'output.dense', 'mlp.fc1', 'mlp.fc2'];
  const sum = (names: string[], f: (l: { d: number; n: number }) => number) =>
    names.reduce((s, t) => s + f(VIT_DENSE[t]), 0);
  const trainedCount = {
    boft: sum(targets, ({ d, n }) => 2 * (d / 4) * 6 + n + n) + VIT_DIM * VIT_CLASSES + VIT_CLASSES,
    oft: sum(targets, ({ d }) => (d / 32) * 496) + sum(Object.keys(VIT_DENSE), ({ n }) => n),
  };

  for (const [method, make] of Object.entries(configs)) {
    it(`${method}: file:// round trip is bit-identical and the weight file is exactly the trained parameters`, async () => {
      const model = make();
      perturbTrainable(model, 3);
      const dir = mkdtempSync(join(tmpdir(), `adapter-${method}-`));
      await saveAdapter(model, `file://${dir}`);
      const binBytes = statSync(join(dir, 'weights.bin')).size;
      const jsonBytes = statSync(join(dir, 'model.json')).size;
      const trained = trainedCount[method as keyof typeof trainedCount];
      console.log(
        `      [${method}: weights.bin ${binBytes} B = 4 × ${trained} trainable params; model.json ${jsonBytes} B; ` +
          `full model ${4 * trainableParameters(model).total} B]`,
      );
      expect(binBytes).to.equal(4 * trained);
      expect(jsonBytes).to.be.lessThan(8192);

      const before = snapshot(base);
      const loaded = await loadAdapter(base, `file://${dir}/model.json`);
      expect(snapshot(base)).to.equal(before);
      expect(loaded.layers.map((l) => l.getClassName())).to.deep.equal(model.layers.map((l) => l.getClassName()));
      expect(weightTable(loaded)).to.deep.equal(weightTable(model));
      // The directory form the README documents (refused by tfjs-node's own file:// handler).
      const fromDir = await loadAdapter(base, `file://${dir}`);
      expect(weightTable(fromDir)).to.deep.equal(weightTable(model));
      fromDir.dispose();
      const a = model.predict(x) as tf.Tensor;
      const b = loaded.predict(x) as tf.Tensor;
      expect(bits(b)).to.deep.equal(bits(a));
      // The loaded model knows its surgery: merging restores the base's flags and classes.
      const merged = mergeAndUnload(loaded);
      expect(merged.layers.map((l) => [l.getClassName(), l.trainable])).to.deep.equal(
        base.layers.map((l) => [l.getClassName(), l.trainable]),
      );
      tf.dispose([a, b]);
      for (const m of [model, loaded, merged]) m.dispose();
    });
  }

  it('works through any IOHandler (in-memory, as in a browser) and onto a separately built base', async () => {
    const model = configs.boft();
    perturbTrainable(model, 4);
    let saved: tf.io.ModelArtifacts | null = null;
    await saveAdapter(model, tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    expect(saved!.format).to.equal('tfjs-oft-adapter');
    const otherBase = tinyVit(); // same seeds, separate variables
    const loaded = await loadAdapter(otherBase, tf.io.fromMemory(saved!));
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(bits(b)).to.deep.equal(bits(a));
    tf.dispose([a, b]);
    for (const m of [model, loaded, otherBase]) m.dispose();
  });

  describe('a checkpoint that does not fit fails clearly and leaves the base unchanged', () => {
    let dir: string;
    before(async () => {
      const model = applyOft(base, {
        oftBlockSize: 32,
        targetModules: ['query', 'mlp.fc2'],
        modulesToSave: ['classifier'],
      });
      perturbTrainable(model, 5);
      dir = mkdtempSync(join(tmpdir(), 'adapter-bad-'));
      await saveAdapter(model, `file://${dir}`);
      model.dispose();
    });

    type Json = { modelTopology: AdapterCheckpointTopology; weightsManifest: Array<{ paths: string[] }> };
    const variant = (name: string, edit: (json: Json, bin: Buffer) => Buffer | void) => {
      const d = mkdtempSync(join(tmpdir(), `adapter-${name}-`));
      cpSync(dir, d, { recursive: true });
      const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
      const bin = readFileSync(join(d, 'weights.bin'));
      const newBin = edit(json, bin) ?? bin;
      writeFileSync(join(d, 'model.json'), JSON.stringify(json));
      writeFileSync(join(d, 'weights.bin'), newBin);
      return `file://${d}`;
    };

    const expectFailure = async (target: tf.LayersModel, url: string, message: RegExp) => {
      const before = snapshot(target);
      const tensors = tensorsBesidesOpConstants();
      let error: Error | null = null;
      try {
        (await loadAdapter(target, url)).dispose();
      } catch (e) {
        error = e as Error;
      }
      expect(error, 'loadAdapter should throw').to.be.instanceOf(Error);
      expect(error!.message).to.match(message);
      expect(snapshot(target)).to.equal(before);
      expect(tensorsBesidesOpConstants()).to.equal(tensors);
    };

    it('missing layer', async () => {
      const other = sequentialMlp();
      await expectFailure(
        other,
        `file://${dir}`,
        /adapts layer 'query', but base model 'mlp' has no such layer\. Its Dense or Conv2D layers: up, down, out/,
      );
      other.dispose();
    });

    it('same layer name, different Dense shape', async () => {
      const x0 = tf.input({ shape: [16] });
      const q = tf.layers.dense({ units: 64, name: 'query' }).apply(x0) as tf.SymbolicTensor;
      const other = tf.model({ inputs: x0, outputs: q, name: 'other' });
      await expectFailure(
        other,
        `file://${dir}`,
        /'query': the checkpoint was made for a Dense rotating 64 inputs into 64 outputs, the base has kernel \[16,64/,
      );
      other.dispose();
    });

    it('wrong adapter shape (options edited: oft_r no longer fits)', async () => {
      const url = variant('shape', (json) => {
        json.modelTopology.adapters[0].options.oftBlockSize = 16;
        // As a version 1 checkpoint (no configuration checksum), so that the shape check is reached.
        json.modelTopology.tfjsOftAdapter = 1;
        delete json.modelTopology.configFnv1a;
      });
      await expectFailure(
        base,
        url,
        /layer 'query' weight 'oft_r': the checkpoint holds shape \[2,496\], the model expects \[4,120\]/,
      );
    });

    it('an option changed after saving (the configuration checksum)', async () => {
      const url = variant('flip', (json) => {
        const options = json.modelTopology.adapters[0].options;
        options.useCayleyNeumann = !options.useCayleyNeumann;
      });
      await expectFailure(base, url, /is corrupt: its configuration .* does not match its checksum/);
    });

    it('a class name that is an Object member, and an option of the wrong type (version 1, no checksum)', async () => {
      const asV1 = (json: Json) => {
        json.modelTopology.tfjsOftAdapter = 1;
        delete json.modelTopology.configFnv1a;
      };
      const ctor = variant('ctor', (json) => { asV1(json); json.modelTopology.adapters[0].className = 'constructor'; });
      await expectFailure(base, ctor, /unknown adapter class 'constructor' for layer 'query'; known: OrthogonalDense/);
      const str = variant('str', (json) => {
        asV1(json);
        json.modelTopology.adapters[0].options.useCayleyNeumann = 'false';
      });
      await expectFailure(base, str, /useCayleyNeumann must be true or false, got 'false' \(a string\)/);
      const big = variant('big', (json) => {
        asV1(json);
        json.modelTopology.adapters[0].options.numCayleyNeumannTerms = 200000;
      });
      await expectFailure(base, big, /numCayleyNeumannTerms must be at most 64, got 200000/);
    });

    it('a weights path that leaves the checkpoint folder', async () => {
      const url = variant('escape', (json) => { json.weightsManifest[0].paths = ['../weights.bin']; });
      await expectFailure(base, url, /weights path .*"\.\.\/weights\.bin" leaves its folder/);
    });

    it('truncated weight file', async () => {
      const url = variant('truncated', (_json, bin) => bin.subarray(0, bin.length - 100));
      await expectFailure(
        base,
        url,
        /is truncated: weight 'classifier\/kernel' \(shape \[64,3\]\) needs bytes .* the weight data holds \d+ bytes/,
      );
    });

    it('corrupt weight bytes', async () => {
      const url = variant('corrupt', (_json, bin) => {
        const out = Buffer.from(bin);
        out[10] ^= 0xff;
        return out;
      });
      await expectFailure(
        base,
        url,
        /is corrupt: the bytes of weight 'query\/oft_r' \(shape \[2,496\]\) do not match their checksum/,
      );
    });

    it('corrupt JSON', async () => {
      const d = mkdtempSync(join(tmpdir(), 'adapter-json-'));
      cpSync(dir, d, { recursive: true });
      writeFileSync(join(d, 'model.json'), readFileSync(join(d, 'model.json'), 'utf8').slice(0, 200));
      await expectFailure(base, `file://${d}`, /loadAdapter: could not read 'file:\/\/.*': .*JSON/);
    });

    it('not an adapter checkpoint (a full model)', async () => {
      const d = mkdtempSync(join(tmpdir(), 'adapter-full-'));
      await base.save(`file://${d}`);
      await expectFailure(base, `file://${d}`, /is not a tfjs-oft adapter checkpoint.*tf\.loadLayersModel/);
    });

    it('an adapted model as base', async () => {
      const adapted = applyOft(base, { targetModules: ['query'] });
      await expectFailure(adapted, `file://${dir}`, /adapts layer 'query', which is a OrthogonalDense.*not a Dense/);
      adapted.dispose();
    });
  });

  it('modulesToSave layers are saved whole, non-trainable weights included (BatchNormalization ' +
    'statistics)', async () => {
    const seq = tf.sequential({
      layers: [
        tf.layers.dense({
          name: 'fc',
          units: 8,
          inputShape: [8],
          kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
        }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.dense({ name: 'out', units: 2, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
      ],
    });
    const model = applyOft(seq, { targetModules: ['fc'], oftBlockSize: 4, modulesToSave: ['bn'] });
    expect(model.trainableWeights.map((w) => w.originalName).sort()).to.deep.equal(['bn/beta', 'bn/gamma', 'fc/oft_r']);
    const bn = model.getLayer('bn');
    for (const w of bn.weights) {
      const t = tf.fill(w.shape as number[], w.originalName.endsWith('variance') ? 2.5 : 0.25);
      (w.read() as tf.Variable).assign(t);
      t.dispose();
    }
    let saved: tf.io.ModelArtifacts | null = null;
    await saveAdapter(
      model,
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(saved!.weightSpecs!.map((w) => w.name)).to.deep.equal([
      'fc/oft_r',
      'bn/gamma',
      'bn/beta',
      'bn/moving_mean',
      'bn/moving_variance',
    ]);
    expect((saved!.weightData as ArrayBuffer).byteLength).to.equal(4 * (2 * 6 + 4 * 8));
    const loaded = await loadAdapter(seq, tf.io.fromMemory(saved!));
    expect(weightTable(loaded)).to.deep.equal(weightTable(model));
    for (const m of [seq, model, loaded]) m.dispose();
  });

  it('nested models: paths reach into a nested Sequential', async () => {
    const nestedBase = sharedNestedModel();
    const model = applyBoft(nestedBase, {
      targetModules: ['shared', 'encoder/fc1'],
      boftBlockSize: 4,
      modulesToSave: ['head'],
    });
    perturbTrainable(model, 6);
    let saved: tf.io.ModelArtifacts | null = null;
    await saveAdapter(model, tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const topo = saved!.modelTopology as unknown as { adapters: Array<{ path: string }> };
    expect(topo.adapters.map((a) => a.path)).to.deep.equal(['shared', 'encoder/fc1']);
    const loaded = await loadAdapter(nestedBase, tf.io.fromMemory(saved!));
    const xs = seededTensor([3, 16], 8);
    const a = model.predict(xs) as tf.Tensor;
    const b = loaded.predict(xs) as tf.Tensor;
    expect(bits(b)).to.deep.equal(bits(a));
    tf.dispose([xs, a, b]);
    for (const m of [nestedBase, model, loaded]) m.dispose();
  });
});

void VIT_CLASSES;
