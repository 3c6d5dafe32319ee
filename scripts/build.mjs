// Bundles src/ into ESM and CommonJS entry points; tfjs and other dependencies stay external
// so the user's single tfjs instance is the one we register our classes with.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)));
const external = [
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.dependencies ?? {}),
  '@tensorflow/*',
  'node:*',
];
rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, platform: 'neutral', target: 'es2020', external, sourcemap: true,
                 mainFields: ['module', 'main'], logLevel: 'warning' };
await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  format: 'esm',
  outExtension: { '.js': '.js' },
  outdir: 'dist',
});
await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  outdir: 'dist',
});
// The `tfjs-oft` command (package.json "bin"), Node only.
await build({
  ...common,
  platform: 'node',
  entryPoints: { cli: 'src/cli.ts' },
  format: 'esm',
  outExtension: { '.js': '.js' },
  outdir: 'dist',
  banner: { js: '#!/usr/bin/env node' },
});
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// Types for node16/nodenext consumers: relative and deep tfjs-layers imports in the .d.ts files
// need an explicit `.js`; a copy under dist/cjs/ (package.json type commonjs) types `require`.
for (const f of readdirSync('dist', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
  const file = join('dist', f);
  const text = readFileSync(file, 'utf8').replace(
    /((?:from |import\()['"])((?:\.\.?\/|@tensorflow\/tfjs-layers\/dist\/)[^'"]*?)(['"])/g,
    (_m, pre, spec, post) => `${pre}${spec.endsWith('.js') ? spec : `${spec}.js`}${post}`);
  writeFileSync(file, text);
  const cjs = join('dist', 'cjs', f);
  mkdirSync(dirname(cjs), { recursive: true });
  copyFileSync(file, cjs);
}
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
console.log('built dist/index.js (ESM), dist/index.cjs (CommonJS), dist/index.d.ts (+ dist/cjs/ types), dist/cli.js');
