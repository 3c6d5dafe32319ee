// Internal: walking a model's layers (nested models included) with stable paths, and editing
// the matching entries of its serialized config. A layer's path is its name, prefixed by the
// names of the nested models that hold it, joined with '/': 'classifier', 'encoder/fc1'.
import { layers, LayerVariable, LayersModel } from '@tensorflow/tfjs-layers';

/** One layer of a model with its path. */
export interface LayerEntry {
  /** `name`, or `outer/inner/name` inside nested models. */
  path: string;
  layer: layers.Layer;
  /** True for a nested model (its layers are listed separately). */
  isModel: boolean;
  /** True for an `InputLayer`. */
  isInput: boolean;
}

/** A serialized layer inside a model config (TS form: camelCase keys). */
export interface LayerConfigEntry {
  className: string;
  config: Record<string, unknown>;
  name?: string;
  inboundNodes?: unknown[];
}

/** Whether `layer` is a model (Sequential or functional) used as a layer. */
export function isModelLayer(layer: layers.Layer): layer is LayersModel {
  return layer instanceof LayersModel;
}

/** Every layer of `model`, depth first, nested models followed by their own layers. */
export function walkLayers(model: LayersModel, prefix = ''): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const layer of model.layers) {
    const path = prefix === '' ? layer.name : `${prefix}/${layer.name}`;
    const isModel = isModelLayer(layer);
    out.push({ path, layer, isModel, isInput: layer.getClassName() === 'InputLayer' });
    if (isModel) out.push(...walkLayers(layer, path));
  }
  return out;
}

/** The layers of `model` that hold weights or compute something (no inputs, no nested models). */
export function leafLayers(model: LayersModel): LayerEntry[] {
  return walkLayers(model).filter((e) => !e.isModel && !e.isInput);
}

/**
 * Name of a weight relative to its layer: `kernel`, `bias`, `oft_r`, or
 * `forward_lstm/kernel` for wrapper layers.
 */
export function relativeWeightName(layer: layers.Layer, weight: LayerVariable): string {
  const name = weight.originalName;
  const prefix = `${layer.name}/`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** All weights of a layer, trainable or not, in creation-independent order (by relative name). */
export function weightsByName(layer: layers.Layer): Map<string, LayerVariable> {
  const map = new Map<string, LayerVariable>();
  for (const w of layer.weights) {
    const key = relativeWeightName(layer, w);
    if (map.has(key)) {
      throw new Error(
        `tfjs-oft: layer '${layer.name}' has two weights named '${key}'; cannot match its weights by name.`,
      );
    }
    map.set(key, w);
  }
  return map;
}

/**
 * Calls `fn` on every serialized layer of a model config (from `model.getConfig()`), nested
 * models included (their entries first, then their layers), with the same paths as
 * `walkLayers`. `fn` may edit the entry in place.
 */
export function forEachLayerConfig(config: Record<string, unknown>, fn: (path: string, entry: LayerConfigEntry) => void,
  prefix = ''): void {
  const list = config.layers;
  if (!Array.isArray(list)) throw new Error('tfjs-oft: model config has no layers list.');
  for (const entry of list as LayerConfigEntry[]) {
    const name = (entry.config?.name ?? entry.name) as string;
    const path = prefix === '' ? name : `${prefix}/${name}`;
    fn(path, entry);
    if (Array.isArray(entry.config?.layers)) forEachLayerConfig(entry.config, fn, path);
  }
}
