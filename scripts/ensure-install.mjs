// Installs the npm dependencies when they are missing or older than package-lock.json, so
// that `npm test` and `npm run demo` work from a fresh clone with no other step.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const stamp = 'node_modules/.package-lock.json';
const stale = !existsSync(stamp) ||
  (existsSync('package-lock.json') && statSync('package-lock.json').mtimeMs > statSync(stamp).mtimeMs);
if (stale) {
  // --ignore-scripts: no dependency needs its install script, and @tensorflow/tfjs-node's would download
  // binaries (package.json's allowScripts denies it on npm versions that know that field; older ones do not).
  const flags = '--no-audit --no-fund --ignore-scripts';
  const cmd = existsSync('package-lock.json') ? `npm ci ${flags}` : `npm install ${flags}`;
  console.log(`[tfjs-oft] installing dependencies: ${cmd}`);
  execSync(cmd, { stdio: 'inherit' });
}
