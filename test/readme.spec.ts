import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureFreshDist } from './helpers/fresh-dist';

// The README's quick start is what a new user pastes first: run it as written (only the
// package name mapped to our code and the output folders moved to a temp dir), as TypeScript
// and as a plain JavaScript module.
describe('README quick start', function () {
  this.timeout(180000);
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];

  /** Writes the quick start with 'tfjs-oft' mapped to `target`; returns the file and the output folder. */
  function pasted(target: string, ext: string): { file: string; dir: string } {
    expect(code, 'a ```js block under "## Quick start"').to.be.a('string');
    const dir = mkdtempSync(join(tmpdir(), 'oft-readme-'));
    const script = (code as string)
      .replace(/from 'tfjs-oft'/g, `from '${target}'`)
      .replace(/file:\/\/\.\//g, `file://${dir}/`);
    // Inside the repository so that '@tensorflow/tfjs' resolves from node_modules.
    mkdirSync('.cache', { recursive: true });
    const file = join(mkdtempSync(join('.cache', 'readme-')), `quick-start.${ext}`);
    writeFileSync(file, script);
    return { file, dir };
  }

  function expectModels(out: string, dir: string): void {
    expect(out).to.match(/trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: [\d.]+/);
    expect(existsSync(join(dir, 'oft-model', 'model.json'))).to.equal(true);
    const merged = readFileSync(join(dir, 'merged-model', 'model.json'), 'utf8');
    expect(merged).to.not.contain('OrthogonalDense');
  }

  it('runs as pasted in TypeScript (.mts, tsx), writes the two models, type-checks (strict, nodenext)', () => {
    const { file, dir } = pasted(resolve('src/index.ts'), 'mts');
    expectModels(execFileSync('npx', ['tsx', file], { encoding: 'utf8' }), dir);
    // tsx only strips types: compile against the built package's .d.ts as a TypeScript user does.
    ensureFreshDist();
    const typed = pasted(resolve('dist/index.js'), 'mts').file;
    const tsc = ['tsc', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', typed];
    try {
      execFileSync('npx', tsc, { encoding: 'utf8' });
    } catch (e) {
      throw new Error(`the quick start does not type-check:\n${(e as { stdout?: string }).stdout}`);
    }
  });

  it('runs as pasted in JavaScript (.mjs, plain node, the built package); loads where the README says', () => {
    ensureFreshDist();
    const { file, dir } = pasted(resolve('dist/index.js'), 'mjs');
    expectModels(execFileSync('node', [file], { encoding: 'utf8' }), dir);
    // "Who can load what", checked in a fresh process with plain @tensorflow/tfjs and no tfjs-oft.
    const probe = join(resolve(file, '..'), 'probe.mjs');
    writeFileSync(probe, `
      import * as tf from '@tensorflow/tfjs';
      import { readFileSync } from 'node:fs';
      const fromFiles = (d) => {
        const json = JSON.parse(readFileSync(d + '/model.json', 'utf8'));
        const bin = readFileSync(d + '/' + json.weightsManifest[0].paths[0]);
        return tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) });
      };
      const error = (p) => p.then(() => 'loaded', (e) => e.message);
      const merged = await tf.loadLayersModel(fromFiles(${JSON.stringify(join(dir, 'merged-model'))}));
      console.log(JSON.stringify({
        fileUrl: await error(tf.loadLayersModel('file://${join(dir, 'merged-model', 'model.json')}')),
        mergedClasses: merged.layers.map((l) => l.getClassName()),
        oftModel: await error(tf.loadLayersModel(fromFiles(${JSON.stringify(join(dir, 'oft-model'))}))),
      }));`);
    const seen = JSON.parse(execFileSync('node', [probe], { encoding: 'utf8' }).trim().split('\n').pop() as string);
    // tfjs' http handler takes the file:// URL and fetch() refuses it.
    expect(seen.fileUrl).to.match(/fetch failed/);
    expect(seen.mergedClasses).to.deep.equal(['Dense', 'Dense']);
    expect(seen.oftModel).to.match(/Unknown layer: OrthogonalDense/);
  });
});
