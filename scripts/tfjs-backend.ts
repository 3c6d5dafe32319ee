// Initialises a tfjs backend by name for the tests, benchmarks and demo: 'cpu', 'wasm', or
// 'tensorflow', the native TensorFlow of @tensorflow/tfjs-node (a devDependency, built here by
// `npm run setup:tfjs-node`), or of @tensorflow/tfjs-node-gpu with TFJS_NODE_GPU=1. tfjs-node is
// loaded only when asked for: loading it also installs its own file:// handler for the whole process.
import * as tf from '@tensorflow/tfjs';

/** The backends the suite, the benchmarks and the demo run on. */
export const BACKENDS = ['cpu', 'wasm', 'tensorflow'];

/** Loads @tensorflow/tfjs-node (-gpu); the error says how to build it when it does not load. */
export async function loadTfjsNode(): Promise<void> {
  const gpu = process.env.TFJS_NODE_GPU === '1';
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  // TensorFlow's C++ INFO lines (CPU features) on every start: keep warnings and errors.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  try {
    await import(pkg);
  } catch (err) {
    throw new Error(`the 'tensorflow' backend needs ${pkg}, which does not load ` +
      `(${(err as Error).message.split('\n')[0]}). Build it with ` +
      `\`${gpu ? 'bash scripts/gpu-check.sh' : 'npm run setup:tfjs-node'}\`, or install it ` +
      `with \`npm install ${pkg}\` where its binaries can be downloaded.`);
  }
}

/** Whether @tensorflow/tfjs-node loads (and so the 'tensorflow' backend is available). */
export async function tfjsNodeLoads(): Promise<boolean> {
  return loadTfjsNode().then(() => true, () => false);
}

/** Makes `name` the active backend and returns it; throws, naming the backend, if it cannot start. */
export async function useBackend(name: string): Promise<string> {
  if (!BACKENDS.includes(name)) throw new Error(`unknown tfjs backend '${name}': use one of ${BACKENDS.join(', ')}`);
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (name === 'tensorflow') await loadTfjsNode();
  if (!(await tf.setBackend(name))) throw new Error(`could not initialise the tfjs '${name}' backend`);
  await tf.ready();
  return tf.getBackend();
}
