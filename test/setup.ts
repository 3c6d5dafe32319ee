// Selects the tfjs backend for the whole suite from TFJS_BACKEND (cpu | wasm | tensorflow; the last needs a
// built @tensorflow/tfjs-node, which is not a dependency and is loaded only when asked for).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import '../src/index';

const backend = process.env.TFJS_BACKEND ?? 'cpu';

export const mochaHooks = {
  async beforeAll() {
    if (backend === 'tensorflow') {
      const specifier = '@tensorflow/tfjs-node';
      await import(specifier);
    }
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`could not initialise the tfjs '${backend}' backend`);
    await tf.ready();
    console.log(`      [tfjs backend: ${tf.getBackend()}]`);
  },
};
