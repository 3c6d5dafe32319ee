// The Python side of the interop tests: the pinned venv made by interop/setup-python.sh.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(new URL('..', import.meta.url).pathname);
export const VENV = process.env.TFJS_OFT_VENV ?? join(homedir(), '.cache', 'tfjs-oft', 'venv-tfjs');
export const PYTHON = join(VENV, 'bin', 'python');
export const CONVERTER = join(VENV, 'bin', 'tensorflowjs_converter');

const ENV = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' };

/** Throws with the setup command when the venv is missing. */
export function requireVenv(): void {
  if (!existsSync(PYTHON) || !existsSync(CONVERTER)) {
    throw new Error(
      `interop venv missing at ${VENV}: run \`bash interop/setup-python.sh\` (npm run test:interop does it).`,
    );
  }
}

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, {
      env: ENV,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; status?: number };
    throw new Error(
      `${file} ${args.join(' ')} failed (exit ${err.status}):\n${(err.stderr ?? '') + (err.stdout ?? '')}`,
    );
  }
}

/** Runs `tensorflowjs_converter` from the venv. */
export function converter(args: string[]): void {
  run(CONVERTER, args);
}

/** Converts an unmerged tfjs-oft model with the Keras counterparts (interop/convert_with_adapters.py). */
export function convertWithAdapters(modelJson: string, savedDir: string): void {
  run(PYTHON, [join(REPO, 'interop', 'convert_with_adapters.py'), modelJson, savedDir]);
}

export interface PyTensor { shape: number[]; data: number[] }
export interface SavedModelRun {
  tensorflow: string;
  signature: PyTensor;
  keras: PyTensor;
  layers: string[];
  trainable: string[];
}

/** Loads `savedDir` in Python TensorFlow and runs it on `x` (interop/run_saved_model.py). */
export function runSavedModel(
  savedDir: string,
  x: { shape: number[]; data: ArrayLike<number> },
  workDir: string,
): SavedModelRun {
  const inPath = join(workDir, 'inputs.json');
  const outPath = join(workDir, 'outputs.json');
  writeFileSync(inPath, JSON.stringify({ shape: x.shape, data: Array.from(x.data) }));
  run(PYTHON, [join(REPO, 'interop', 'run_saved_model.py'), savedDir, inPath, outPath]);
  return JSON.parse(readFileSync(outPath, 'utf8')) as SavedModelRun;
}

/** max |a − b| and max |a| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { diff, scale };
}
