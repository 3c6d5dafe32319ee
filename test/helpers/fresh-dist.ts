import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Builds dist/ unless every built entry point is newer than every source file (npm test builds just before). */
export function ensureFreshDist(): void {
  const built = ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cjs/index.d.ts']
    .map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0));
  const newestSource = Math.max(...readdirSync('src', { recursive: true, encoding: 'utf8' })
    .map((f) => statSync(join('src', f)).mtimeMs));
  if (Math.min(...built) < newestSource) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
}
