// Selects the tfjs backend for the whole suite from TFJS_BACKEND (cpu | wasm | tensorflow), and
// prints the worst numerical error per tolerance at the end.
import * as tf from '@tensorflow/tfjs';
import type { Context } from 'mocha';
import '../src/index';
import { useBackend } from '../scripts/tfjs-backend';
import { numericMarginReport, setCurrentTest } from './helpers/numeric-margins';

const backend = process.env.TFJS_BACKEND ?? 'cpu';

export const mochaHooks = {
  async beforeAll() {
    await useBackend(backend);
    console.log(`      [tfjs backend: ${tf.getBackend()}]`);
  },
  beforeEach(this: Context) {
    setCurrentTest(this.currentTest?.fullTitle() ?? '');
  },
  afterAll() {
    console.log(numericMarginReport(tf.getBackend()));
  },
};
