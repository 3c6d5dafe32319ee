// Internal: frozen BatchNormalization layers stay frozen in fit. tfjs-layers' BatchNormalization ignores
// `trainable`: with `training` (as in fit) it normalizes with the batch's statistics and overwrites its moving
// mean and variance, so a frozen base drifts and `setAdaptersEnabled(model, false)` no longer computes the base
// model. Keras runs a non-trainable BatchNormalization in inference mode; the adapted models do the same.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { leafLayers } from './layer-paths';

/**
 * Makes every `BatchNormalization` of `model` (nested models included) run in inference mode while its
 * `trainable` is false. Applies to these layer objects: a model reloaded with `tf.loadLayersModel` has new ones.
 */
export function inferenceModeWhenFrozen(model: LayersModel): void {
  for (const { layer } of leafLayers(model)) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, layer.trainable ? kwargs : { ...kwargs, training: false });
  }
}
