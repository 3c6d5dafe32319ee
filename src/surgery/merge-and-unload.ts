// mergeAndUnload: fold every adapter into its kernel and return a model of plain tfjs layers.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { warnOnce } from '../helpers';
import { findAdapterEntries } from './find-adapters';
import { rebuildModel, WeightOverrides } from './rebuild';
import { getSurgeryRecord } from './surgery-record';

/**
 * Returns a copy of `model` in which every adapter layer (`OrthogonalDense`,
 * `ButterflyDense`, nested models included) is a plain `Dense` of the same name with kernel
 * `K' = R · K · diag(s)` (docs/math.md §1) and the same bias. Its outputs equal `model`'s within
 * float32 rounding (dropout aside); its `model.json` names only tfjs classes, so it loads
 * with plain `@tensorflow/tfjs` anywhere (and converts with `tensorflowjs_converter`).
 *
 * Trainable flags go back to those of the model given to `applyOft`/`applyBoft`/`loadAdapter`
 * when this model came from them; otherwise merged layers are trainable and the other layers
 * keep their flags. A layer whose adapter is switched off (`setAdaptersEnabled(model, false)`)
 * merges to its base kernel, with a warning. `model` is not changed; dispose it yourself if
 * you no longer need it.
 */
export function mergeAndUnload(model: LayersModel): LayersModel {
  const record = getSurgeryRecord(model);
  const adapters = findAdapterEntries(model);
  const byPath = new Map(adapters.map((a) => [a.path, a.layer]));
  const overrides: WeightOverrides = new Map();
  try {
    for (const { path, layer } of adapters) {
      if (!layer.adapterEnabled) {
        warnOnce(
          `mergeAndUnload: the adapter of layer '${path}' is switched off; merging its base kernel (the adapter is ` +
            `dropped).`,
        );
      }
      const merged = layer.adapterEnabled ? layer.mergedKernel() : tf.clone(layer.baseKernel.read());
      overrides.set(path, new Map([['kernel', merged]]));
    }
    return rebuildModel(model, (path, entry) => {
      const adapter = byPath.get(path);
      const baseTrainable = record?.baseTrainable.get(path);
      if (adapter != null) {
        entry.className = 'Dense';
        entry.config = { ...adapter.toDenseConfig(), trainable: baseTrainable ?? true };
      } else if (baseTrainable != null && !Array.isArray(entry.config.layers)) {
        entry.config.trainable = baseTrainable;
      }
    }, overrides);
  } finally {
    for (const m of overrides.values()) for (const t of m.values()) t.dispose();
  }
}
