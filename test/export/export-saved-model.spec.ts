// exportSavedModel without Python: converter discovery, the missing-converter path (the merged
// tfjs model must still be written and load back), and the exact converter call, checked with
// stand-in converter scripts. The real converter and TensorFlow run in test-interop/.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
      // The converter writes next to outDir; the result is moved into place once complete.
      const args = readFileSync(join(dir, 'args.txt'), 'utf8').trim().split('\n');
      expect(args.slice(0, 3)).to.deep.equal([
        '--input_format=tfjs_layers_model',
        '--output_format=keras_saved_model',
        res.modelJsonPath,
      ]);
      expect(args[3].startsWith(`${res.savedModelDir}.tmp-`)).to.equal(true);
      expect(existsSync(join(res.savedModelDir, 'saved_model.pb'))).to.equal(true);
      expect(existsSync(args[3])).to.equal(false);
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

  describe('never destroys what it replaces before the new export is complete (issue 13)', () => {
    const marker = (d: string) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'keep.txt'), 'user data');
    };
    const intact = (d: string) => existsSync(join(d, 'keep.txt')) &&
      readFileSync(join(d, 'keep.txt'), 'utf8') === 'user data';
    const stand = (body: string) => {
      const fake = join(dir, 'converter.sh');
      writeFileSync(fake, `#!/bin/sh\n${body}\n`);
      chmodSync(fake, 0o755);
      return fake;
    };

    it('refuses an existing tfjsDir without overwrite, touching nothing', async () => {
      const model = adaptedModel();
      marker(join(dir, 'mine'));
      const err = await exportSavedModel(model, join(dir, 'saved'), { tfjsDir: join(dir, 'mine') })
        .then(() => null, (e: Error) => e);
      expect(err?.message).to.match(/tfjsDir .*mine already exists.*overwrite/);
      expect(intact(join(dir, 'mine'))).to.equal(true);
      expect(existsSync(join(dir, 'saved'))).to.equal(false);
      model.dispose();
    });

    it('with overwrite but no converter, the old SavedModel stays', async () => {
      const model = adaptedModel();
      marker(join(dir, 'saved'));
      const err = await withEnv(noConverterEnv(), () => exportSavedModel(model, join(dir, 'saved'), { overwrite: true })
        .then(() => null, (e: Error) => e));
      expect(err).to.be.instanceOf(ConverterNotFoundError);
      expect(intact(join(dir, 'saved'))).to.equal(true);
      model.dispose();
    });

    (posix ? it : it.skip)(
      'overwrite, failing converter: the old SavedModel stays; a later good run replaces it',
      async () => {
        const model = adaptedModel();
        marker(join(dir, 'saved'));
        const failing = stand('/bin/mkdir -p "$4"; : > "$4/partial"; exit 3');
        const err = await exportSavedModel(model, join(dir, 'saved'), { overwrite: true, converter: failing }).then(
          () => null,
          (e: Error) => e,
        );
        expect(err?.message).to.match(/failed \(exit 3\).*left unchanged/s);
        expect(intact(join(dir, 'saved'))).to.equal(true);
        const good = stand('/bin/mkdir -p "$4"; : > "$4/saved_model.pb"');
        await exportSavedModel(model, join(dir, 'saved'), { overwrite: true, converter: good });
        expect(existsSync(join(dir, 'saved', 'saved_model.pb'))).to.equal(true);
        expect(existsSync(join(dir, 'saved', 'keep.txt'))).to.equal(false);
        // Nothing temporary is left beside the outputs.
        expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
        model.dispose();
      },
    );

    it('refuses merge: false on a model with adapters before writing anything', async () => {
      const model = adaptedModel();
      const err = await exportSavedModel(model, join(dir, 'saved'), { merge: false }).then(() => null, (e: Error) => e);
      expect(err?.message)
        .to.match(/merge is false but the model holds adapter layers \(fc1: OrthogonalDense\).*Export with merge/);
      expect(readdirSync(dir).sort()).to.deep.equal(['empty-bin']);
      model.dispose();
    });

    it('names a file in the way with a hint instead of a raw ENOTDIR/EEXIST', async () => {
      const model = adaptedModel();
      writeFileSync(join(dir, 'afile'), 'x');
      const err = await exportSavedModel(model, join(dir, 'afile', 'saved')).then(() => null, (e: Error) => e);
      expect(err?.message).to.match(/^exportSavedModel: .*A file \(not a folder\) stands in the way/);
      model.dispose();
    });

    (posix ? it : it.skip)(
      'CLI: refuses --tfjs-dir or outDir pointed at the folder of the exported model',
      async function () {
        this.timeout(120000);
        const model = adaptedModel();
        const src = join(dir, 'adapter-model');
        await model.save(`file://${src}`);
        model.dispose();
        const before = readFileSync(join(src, 'model.json'), 'utf8');
        const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
        const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
        for (const rest of [[join(dir, 'out'), '--tfjs-dir', src], [src]]) {
          const out = spawnSync(tsx, [cli, 'export', join(src, 'model.json'), ...rest, '--overwrite'], {
            encoding: 'utf8',
          });
          expect(out.status, out.stderr).to.equal(2);
          expect(out.stderr).to.match(/holds the model being exported .*would replace it/);
        }
        expect(readFileSync(join(src, 'model.json'), 'utf8')).to.equal(before);
      },
    );
  });
});
