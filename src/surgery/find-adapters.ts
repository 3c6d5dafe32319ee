// Finding the adapter layers of a model, nested models included.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterDense } from '../layers/adapter-dense';
import { walkLayers } from './layer-paths';

/**
 * Every adapter layer (`OrthogonalDense`, `ButterflyDense`, any `AdapterDense`) of `model`,
 * nested models included, each once (a layer shared by several calls is listed once), in
 * the order of `model.layers`, depth first.
 */
export function findAdapterLayers(model: LayersModel): AdapterDense[] {
  return findAdapterEntries(model).map((e) => e.layer);
}

/** Like `findAdapterLayers`, with each layer's path (`name`, or `outer/inner/name`). */
export function findAdapterEntries(model: LayersModel): Array<{ path: string; layer: AdapterDense }> {
  const seen = new Set<AdapterDense>();
  const out: Array<{ path: string; layer: AdapterDense }> = [];
  for (const { path, layer } of walkLayers(model)) {
    if (layer instanceof AdapterDense && !seen.has(layer)) {
      seen.add(layer);
      out.push({ path, layer });
    }
  }
  return out;
}
