// End to end with the real tensorflowjs_converter and real TensorFlow (Python): OFT and BOFT models
// (Dense, and Conv2D) are trained a few steps in tfjs, exported with exportSavedModel, run in Python TF
// (serving signature and tf_keras), converted back to a tfjs graph model and run with
// tf.loadGraphModel. Every result must match the tfjs predictions within 1e-5 · max|y|.
// Run: npm run test:interop (sets up the Python venv first).
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSavedModel, fileSystem } from '../src/index';
import {
  buildBoft, buildConvBoft, buildConvOft, buildOft, buildOftSharedNeumann, TrainedCase, trainFewSteps,
} from './models';
import { converter, convertWithAdapters, maxAbsDiff, REPO, requireVenv, runSavedModel, VENV } from './python';

const TOL = 1e-5;
const figures: string[] = [];

/** The plain Keras class an adapter layer merges into (other layers keep theirs). */
function mergedClassName(layer: tf.layers.Layer): string {
  const name = layer.getClassName();
  if (!('adapterEnabled' in layer)) return name;
  return name.endsWith('Conv2D') ? 'Conv2D' : 'Dense';
}

function report(line: string): void {
  figures.push(line);
  console.log(`      ${line}`);
}

describe('SavedModel export through tensorflowjs_converter (real TensorFlow)', () => {
  let work: string;

  before(() => {
    requireVenv();
    work = mkdtempSync(join(tmpdir(), 'tfjs-oft-interop-'));
  });
  after(() => {
    if (process.env.TFJS_OFT_KEEP_INTEROP == null) rmSync(work, { recursive: true, force: true });
    console.log(`\n  interop figures (tolerance ${TOL} · max|y|):\n${figures.map((f) => `    ${f}`).join('\n')}`);
  });

  const cases: Array<[string, () => Promise<TrainedCase>]> = [
    ['OFT', () => trainFewSteps(buildOft())],
    ['BOFT', () => trainFewSteps(buildBoft())],
    ['OFT on Conv2D', () => trainFewSteps(buildConvOft())],
    ['BOFT on Conv2D', () => trainFewSteps(buildConvBoft())],
  ];

  for (const [name, make] of cases) {
    it(`${name}: trained in tfjs, exported, same predictions in Python TF and back in a tfjs graph model`, async () => {
      const t0 = Date.now();
      const c = await make();
      const dir = join(work, name.replace(/\W+/g, '_'));
      mkdirSync(dir);
      const x = tf.randomNormal([16, ...c.inputShape], 0, 1, 'float32', 99);
      const y = c.model.predict(x) as tf.Tensor;
      const yData = y.dataSync();
      const xData = x.dataSync();

      // The trained adapters matter: switching them off changes the outputs by far more than the tolerance.
      const { diff: adapterEffect, scale } = maxAbsDiff(yData, c.predictBase(x));
      expect(adapterEffect).to.be.greaterThan(100 * TOL * scale);

      const t1 = Date.now();
      const res = await exportSavedModel(c.model, join(dir, 'saved'));
      const tExport = (Date.now() - t1) / 1000;
      expect(existsSync(join(res.savedModelDir, 'saved_model.pb'))).to.equal(true);

      const t2 = Date.now();
      const py = runSavedModel(res.savedModelDir, { shape: x.shape, data: xData }, dir);
      const tPython = (Date.now() - t2) / 1000;
      // Plain Keras layers only: the adapters were merged into Dense and Conv2D kernels.
      expect(py.layers).to.deep.equal(c.model.layers.map((l) => mergedClassName(l)));
      expect(py.signature.shape).to.deep.equal(y.shape);
      const sig = maxAbsDiff(yData, py.signature.data);
      const ker = maxAbsDiff(yData, py.keras.data);
      expect(sig.diff).to.be.at.most(TOL * scale);
      expect(ker.diff).to.be.at.most(TOL * scale);

      // The way back: SavedModel → tfjs graph model with the same converter → tf.loadGraphModel.
      const t3 = Date.now();
      converter([
        '--input_format=tf_saved_model',
        '--output_format=tfjs_graph_model',
        '--signature_name=serving_default',
        '--saved_model_tags=serve',
        res.savedModelDir,
        join(dir, 'graph'),
      ]);
      const tBack = (Date.now() - t3) / 1000;
      const graph = await tf.loadGraphModel(fileSystem(join(dir, 'graph', 'model.json')));
      const yGraph = graph.predict(x) as tf.Tensor;
      expect(yGraph.shape).to.deep.equal(y.shape);
      const back = maxAbsDiff(yData, yGraph.dataSync());
      expect(back.diff).to.be.at.most(TOL * scale);

      report(
        `${name}: max|y| ${scale.toExponential(3)}, adapter effect ${adapterEffect.toExponential(2)}; ` +
          `max abs diff vs tfjs: SavedModel signature ${sig.diff.toExponential(2)}, tf_keras ` +
            `${ker.diff.toExponential(2)}, ` +
          `tfjs graph model ${back.diff.toExponential(2)} (relative ` +
            `${(Math.max(sig.diff, ker.diff, back.diff) / scale).toExponential(2)})`,
      );
      report(
        `${name}: seconds: train ${((t1 - t0) / 1000).toFixed(1)}, exportSavedModel ${tExport.toFixed(1)} ` +
          `(converter ${res.converterSeconds.toFixed(1)}), Python TF run ${tPython.toFixed(1)}, back to graph model ` +
            `${tBack.toFixed(1)}`,
      );
      tf.dispose([x, y, yGraph]);
      graph.dispose();
      c.dispose();
    });
  }

  const unmerged: Array<[string, () => tf.LayersModel]> = [
    ['OFT (exact, b = 4)', buildOft],
    ['OFT (shared blocks, Neumann)', buildOftSharedNeumann],
    ['BOFT (b = 2, m = 3)', buildBoft],
  ];
  for (const [name, build] of unmerged) {
    it(`unmerged ${name}: converts with the Keras counterparts (interop/tfjs_oft_keras.py), same predictions, ` +
      `adapters trainable`, async () => {
      const c = await trainFewSteps(build());
      const dir = join(work, `unmerged-${name.replace(/\W+/g, '_')}`);
      mkdirSync(dir);
      await c.model.save(fileSystem(join(dir, 'tfjs')));
      const x = tf.randomNormal([16, ...c.inputShape], 0, 1, 'float32', 77);
      const y = c.model.predict(x) as tf.Tensor;
      const yData = y.dataSync();
      const effect = maxAbsDiff(yData, c.predictBase(x));
      expect(effect.diff).to.be.greaterThan(100 * TOL * effect.scale);
      const t0 = Date.now();
      convertWithAdapters(join(dir, 'tfjs', 'model.json'), join(dir, 'saved'));
      const tConvert = (Date.now() - t0) / 1000;
      const py = runSavedModel(join(dir, 'saved'), { shape: x.shape, data: x.dataSync() }, dir);
      expect(py.layers).to.deep.equal(c.model.layers.map((l) => l.getClassName()));
      // The same weights train in Keras as in tfjs (names as tfjs-oft saves them).
      const tfjsTrainable = c.model.trainableWeights.map((w) => w.originalName).sort();
      expect(py.trainable.map((n) => n.replace(/:0$/, '')).sort()).to.deep.equal(tfjsTrainable);
      const sig = maxAbsDiff(yData, py.signature.data);
      const ker = maxAbsDiff(yData, py.keras.data);
      expect(sig.diff).to.be.at.most(TOL * sig.scale);
      expect(ker.diff).to.be.at.most(TOL * ker.scale);
      report(
        `unmerged ${name}: max|y| ${sig.scale.toExponential(3)}, adapter effect ${effect.diff.toExponential(2)}; max ` +
          `abs diff vs tfjs: ` +
          `SavedModel signature ${sig.diff.toExponential(2)}, tf_keras ${ker.diff.toExponential(2)}; convert ` +
            `${tConvert.toFixed(1)} s`,
      );
      tf.dispose([x, y]);
      c.dispose();
    });
  }

  it('CLI: `tfjs-oft export` converts a saved adapter model; --help; missing converter exits 3 with the ' +
    'commands', async () => {
    const c = await trainFewSteps(buildOft());
    const dir = join(work, 'cli');
    mkdirSync(dir);
    await c.model.save(fileSystem(join(dir, 'oft-tfjs')));
    const x = tf.randomNormal([8, ...c.inputShape], 0, 1, 'float32', 5);
    const yData = (c.model.predict(x) as tf.Tensor).dataSync();
    const cli = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), ...args], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });

    const help = cli(['--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.contain('tfjs-oft export').and.to.contain('--converter');

    const t0 = Date.now();
    const ok = cli([
      'export',
      join(dir, 'oft-tfjs', 'model.json'),
      join(dir, 'saved'),
      '--converter',
      join(VENV, 'bin', 'tensorflowjs_converter'),
    ]);
    const tCli = (Date.now() - t0) / 1000;
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout.trim()).to.equal(join(dir, 'saved'));
    const py = runSavedModel(join(dir, 'saved'), { shape: x.shape, data: x.dataSync() }, dir);
    const d = maxAbsDiff(yData, py.signature.data);
    expect(d.diff).to.be.at.most(TOL * d.scale);
    report(
      `CLI export (OFT): max abs diff ${d.diff.toExponential(2)} (max|y| ${d.scale.toExponential(3)}), ` +
        `${tCli.toFixed(1)} s`,
    );

    const missing = cli(['export', join(dir, 'oft-tfjs', 'model.json'), join(dir, 'saved2')], {
      PATH: join(dir, 'no-bin'),
      TFJS_OFT_VENV: join(dir, 'no-venv'),
      TFJS_OFT_CONVERTER: '',
    });
    expect(missing.status).to.equal(3);
    expect(missing.stderr).to.contain('interop/setup-python.sh').and.to.contain('tensorflowjs==4.22.0');
    expect(existsSync(join(dir, 'saved2-tfjs-layers', 'model.json'))).to.equal(true);
    tf.dispose(x);
    c.dispose();
  });
});
