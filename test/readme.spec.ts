import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The README's quick start is what a new user pastes first: run it as written (only the
// package name mapped to the sources and the output folders moved to a temp dir).
describe('README quick start', function () {
  this.timeout(120000);
  it('runs as pasted and writes the two models', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Quick start'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'a ```ts block under "## Quick start"').to.be.a('string');
    const dir = mkdtempSync(join(tmpdir(), 'oft-readme-'));
    const script = (code as string)
      .replace(/from 'tfjs-oft'/g, `from '${resolve('src/index.ts')}'`)
      .replace(/file:\/\/\.\//g, `file://${dir}/`);
    // Inside the repository so that '@tensorflow/tfjs' resolves from node_modules.
    mkdirSync('.cache', { recursive: true });
    const file = join(mkdtempSync(join('.cache', 'readme-')), 'quick-start.mts');
    writeFileSync(file, script);
    const out = execFileSync('npx', ['tsx', file], { encoding: 'utf8', env: process.env });
    expect(out).to.match(/trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: [\d.]+/);
    expect(existsSync(join(dir, 'oft-model', 'model.json'))).to.equal(true);
    const merged = readFileSync(join(dir, 'merged-model', 'model.json'), 'utf8');
    expect(merged).to.not.contain('OrthogonalDense');
  });
});
