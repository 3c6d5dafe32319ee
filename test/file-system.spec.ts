import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fileSystem, FileSystemHandler, OrthogonalDense, registerFileSystemRouter, registerTfjsOftClasses,
} from '../src/index';

// tfjs-node (TFJS_BACKEND=tensorflow) registers the 'tensorflow' backend and its own file:// router,
// which tfjs then asks instead of ours.
const tfjsNodeLoaded = () => tf.findBackendFactory('tensorflow') != null;
// Our handler as a user reaches it: the file:// URL, or fileSystem() when tfjs-node is loaded.
const ours = (path: string) => (tfjsNodeLoaded() ? fileSystem(path) : `file://${path}`);

describe('file:// IOHandler and registry', () => {
  it('writes the tfjs-node layout: model.json (weightsManifest → weights.bin) and weights.bin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs-'));
    const model = tf.sequential({ layers: [new OrthogonalDense({ units: 3, inputShape: [4], oftBlockSize: 2 })] });
    await model.save(`file://${dir}`);
    expect(readdirSync(dir).sort()).to.deep.equal(['model.json', 'weights.bin']);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(json.weightsManifest).to.have.length(1);
    expect(json.weightsManifest[0].paths).to.deep.equal(['weights.bin']);
    const bytes = json.weightsManifest[0].weights.reduce((s: number, w: { shape: number[] }) =>
      s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    expect(readFileSync(join(dir, 'weights.bin')).byteLength).to.equal(bytes);
    expect(json.modelTopology.config.layers[0].class_name).to.equal('OrthogonalDense');
    model.dispose();
  });

  it('steps aside when another router (such as tfjs-node\'s) also answers file:// URLs', () => {
    // A stand-in for tfjs-node's router, limited to one prefix so the rest of the suite is unaffected.
    const other: tf.io.IOHandler = {
      save: async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }),
    };
    const router = (url: string | string[]) => (String(url).startsWith('file:///other-handler/') ? other : null);
    tf.io.registerSaveRouter(router as Parameters<typeof tf.io.registerSaveRouter>[0]);
    tf.io.registerLoadRouter(router as Parameters<typeof tf.io.registerLoadRouter>[0]);
    // Ours is silent where another router answers; with tfjs-node loaded, its router answers there too.
    const answering = tfjsNodeLoaded() ? 2 : 1;
    for (const claimed of [tf.io.getSaveHandlers('file:///other-handler/model'),
      tf.io.getLoadHandlers('file:///other-handler/model.json')]) {
      expect(claimed).to.have.length(answering);
      expect(claimed).to.include(other);
      expect(claimed.some((h) => h instanceof FileSystemHandler)).to.equal(false);
    }
    const elsewhere = tf.io.getSaveHandlers('file:///tmp/model');
    expect(elsewhere).to.have.length(1);
    expect(elsewhere[0] instanceof FileSystemHandler).to.equal(!tfjsNodeLoaded());
  });

  it('registering twice is harmless: one handler per URL, saved models still load', async () => {
    registerTfjsOftClasses();
    registerFileSystemRouter();
    registerTfjsOftClasses();
    expect(tf.io.getSaveHandlers('file:///tmp/x')).to.have.length(1);
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs2-'));
    const model = tf.sequential({
      layers: [new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2, initWeights: false })],
    });
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers[0]).to.be.instanceOf(OrthogonalDense);
    model.dispose(); loaded.dispose();
  });

  it('names a missing weight file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs3-'));
    const model = tf.sequential({ layers: [new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2 })] });
    await model.save(`file://${dir}`);
    model.dispose();
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'weights.bin'));
    let message = '';
    await tf.loadLayersModel(fileSystem(`${dir}/model.json`)).catch((e: Error) => { message = e.message; });
    expect(message).to.match(/weight file .*weights\.bin named in .*model\.json is missing/);
    // Through the URL: ours, or tfjs-node's when it is loaded; either names the missing file.
    message = '';
    await tf.loadLayersModel(`file://${dir}/model.json`).catch((e: Error) => { message = e.message; });
    expect(message).to.match(tfjsNodeLoaded() ? /Weight file .*weights\.bin does not exist/
      : /weight file .*weights\.bin named in .*model\.json is missing/);
  });
});

describe('file:// IOHandler: weights paths stay inside the model folder', () => {
  it('refuses a weights path that climbs out, an absolute one and a symlink that points out', async () => {
    const { writeFileSync, symlinkSync } = await import('node:fs');
    const root = mkdtempSync(join(tmpdir(), 'oft-fs-trav-'));
    const dir = join(root, 'm');
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
    await model.save(`file://${dir}`);
    model.dispose();
    writeFileSync(join(root, 'secret.txt'), Buffer.alloc(8));
    symlinkSync(join(root, 'secret.txt'), join(dir, 'link.bin'));
    for (const bad of ['../secret.txt', join(root, 'secret.txt'), 'link.bin']) {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      json.weightsManifest[0].paths = [bad];
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      // Ours refuses, through fileSystem() and (without tfjs-node, whose handler then answers) the URL.
      for (const from of [fileSystem(`${dir}/model.json`), ...(tfjsNodeLoaded() ? [] : [`file://${dir}/model.json`])]) {
        let message = '';
        await tf.loadLayersModel(from).catch((e: Error) => { message = e.message; });
        expect(message, bad).to.match(/leaves its folder/);
      }
    }
  });
});

/**
 * Makes calls `failAt` … `failAt + width − 1` of node:fs/promises functions (and of file handles)
 * throw while `fn` runs.
 */
async function withFsFailure<T>(failAt: number, fn: () => Promise<T>,
  width = 1): Promise<{ calls: number; result: T | Error }> {
  const fsp = process.getBuiltinModule('node:fs/promises') as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  let calls = 0;
  const tick = (name: string) => {
    calls++;
    if (calls >= failAt && calls < failAt + width) {
      throw Object.assign(new Error(`injected failure at ${name}`), { code: 'EIO' });
    }
  };
  for (const [name, f] of Object.entries(fsp)) {
    if (typeof f !== 'function' || name === 'constants') continue;
    saved.set(name, f);
    fsp[name] = async (...args: unknown[]) => {
      tick(name);
      const out = await (f as (...a: unknown[]) => Promise<unknown>)(...args);
      if (name === 'open' && out != null) {
        const handle = out as Record<string, unknown>;
        for (const m of ['writeFile', 'sync']) {
          const hf = (handle[m] as (...a: unknown[]) => Promise<unknown>).bind(handle);
          handle[m] = async (...a: unknown[]) => { tick(`handle.${m}`); return hf(...a); };
        }
      }
      return out;
    };
  }
  try {
    const result = await fn().catch((e: Error) => e);
    return { calls, result };
  } finally {
    for (const [name, f] of saved) fsp[name] = f;
  }
}

describe('file:// IOHandler: a save that fails leaves a loadable folder', () => {
  const makeModel = (units: number, seed: number) => tf.sequential({ layers: [tf.layers.dense({
    units, inputShape: [3], kernelInitializer: tf.initializers.randomNormal({ seed }), biasInitializer: 'ones' })] });
  const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

  it('a failure at any step of the save leaves either the old save or the new one, each whole', async function () {
    this.timeout(60000);
    const old = makeModel(2, 1);
    const fresh = makeModel(2, 2); // same topology, other weights: a mixed folder would load silently
    const oldWeights = weightsOf(old);
    const freshWeights = weightsOf(fresh);
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs-atomic-'));
    const { calls } = await withFsFailure(0, () => fresh.save(ours(dir)));
    expect(calls).to.be.greaterThan(3);
    let sawOld = 0;
    let sawNew = 0;
    const messages: string[] = [];
    // One failing call, and two in a row (so that the clean-up after a failure fails too).
    for (const [k, width] of [...Array(calls).keys()].flatMap((i) => [[i + 1, 1], [i + 1, 2]])) {
      rmSync(dir, { recursive: true, force: true });
      await old.save(ours(dir));
      const { result } = await withFsFailure(k, () => fresh.save(ours(dir)), width);
      const loaded = await tf.loadLayersModel(ours(`${dir}/model.json`));
      const got = weightsOf(loaded);
      loaded.dispose();
      const isOld = JSON.stringify(got) === JSON.stringify(oldWeights);
      const isNew = JSON.stringify(got) === JSON.stringify(freshWeights);
      expect(isOld || isNew, `failure at call ${k}: the folder holds neither save`).to.equal(true);
      if (result instanceof Error) {
        expect(isOld, `failure at call ${k}: the save reported an error but changed the folder`).to.equal(true);
        messages.push(result.message);
        sawOld++;
      } else {
        expect(isNew, `failure at call ${k}: the save succeeded but the folder holds the old weights`).to.equal(true);
        sawNew++;
      }
      // No temporary file is left next to the pair, whatever happened.
      const extra = readdirSync(dir)
        .filter((f) => !['model.json', 'weights.bin'].includes(f) && !/^weights\..+\.bin$/.test(f));
      expect(extra, `failure at call ${k}`).to.deep.equal([]);
    }
    expect(sawOld).to.be.greaterThan(0);
    expect(sawNew).to.be.greaterThan(0);
    for (const m of messages) expect(m).to.match(/could not save to .*previous save/);
    // A later save cleans up: the usual two files again.
    await fresh.save(ours(dir));
    expect(readdirSync(dir).sort()).to.deep.equal(['model.json', 'weights.bin']);
    old.dispose(); fresh.dispose();
  });

  it('a weights path inside the folder whose name starts with ".." is not taken for one that climbs out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs-dots-'));
    const model = makeModel(2, 3);
    await model.save(ours(dir));
    renameSync(join(dir, 'weights.bin'), join(dir, '..weights.bin'));
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['..weights.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const loaded = await tf.loadLayersModel(ours(`${dir}/model.json`));
    expect(weightsOf(loaded)).to.deep.equal(weightsOf(model));
    loaded.dispose(); model.dispose();
  });

  it('names the problem: model.json holding null, weights.bin a folder, a file in the way of a save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-fs-errs-'));
    const model = makeModel(2, 4);
    await model.save(ours(dir));
    const json = readFileSync(join(dir, 'model.json'), 'utf8');
    const messageOf = (p: Promise<unknown>) => p.then(() => '', (e: Error) => e.message);

    writeFileSync(join(dir, 'model.json'), 'null');
    const load = () => messageOf(tf.loadLayersModel(ours(`${dir}/model.json`)));
    expect(await load()).to.match(/is not a tfjs model\.json.*got null/);

    writeFileSync(join(dir, 'model.json'), json);
    rmSync(join(dir, 'weights.bin'));
    mkdirSync(join(dir, 'weights.bin'));
    expect(await load()).to.match(/weights\.bin named in .* is a directory/);

    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(await messageOf(model.save(ours(`${file}/sub`))))
      .to.match(/could not save to .*sub: .*A file \(not a folder\) stands in the way/);
    model.dispose();
  });
});
