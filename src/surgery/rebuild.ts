// Internal: the config route of DESIGN.md. A model is serialized with getConfig(), entries are
// edited (class swapped, options added), the model is rebuilt with its class' fromConfig, and
// weights are copied by layer path and weight name. Shared layers and nested models survive
// because the graph itself is rebuilt from the config, not re-traced.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { forEachLayerConfig, LayerConfigEntry, leafLayers, weightsByName } from './layer-paths';

/** Replacement values: layer path → relative weight name → tensor (copied, not taken). */
export type WeightOverrides = Map<string, Map<string, tf.Tensor>>;

type ModelClass = {
  fromConfig(
    cls: unknown,
    config: Record<string, unknown>,
    customObjects?: unknown,
    fastWeightInit?: boolean,
  ): LayersModel;
};

/**
 * Rebuilds `model` from its config after `edit` has changed entries, and copies every weight
 * of the old model into the weight of the same layer path and name in the new one; weights
 * that exist only in the new model (adapter parameters) keep their initial values, and
 * `overrides` replace copied values. `model` is not changed. On failure every variable
 * created on the way is disposed and the error is rethrown.
 */
export function rebuildModel(model: LayersModel, edit: (path: string, entry: LayerConfigEntry) => void,
  overrides: WeightOverrides = new Map()): LayersModel {
  const config = JSON.parse(JSON.stringify(model.getConfig())) as Record<string, unknown>;
  forEachLayerConfig(config, edit);
  const before = new Set(Object.keys(tf.engine().registeredVariables));
  let rebuilt: LayersModel | null = null;
  try {
    const cls = model.constructor as unknown as ModelClass;
    rebuilt = cls.fromConfig(cls, config);
    copyWeights(model, rebuilt, overrides);
    return rebuilt;
  } catch (err) {
    disposeVariablesSince(before);
    throw err;
  }
}

/** Disposes every variable registered with the engine since the snapshot `before`. */
export function disposeVariablesSince(before: Set<string>): void {
  const vars = tf.engine().registeredVariables;
  for (const name of Object.keys(vars)) {
    if (!before.has(name)) vars[name].dispose();
  }
}

/** Writes `value` into `target` exactly (no constraint applied; the data is shared, not copied). */
export function assignExact(target: { read(): tf.Tensor }, value: tf.Tensor, what: string): void {
  const v = target.read() as tf.Variable;
  if (
    v.dtype !== value.dtype ||
    v.shape.length !== value.shape.length ||
    v.shape.some((s, i) => s !== value.shape[i])
  ) {
    throw new Error(
      `tfjs-oft: ${what}: expected ${v.dtype} of shape [${v.shape}], got ${value.dtype} of shape [${value.shape}].`,
    );
  }
  v.assign(value);
}

function copyWeights(from: LayersModel, to: LayersModel, overrides: WeightOverrides): void {
  const old = new Map(leafLayers(from).map((e) => [e.path, e.layer]));
  const done = new Set<unknown>();
  for (const { path, layer } of leafLayers(to)) {
    if (done.has(layer)) continue;
    done.add(layer);
    const source = old.get(path);
    const sourceWeights = source == null ? new Map() : weightsByName(source);
    const replaced = overrides.get(path);
    for (const [name, w] of weightsByName(layer)) {
      const value = replaced?.get(name) ?? sourceWeights.get(name)?.read();
      if (value != null) assignExact(w, value, `layer '${path}' weight '${name}'`);
    }
  }
}
