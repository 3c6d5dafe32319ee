// Internal: what applyOft / applyBoft / loadAdapter did to a model, kept beside the model (not in
// its config) so that mergeAndUnload can restore trainable flags and saveAdapter knows which
// layers were modules to save and which bias mode was used.
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** Bias modes of docs/math.md §6. */
export type BiasMode = 'none' | 'all' | 'oft_only' | 'boft_only';

/** Record of one surgery. */
export interface SurgeryRecord {
  /** Paths of the adapter layers it created. */
  adapters: string[];
  /** Paths of the layers left fully trainable. */
  modulesToSave: string[];
  bias: BiasMode;
  /** Layer path → `trainable` flag in the model before surgery. */
  baseTrainable: Map<string, boolean>;
}

const records = new WeakMap<LayersModel, SurgeryRecord>();

export function setSurgeryRecord(model: LayersModel, record: SurgeryRecord): void {
  records.set(model, record);
}

export function getSurgeryRecord(model: LayersModel): SurgeryRecord | undefined {
  return records.get(model);
}
