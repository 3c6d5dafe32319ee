// Switching every adapter of a model off (the model computes its base) and on again.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { findAdapterLayers } from './find-adapters';

/**
 * Switches every adapter layer of `model` (nested models included) off (`false`: each computes
 * its frozen base `Dense`, so the model computes the base model — biases trained with
 * `bias: 'all' | 'oft_only'` stay as trained) or on again (`true`). No rebuild; takes effect at
 * the next call. Train with adapters on: switched off they receive no gradient. Returns the
 * number of adapter layers switched.
 */
export function setAdaptersEnabled(model: LayersModel, enabled: boolean): number {
  const adapters = findAdapterLayers(model);
  for (const layer of adapters) layer.adapterEnabled = enabled;
  return adapters.length;
}

/**
 * Runs `fn` with every adapter of `model` switched off and restores each layer's previous
 * state afterwards (also when `fn` throws or its promise rejects).
 *
 * ```ts
 * const baseOut = withAdaptersDisabled(model, () => model.predict(x) as tf.Tensor);
 * ```
 */
export function withAdaptersDisabled<T>(model: LayersModel, fn: () => T): T {
  const adapters = findAdapterLayers(model);
  const previous = adapters.map((l) => l.adapterEnabled);
  const restore = () => adapters.forEach((l, i) => { l.adapterEnabled = previous[i]; });
  for (const l of adapters) l.adapterEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    restore();
    throw err;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}
