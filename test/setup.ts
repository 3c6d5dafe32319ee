// Selects the tfjs backend for the whole suite from TFJS_BACKEND (cpu | wasm | tensorflow).
import * as tf from '@tensorflow/tfjs';
import '../src/index';
import { useBackend } from '../scripts/tfjs-backend';

const backend = process.env.TFJS_BACKEND ?? 'cpu';

export const mochaHooks = {
  async beforeAll() {
    await useBackend(backend);
    console.log(`      [tfjs backend: ${tf.getBackend()}]`);
  },
};
