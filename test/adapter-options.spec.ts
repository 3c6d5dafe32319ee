// Adapter options are checked for type, range and spelling wherever they enter (issue 13):
// constructors, fromConfig (a saved model.json), setters of rates, and through them adapter
// checkpoints and PEFT imports.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOft, ButterflyDense, OrthogonalDense } from '../src/index';

type Extra = Record<string, unknown>;
const oft = (extra: Extra) => () => new OrthogonalDense({ units: 4, oftBlockSize: 2, ...extra } as never);
const boft = (extra: Extra) => () => new ButterflyDense({ units: 4, boftBlockSize: 2, ...extra } as never);

/** Saves a one-layer model, edits its layer config in model.json, and returns the load error. */
async function loadEdited(layer: tf.layers.Layer, edit: (config: Record<string, unknown>) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oft-opts-'));
  const model = tf.sequential({ layers: [layer] });
  await model.save(`file://${dir}`);
  model.dispose();
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  edit(json.modelTopology.config.layers[0].config);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  return tf.loadLayersModel(`file://${dir}/model.json`)
    .then((m) => { m.dispose(); return '(no error)'; }, (e: Error) => e.message);
}

describe('adapter options: booleans are booleans', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['useCayleyNeumann: \'false\'', oft({ useCayleyNeumann: 'false' }),
      /OrthogonalDense '.*': useCayleyNeumann must be true or false, got 'false' \(a string\)/],
    ['coft: \'no\'', oft({ coft: 'no' }), /coft must be true or false, got 'no' \(a string\)/],
    ['blockShare: \'false\'', oft({ blockShare: 'false' }), /blockShare must be true or false, got 'false'/],
    ['initWeights: 0', oft({ initWeights: 0 }), /initWeights must be true or false, got 0/],
    ['biasTrainable: \'yes\'', oft({ biasTrainable: 'yes' }), /biasTrainable must be true or false, got 'yes'/],
    ['BOFT useCayleyNeumann: \'true\'', boft({ useCayleyNeumann: 'true' }),
      /ButterflyDense '.*': useCayleyNeumann must be true or false/],
    ['numbers as strings', oft({ eps: '1e-4' }), /eps must be a finite number > 0, got '1e-4' \(a string\)/],
    ['a size as a string', boft({ boftBlockSize: '2' }), /boftBlockSize must be an integer ≥ 0, got '2' \(a string\)/],
  ];
  for (const [what, make, want] of cases) it(`refuses ${what} in the constructor`, () => expect(make).to.throw(want));

  it('refuses coft: "false" in a saved model.json (fromConfig) instead of loading it as true', async () => {
    const layer = new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2 });
    const msg = await loadEdited(layer, (c) => { c.coft = 'false'; });
    expect(msg).to.match(/coft must be true or false, got 'false' \(a string\)/);
  });

  it('refuses the same through applyOft', () => {
    const base = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], name: 'fc' })] });
    expect(() => applyOft(base, { targetModules: ['fc'], oftBlockSize: 2, blockShare: 'false' as never }))
      .to.throw(/blockShare must be true or false/);
    base.dispose();
  });
});

describe('adapter options: unknown keys are refused, tfjs layer arguments are not', () => {
  it('refuses a misspelt option and names the right one', () => {
    expect(oft({ oftBlocksize: 8 }))
      .to.throw(/OrthogonalDense '.*': unknown option\(s\) oftBlocksize \(did you mean oftBlockSize\?\)/);
    expect(boft({ boft_dropout: 0.1 })).to.throw(/unknown option\(s\) boft_dropout \(did you mean boftDropout\?\)/);
    expect(boft({ moduleDropout: 0.1 }))
      .to.throw(/ButterflyDense '.*': unknown option\(s\) moduleDropout\. Its options: .*boftDropout/);
  });

  it('accepts every tf.layers.dense argument and loads a saved model (tfjs adds customObjects)', async () => {
    const layer = new OrthogonalDense({ units: 2, oftBlockSize: 2, inputShape: [4], name: 'a', trainable: true,
      dtype: 'float32', activation: 'relu', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros',
      kernelRegularizer: 'l1l2', biasRegularizer: 'l1l2', activityRegularizer: 'l1l2', kernelConstraint: 'nonNeg',
      biasConstraint: 'nonNeg' });
    expect(await loadEdited(layer, () => undefined)).to.equal('(no error)');
    expect(() => new ButterflyDense({ units: 2, boftBlockSize: 2, inputDim: 4, batchSize: 3 })).to.not.throw();
  });

  it('refuses an unknown key in a saved model.json', async () => {
    const layer = new ButterflyDense({ units: 2, inputShape: [4], boftBlockSize: 2 });
    const msg = await loadEdited(layer, (c) => { c.boft_blocksize = 4; });
    expect(msg).to.match(/unknown option\(s\) boftBlocksize \(did you mean boftBlockSize\?\)/);
  });
});

describe('adapter options: sizes that may come from a file have upper bounds', () => {
  it('refuses numCayleyNeumannTerms of 2e5 (a predict would take seconds), also in model.json', async () => {
    expect(oft({ numCayleyNeumannTerms: 200000 }))
      .to.throw(/numCayleyNeumannTerms must be at most 64, got 200000\. .*exact Cayley/);
    expect(boft({ numCayleyNeumannTerms: 65 })).to.throw(/numCayleyNeumannTerms must be at most 64, got 65/);
    expect(oft({ numCayleyNeumannTerms: 64 })).to.not.throw();
    const msg = await loadEdited(new OrthogonalDense({ units: 2, inputShape: [4], oftBlockSize: 2 }),
      (c) => { c.num_cayley_neumann_terms = 200000; });
    expect(msg).to.match(/numCayleyNeumannTerms must be at most 64, got 200000/);
  });

  it('refuses block sizes, counts and factors beyond any layer', () => {
    expect(oft({ oftBlockSize: 2 ** 40 })).to.throw(/oftBlockSize must be at most 1048576/);
    expect(boft({ boftNButterflyFactor: 1e9 })).to.throw(/boftNButterflyFactor must be at most 32/);
  });
});

describe('adapter options: rates set after construction are checked', () => {
  it('dropoutRate, moduleDropout and boftDropout refuse values outside [0, 1) and keep the old value', () => {
    const a = new OrthogonalDense({ units: 4, oftBlockSize: 2, moduleDropout: 0.25 });
    expect(() => { a.dropoutRate = 1.5; })
      .to.throw(/OrthogonalDense '.*': moduleDropout must be in \[0, 1\), got 1\.5/);
    expect(() => { a.moduleDropout = NaN; }).to.throw(/moduleDropout must be in \[0, 1\), got NaN/);
    expect(() => { a.moduleDropout = '0.5' as never; }).to.throw(/got '0\.5' \(a string\)/);
    expect(a.moduleDropout).to.equal(0.25);
    a.dropoutRate = 0.5;
    expect(a.moduleDropout).to.equal(0.5);
    const b = new ButterflyDense({ units: 4, boftBlockSize: 2 });
    expect(() => { b.dropoutRate = -0.1; }).to.throw(/ButterflyDense '.*': boftDropout must be in \[0, 1\), got -0\.1/);
    expect(() => { b.boftDropout = 1; }).to.throw(/boftDropout must be in \[0, 1\)/);
    expect(b.boftDropout).to.equal(0);
  });
});
