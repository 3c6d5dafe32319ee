// exportSavedModel without Python: converter discovery, the missing-converter path (the merged
// tfjs model must still be written and load back), and the exact converter call, checked with
// stand-in converter scripts. The real converter and TensorFlow run in test-interop/.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONVERTER_PYTHON_PINS, ConverterNotFoundError, exportSavedModel, findConverter, fileSystem, OrthogonalDense,
} from '../../src/index';

const posix = process.platform !== 'win32';

function adaptedModel(): tf.LayersModel {
  const inp = tf.input({ shape: [6], name: 'x' });
  const h = new OrthogonalDense({
    units: 5,
    oftBlockSize: 3,
    initWeights: false,
    useCayleyNeumann: false,
    activation: 'tanh',
    name: 'fc1',
    kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    biasInitializer: tf.initializers.randomNormal({ seed: 2 }),
  }).apply(inp) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })
    .apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

/** Runs `fn` with the given environment variables set (undefined = unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k]; else process.env[k] = vars[k];
  }
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  }
}

describe('exportSavedModel (no Python)', () => {
  let dir: string;
  const noConverterEnv = () => ({
    PATH: join(dir, 'empty-bin'),
    TFJS_OFT_VENV: join(dir, 'no-venv'),
    TFJS_OFT_CONVERTER: undefined,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfjs-oft-export-'));
    mkdirSync(join(dir, 'empty-bin'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pins the same Python packages as interop/requirements.txt', () => {
    const lines = readFileSync(new URL('../../interop/requirements.txt', import.meta.url), 'utf8')
      .split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    expect([...CONVERTER_PYTHON_PINS].sort()).to.deep.equal(lines.sort());
  });

  it('without a converter: throws the install commands and leaves the merged model, which loads and predicts the ' +
    'same', async () => {
    const model = adaptedModel();
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 7);
    const yAdapted = model.predict(x) as tf.Tensor;
    const out = join(dir, 'saved');
    const err = await withEnv(noConverterEnv(), () =>
      exportSavedModel(model, out).then(
        () => null,
        (e: Error) => e,
      ),
    );
    expect(err).to.be.instanceOf(ConverterNotFoundError);
    const modelJson = join(dir, 'saved-tfjs-layers', 'model.json');
    expect((err as ConverterNotFoundError).modelJsonPath).to.equal(modelJson);
    const msg = (err as Error).message;
    for (const needle of [
      'interop/setup-python.sh',
      'pip install',
      'tensorflowjs==4.22.0',
      'tensorflow==2.16.1',
      'tf-keras==2.16.0',
      modelJson,
      '--input_format=tfjs_layers_model',
      '--output_format=keras_saved_model',
    ]) {
      expect(msg).to.contain(needle);
    }
    expect(existsSync(out)).to.equal(false);

    const merged = await tf.loadLayersModel(fileSystem(modelJson));
    expect(merged.layers.map((l) => l.getClassName())).to.deep.equal(['InputLayer', 'Dense', 'Dense']);
    const yMerged = merged.predict(x) as tf.Tensor;
    const scale = tf.max(tf.abs(yAdapted)).dataSync()[0];
    const diff = tf.max(tf.abs(tf.sub(yAdapted, yMerged))).dataSync()[0];
    expect(scale).to.be.greaterThan(0.1);
    expect(diff).to.be.at.most(1e-5 * scale);
    // The rotation is not the identity: the merged kernel differs from the base kernel.
    const baseK = (model.getLayer('fc1') as OrthogonalDense)
      .getWeights()
      .find((w) => w.shape.length === 2 && w.shape[0] === 6)!;
    const mergedK = merged.getLayer('fc1').getWeights()[0];
    expect(tf.max(tf.abs(tf.sub(baseK, mergedK))).dataSync()[0]).to.be.greaterThan(1e-3);
    tf.dispose([x, yAdapted, yMerged]);
    merged.dispose();
    model.dispose();
  });

  it('an explicit converter path that is not executable is an error naming it', async () => {
    const model = adaptedModel();
    const bogus = join(dir, 'nope', 'tensorflowjs_converter');
    const err = await exportSavedModel(model, join(dir, 'saved'), { converter: bogus }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.contain(bogus).and.to.contain('not an executable file');
    model.dispose();
  });

  it('refuses an existing outDir unless overwrite is set', async () => {
    const model = adaptedModel();
    mkdirSync(join(dir, 'saved'));
    const err = await exportSavedModel(model, join(dir, 'saved')).then(() => null, (e: Error) => e);
    expect(err?.message).to.contain('already exists').and.to.contain('overwrite');
    model.dispose();
  });

  (posix ? it : it.skip)(
    'runs the converter with the tfjs_layers_model → keras_saved_model arguments (stand-in script)',
    async () => {
      const fake = join(dir, 'bin', 'tensorflowjs_converter');
      mkdirSync(join(dir, 'bin'));
      writeFileSync(
        fake,
        `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/args.txt"\n/bin/mkdir -p "$4"\n: > "$4/saved_model.pb"\n`,
      );
      chmodSync(fake, 0o755);
      const model = adaptedModel();
      // Found on PATH when nothing else is configured.
      const res = await withEnv({ ...noConverterEnv(), PATH: join(dir, 'bin') }, async () => {
        expect(await findConverter()).to.equal(fake);
        return exportSavedModel(model, join(dir, 'saved'));
      });
      expect(res.converter).to.equal(fake);
      expect(res.savedModelDir).to.equal(join(dir, 'saved'));
      expect(readFileSync(join(dir, 'args.txt'), 'utf8').trim().split('\n')).to.deep.equal([
        '--input_format=tfjs_layers_model',
        '--output_format=keras_saved_model',
        res.modelJsonPath,
        res.savedModelDir,
      ]);
      // The interop venv wins over PATH, TFJS_OFT_CONVERTER over both.
      const venvBin = join(dir, 'venv', 'bin');
      mkdirSync(venvBin, { recursive: true });
      writeFileSync(join(venvBin, 'tensorflowjs_converter'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(venvBin, 'tensorflowjs_converter'), 0o755);
      await withEnv(
        { PATH: join(dir, 'bin'), TFJS_OFT_VENV: join(dir, 'venv'), TFJS_OFT_CONVERTER: undefined },
        async () => {
          expect(await findConverter()).to.equal(join(venvBin, 'tensorflowjs_converter'));
        },
      );
      await withEnv(
        { PATH: join(dir, 'bin'), TFJS_OFT_VENV: join(dir, 'venv'), TFJS_OFT_CONVERTER: fake },
        async () => {
          expect(await findConverter()).to.equal(fake);
        },
      );
      model.dispose();
    },
  );

  (posix ? it : it.skip)('reports a failing converter with its output', async () => {
    const fake = join(dir, 'failing_converter');
    writeFileSync(fake, '#!/bin/sh\necho "ValueError: Unknown layer: FancyLayer" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const model = adaptedModel();
    const err = await exportSavedModel(model, join(dir, 'saved'), { converter: fake }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.contain('exit 3').and.to.contain('Unknown layer: FancyLayer');
    model.dispose();
  });
});
