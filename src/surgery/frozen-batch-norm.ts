// Frozen BatchNormalization layers stay frozen in fit. tfjs-layers' BatchNormalization ignores
// `trainable`: with `training` (as in fit) it normalizes with the batch's statistics and overwrites its moving
// mean and variance, so a frozen base drifts and `setAdaptersEnabled(model, false)` no longer computes the base
// model. Keras runs a non-trainable BatchNormalization in inference mode; the adapted models do the same.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { leafLayers } from './layer-paths';

/** Marks a layer whose `call` already defers to `trainable`, so that a second application wraps nothing. */
const WRAPPED = Symbol('tfjs-oft inference mode when frozen');

/**
 * Makes every `BatchNormalization` of `model` (nested models included) run in inference mode while its
 * `trainable` is false, as Keras does. `applyOft`, `applyBoft` and `loadAdapter` apply it to the models they
 * return; call it on a model reloaded with `tf.loadLayersModel`, whose layers are new objects. Idempotent.
 */
export function inferenceModeForFrozenBatchNorm(model: LayersModel): void {
  for (const { layer } of leafLayers(model)) {
    const marked = layer as unknown as Record<symbol, boolean>;
    if (layer.getClassName() !== 'BatchNormalization' || marked[WRAPPED]) continue;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, layer.trainable ? kwargs : { ...kwargs, training: false });
    marked[WRAPPED] = true;
  }
}
