import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrthogonalDense } from '../src/index';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));

// tfjs-node is a test-only backend: a devDependency whose download script never runs, sharing the
// one tfjs of the project (a second tfjs-layers would have its own class registry).
describe('tfjs-node: a devDependency sharing the one tfjs', () => {
  it('is a devDependency only, pinned to the tfjs version, its install script denied', () => {
    expect(pkg.devDependencies['@tensorflow/tfjs-node']).to.equal(pkg.devDependencies['@tensorflow/tfjs']);
    expect(pkg.dependencies ?? {}).to.not.have.property('@tensorflow/tfjs-node');
    expect(pkg.peerDependencies ?? {}).to.not.have.property('@tensorflow/tfjs-node');
    expect(pkg.allowScripts?.['@tensorflow/tfjs-node']).to.equal(false);
  });

  it('the lock holds one copy of each tfjs package (none nested under tfjs-node)', () => {
    const copies = Object.keys(lock.packages).filter((p) => /node_modules\/@tensorflow\/tfjs(-core|-layers)?$/.test(p));
    expect(copies.sort()).to.deep.equal(['node_modules/@tensorflow/tfjs', 'node_modules/@tensorflow/tfjs-core',
      'node_modules/@tensorflow/tfjs-layers']);
  });

  it('on the tensorflow backend: same engine, and its file:// handler loads our layers', async function () {
    if (tf.getBackend() !== 'tensorflow') this.skip();
    const tfn = createRequire(import.meta.url)('@tensorflow/tfjs-node') as typeof tf;
    expect(tfn.engine()).to.equal(tf.engine());
    const dir = mkdtempSync(join(tmpdir(), 'oft-tfjs-node-'));
    const layer = new OrthogonalDense({ units: 3, inputShape: [4], oftBlockSize: 2, initWeights: false });
    const model = tf.sequential({ layers: [layer] });
    await model.save(`file://${dir}`);
    const loaded = await tfn.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers[0]).to.be.instanceOf(OrthogonalDense);
    const x = tf.randomNormal([5, 4]);
    const [a, b] = [model.predict(x), loaded.predict(x)] as tf.Tensor[];
    expect(Array.from(b.dataSync())).to.deep.equal(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    model.dispose(); loaded.dispose();
  });
});
