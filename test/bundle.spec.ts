import { expect } from 'chai';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureFreshDist } from './helpers/fresh-dist';

// The package as it is published and bundled: `npm pack` must ship dist/ (prepack builds it),
// and a browser bundle of a page importing tfjs-oft must build with no flags and no warnings.
describe('package: npm pack and browser bundle', function () {
  this.timeout(240000);

  it('npm pack on a clean tree builds and ships dist/ (prepack)', () => {
    // Pack from a copy without dist/, as a fresh clone is.
    const dir = mkdtempSync(join(tmpdir(), 'oft-pack-'));
    execFileSync('git', ['worktree', 'add', '--detach', dir, 'HEAD'], { stdio: 'ignore' });
    try {
      execFileSync('cp', ['-r', 'src', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json', dir]);
      execFileSync('ln', ['-s', resolve('node_modules'), join(dir, 'node_modules')]);
      expect(existsSync(join(dir, 'dist'))).to.equal(false);
      const stdout = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'],
        { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      // prepack's build log precedes npm's JSON on stdout.
      const out = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[') + 1));
      const files = (out[0].files as { path: string }[]).map((f) => f.path);
      for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cli.js'])
        expect(files).to.include(f);
    } finally {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    }
  });

  it('esbuild --bundle --platform=browser of a page importing tfjs-oft: no errors, no warnings', async () => {
    ensureFreshDist();
    const result = await build({
      entryPoints: ['test/helpers/browser-page.mjs'], bundle: true, platform: 'browser', write: false,
      format: 'esm', logLevel: 'silent',
      // Resolve 'tfjs-oft' as a user's project does: through package.json "exports".
      alias: { 'tfjs-oft': resolve('.') },
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.warnings.map((w) => w.text)).to.deep.equal([]);
    const code = result.outputFiles[0].text;
    // What broke the bundle before: cli-progress and the Node built-ins it pulls in.
    expect(code).to.not.match(/require\(["'](readline|events)["']\)|from ["'](readline|events)["']/);
  });
});
