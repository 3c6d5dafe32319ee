// Backend of the SFT demo: tfjs-node ('tensorflow') when it is installed and loads, else wasm,
// else cpu. tfjs-node is optional (its install downloads or builds libtensorflow), so it is
// imported through a computed specifier: no type or bundle dependency on it.
import * as tf from '@tensorflow/tfjs';

export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

async function tryBackend(name: string): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      const specifier = ['@tensorflow', 'tfjs-node'].join('/');
      await import(specifier);
    }
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return true;
  } catch {
    return false;
  }
}

/** Initialises `requested`, or the first of tensorflow, wasm, cpu that loads; returns its name. */
export async function selectSftBackend(requested?: string): Promise<string> {
  if (requested != null) {
    if (!(BACKENDS as readonly string[]).includes(requested)) {
      throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got '${requested}'`);
    }
    if (!(await tryBackend(requested))) {
      const hint = requested === 'tensorflow' ? ' (is @tensorflow/tfjs-node installed and built?)' : '';
      throw new Error(`could not initialise the tfjs '${requested}' backend${hint}; try --backend wasm`);
    }
    return tf.getBackend();
  }
  for (const name of BACKENDS) if (await tryBackend(name)) return name;
  throw new Error('no tfjs backend initialised (tried tensorflow, wasm, cpu)');
}
