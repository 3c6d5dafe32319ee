// Installs the npm dependencies when they are missing or older than package-lock.json, so
// that `npm test` and `npm run demo` work from a fresh clone with no other step.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const stamp = 'node_modules/.package-lock.json';
const stale = !existsSync(stamp) ||
  (existsSync('package-lock.json') && statSync('package-lock.json').mtimeMs > statSync(stamp).mtimeMs);
if (stale) {
  const cmd = existsSync('package-lock.json') ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund';
  console.log(`[tfjs-oft] installing dependencies: ${cmd}`);
  execSync(cmd, { stdio: 'inherit' });
}
