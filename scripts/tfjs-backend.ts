// Initialises a tfjs backend by name for the tests, benchmarks and demo: 'cpu', 'wasm', or
// 'tensorflow', the native TensorFlow of @tensorflow/tfjs-node (a devDependency, built here by
// `npm run setup:tfjs-node`). tfjs-node is loaded only when asked for: loading it also installs
// its own file:// handler for the whole process.
import * as tf from '@tensorflow/tfjs';

/** The backends the suite, the benchmarks and the demo run on. */
export const BACKENDS = ['cpu', 'wasm', 'tensorflow'];

/** Loads @tensorflow/tfjs-node; the error says how to build it when it does not load. */
export async function loadTfjsNode(): Promise<void> {
  // TensorFlow's C++ INFO lines (oneDNN, CPU features) on every start: keep warnings and errors.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  try {
    await import('@tensorflow/tfjs-node');
  } catch (err) {
    throw new Error(`the 'tensorflow' backend needs @tensorflow/tfjs-node, which does not load ` +
      `(${(err as Error).message.split('\n')[0]}). Build it with \`npm run setup:tfjs-node\`, or install it ` +
      'with `npm install @tensorflow/tfjs-node` where its binaries can be downloaded.');
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
