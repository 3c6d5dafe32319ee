import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fileSystem, FileSystemHandler, OrthogonalDense, registerFileSystemRouter, registerTfjsOftClasses,
} from '../src/index';

// tfjs-node (TFJS_BACKEND=tensorflow) registers the 'tensorflow' backend and its own file:// router,
// which tfjs then asks instead of ours.
const tfjsNodeLoaded = () => tf.findBackendFactory('tensorflow') != null;

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
    const other: tf.io.IOHandler = { save: async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) };
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
    const model = tf.sequential({ layers: [new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2, initWeights: false })] });
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
        expect(message, bad).to.match(/leaves the model's folder/);
      }
    }
  });
});
