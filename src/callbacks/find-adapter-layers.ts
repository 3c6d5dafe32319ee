// Locating adapter layers in a model, nested models included (used by the callbacks).
import type { layers } from '@tensorflow/tfjs-layers';
import { AdapterDense } from '../layers/adapter-dense';

/**
 * Every adapter layer (`OrthogonalDense`, `ButterflyDense`, …) of `model`, depth first in
 * layer order, descending into nested models (any layer with a `layers` array). A layer
 * shared by several models is listed once.
 */
export function adapterLayersIn(model: { layers?: layers.Layer[] }): AdapterDense[] {
  const found: AdapterDense[] = [];
  const seen = new Set<unknown>();
  const visit = (node: { layers?: layers.Layer[] }): void => {
    for (const layer of node.layers ?? []) {
      if (seen.has(layer)) continue;
      seen.add(layer);
      if (layer instanceof AdapterDense) found.push(layer);
      const inner = (layer as unknown as { layers?: unknown }).layers;
      if (Array.isArray(inner)) visit(layer as unknown as { layers: layers.Layer[] });
    }
  };
  visit(model);
  return found;
}
