// Internal: turning a base model into an adapted one from a resolved plan (which layers become
// which adapter class with which options, which layers stay trainable, which biases train).
// Shared by applyOft / applyBoft and loadAdapter.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { adapterClasses, adapterClassNamed } from '../methods/adapter-methods';
import { inferenceModeForFrozenBatchNorm } from './frozen-batch-norm';
import { leafLayers, weightsByName } from './layer-paths';
import { rebuildModel } from './rebuild';
import { BiasMode, setSurgeryRecord } from './surgery-record';

/** One layer to replace: adapter class and its options (adapter keys and `biasTrainable` only). */
export interface AdapterSpec {
  className: string;
  options: Record<string, unknown>;
}

/** A resolved surgery. */
export interface AdapterPlan {
  /** Name of the public function, for messages. */
  caller: string;
  /** Layer path → adapter to put there (each path a built `Dense` of the model). */
  adapters: Map<string, AdapterSpec>;
  /** Paths of layers left fully trainable. */
  modulesToSave: Set<string>;
  bias: BiasMode;
}

/**
 * Validates `spec` against the Dense at `path` by building a throw-away adapter of the same
 * input size (errors name the layer), and returns the adapter options in serialized form as
 * the layer itself reports them (defaults filled in, block sizes as adjusted).
 */
export function resolveAdapterOptions(path: string, dense: LayersModel['layers'][number], spec: AdapterSpec,
  caller: string): Record<string, unknown> {
  const cls = adapterClassNamed(spec.className);
  if (cls == null) {
    throw new Error(`${caller}: unknown adapter class '${spec.className}' for layer '${path}'; ` +
      `known: ${adapterClasses().map((c) => c.className).join(', ')}.`);
  }
  const kernel = weightsByName(dense).get('kernel');
  if (kernel == null || (kernel.shape.length !== 2 && kernel.shape.length !== 4)) {
    throw new Error(`${caller}: layer '${path}' has no Dense or Conv2D kernel (is the model built?).`);
  }
  // The input shape the kernel implies: [batch, d] for a Dense kernel [d, n], [batch, h, w, cin] for a
  // Conv2D kernel [kh, kw, cin, n].
  const rank = kernel.shape.length;
  const inputShape = [...new Array<null>(rank - 1).fill(null), kernel.shape[rank - 2] as number];
  const base = dense.getConfig() as Record<string, unknown>;
  const probe = new cls({ ...base, ...spec.options, kernelInitializer: 'zeros', biasInitializer: 'zeros' } as never);
  try {
    probe.build(inputShape);
    return probe.adapterOptions();
  } finally {
    for (const w of probe.weights) w.dispose();
  }
}

/**
 * Builds the adapted model described by `plan` from `model` (unchanged): adapters in place of
 * the named Dense layers (kernel and bias copied, adapter at its initial value), every other
 * weight copied, and trainability set per docs/math.md §6.
 */
export function adaptModel(model: LayersModel, plan: AdapterPlan): LayersModel {
  const leaves = leafLayers(model);
  const byPath = new Map(leaves.map((e) => [e.path, e.layer]));
  const resolved = new Map<string, AdapterSpec>();
  for (const [path, spec] of plan.adapters) {
    const layer = byPath.get(path);
    if (layer == null) throw new Error(`${plan.caller}: the model has no layer '${path}'.`);
    resolved.set(path, { className: spec.className, options: resolveAdapterOptions(path, layer, spec, plan.caller) });
  }
  const baseTrainable = new Map(leaves.map((e) => [e.path, e.layer.trainable]));
  const hasBias = (path: string) => {
    const layer = byPath.get(path);
    return layer != null && weightsByName(layer).has('bias');
  };
  const hasWeights = (path: string) => (byPath.get(path)?.weights.length ?? 0) > 0;

  const adapted = rebuildModel(model, (path, entry) => {
    const spec = resolved.get(path);
    if (spec != null) {
      entry.className = spec.className;
      entry.config = { ...entry.config, ...spec.options, trainable: true };
    } else if (plan.modulesToSave.has(path)) {
      entry.config.trainable = true;
    } else if (byPath.has(path) && hasWeights(path)) {
      entry.config.trainable = plan.bias === 'all' && hasBias(path);
    }
  });

  // Weight-level flags (not part of the tfjs config): layer setters cascade to the weights.
  for (const { path, layer } of leafLayers(adapted)) {
    if (resolved.has(path) || plan.modulesToSave.has(path)) {
      layer.trainable = true;
    } else if (layer.weights.length > 0) {
      const trainBias = plan.bias === 'all' && hasBias(path);
      layer.trainable = trainBias;
      if (trainBias) {
        for (const [name, w] of weightsByName(layer)) if (name !== 'bias') w.trainable = false;
      }
    }
  }
  inferenceModeForFrozenBatchNorm(adapted);
  setSurgeryRecord(adapted, {
    adapters: [...resolved.keys()], modulesToSave: [...plan.modulesToSave], bias: plan.bias, baseTrainable,
  });
  return adapted;
}
