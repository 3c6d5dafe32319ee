// The OFT fine-tuning setup of the digits demo, one home for the Node demo and the browser demo.
import type { OftConfig } from '../../src/index';

/** Fine-tuning defaults on task B (the same for every method of the Node demo). */
export const FINE_TUNE_DEFAULTS = { epochs: 5, learningRate: 1e-3, batchSize: 64, oftBlockSize: 8 };

/** OFT on every linear layer but the head (Cayley–Neumann); the head trains in full. */
export function oftConfig(oftBlockSize: number): OftConfig {
  return { oftBlockSize, useCayleyNeumann: true, targetModules: 'all-linear', modulesToSave: ['classifier'] };
}
