// Compiles a tiny consumer project that imports tfjs-oft (no skipLibCheck) under one
// module/moduleResolution setting and package type; prints tsc's output (test/types.spec.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [module, moduleResolution, type] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), `oft-types-${module}-${type}-`));
mkdirSync(join(dir, 'node_modules', '@tensorflow'), { recursive: true });
symlinkSync(resolve('.'), join(dir, 'node_modules', 'tfjs-oft'));
for (const p of ['tfjs-core', 'tfjs-layers'])
  symlinkSync(resolve('node_modules/@tensorflow', p), join(dir, 'node_modules/@tensorflow', p));
symlinkSync(resolve('node_modules/@types'), join(dir, 'node_modules', '@types'));
writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      module,
      moduleResolution,
      target: 'ES2020',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: [],
      lib: ['ES2020', 'DOM'],
    },
    files: ['main.ts'],
  }),
);
// An `any` import would make the assignment to `number` compile: assert a real type.
writeFileSync(join(dir, 'main.ts'), `import { orthogonalDense, OrthogonalDense, packedSize } from 'tfjs-oft';
const layer: OrthogonalDense = orthogonalDense({ units: 4 });
const n: number = packedSize(4);
// @ts-expect-error a string is not a number: fails if tfjs-oft's types are any
const bad: number = layer.name;
export { n, bad };
`);
try {
  execFileSync(resolve('node_modules/.bin/tsc'), ['-p', dir], { encoding: 'utf8' });
  console.log('OK');
} catch (e) {
  // tfjs 4.22's own .d.ts have errors without skipLibCheck (Long, InferenceModel): not ours.
  const ours = String(e.stdout)
    .split('\n')
    .filter((l) => /error TS/.test(l) && !l.startsWith('node_modules/@tensorflow/'));
  console.log(ours.length ? ours.join('\n') : 'OK');
}
