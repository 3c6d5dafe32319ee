// Adapter-only checkpoints: what training changed (adapter parameters, trained biases, modules
// to save) plus the surgery that produced it, through any tfjs IOHandler. The topology is a
// small JSON description, the weight data holds only those tensors, each with a checksum.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { adaptableClassNames, adapterClasses, baseClassNameOf, methodOfLayer } from '../methods/adapter-methods';
import { fileSystem } from '../io/file-system';
import { isNode } from '../io/node-builtins';
import { adaptModel, AdapterSpec } from './adapt-model';
import { findAdapterEntries } from './find-adapters';
import { leafLayers, weightsByName } from './layer-paths';
import { disposeVariablesSince } from './rebuild';
import { BiasMode, getSurgeryRecord } from './surgery-record';

/** `format` field of an adapter checkpoint's artifacts. */
export const ADAPTER_FORMAT = 'tfjs-oft-adapter';
/** Version written. Version 2 adds `configFnv1a`; version 1 files (tfjs-oft 0.1.0) still load. */
const VERSION = 2;
const READABLE_VERSIONS = [1, 2];

/** One adapted layer in a checkpoint. */
export interface AdapterCheckpointLayer {
  path: string;
  className: string;
  /** Input dimension `d` and units `n` of the Dense it was made for. */
  inputDim: number;
  units: number;
  /**
   * Shape of the base kernel it was made for (`[d, n]`, or `[kh, kw, cin, n]` for a Conv2D, where `d` alone
   * does not fix the patch layout). Absent in older checkpoints, which are checked on d and n only.
   */
  kernelShape?: number[];
  /** Adapter options (serialized layer config keys that a plain Dense does not have). */
  options: Record<string, unknown>;
}

/** One stored tensor: checkpoint weight name, layer path, weight name in the layer, checksum. */
export interface AdapterCheckpointWeight {
  name: string;
  layer: string;
  weight: string;
  /** FNV-1a (32-bit) of the tensor's bytes. */
  fnv1a: number;
}

/** The `modelTopology` of an adapter checkpoint. */
export interface AdapterCheckpointTopology {
  tfjsOftAdapter: number;
  baseModel: string;
  bias: BiasMode;
  modulesToSave: string[];
  adapters: AdapterCheckpointLayer[];
  weights: AdapterCheckpointWeight[];
  /** FNV-1a (32-bit) of the canonical JSON of every other field (so a changed option is detected). */
  configFnv1a?: number;
}

type Handler = tf.io.IOHandler;

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** JSON with object keys sorted, so that the checksum does not depend on key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value != null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const entries = Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The checksum of a topology's configuration: every field but the checksum itself. */
function configChecksum(topology: AdapterCheckpointTopology): number {
  const { configFnv1a: _, ...rest } = topology;
  return fnv1a(new TextEncoder().encode(canonicalJson(rest)));
}

function resolveHandler(caller: string, target: string | Handler, save: boolean): Handler {
  if (typeof target !== 'string') return target;
  // file:// is always ours in Node: tfjs-node's handler, which tfjs asks instead of ours when it is
  // loaded, refuses the directory URLs that saveAdapter writes and loadAdapter documents.
  if (target.startsWith('file://') && isNode()) return fileSystem(target);
  const handlers = save ? tf.io.getSaveHandlers(target) : tf.io.getLoadHandlers(target);
  if (handlers.length === 0) {
    throw new Error(
      `${caller}: no tfjs IOHandler for '${target}'. Use file:// (Node, registered by importing tfjs-oft), ` +
        `indexeddb://, localstorage://, downloads:// (browser), or pass an IOHandler.`,
    );
  }
  return handlers[0];
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * Saves only what training changes in an adapted model: every adapter parameter (`oft_r`,
 * `boft_r`, `boft_s`), trainable biases, all weights of `modulesToSave` layers and any other
 * trainable weight, plus the adapter configuration — through a tfjs IOHandler or URL
 * (`file://dir` in Node, `indexeddb://name`, `localstorage://name`, `downloads://name`). The
 * weight data is exactly those tensors (4 bytes per float), so the files are about the size
 * of the trainable parameters. Reload with `loadAdapter(base, url)`.
 */
export async function saveAdapter(model: LayersModel, urlOrIOHandler: string | Handler): Promise<tf.io.SaveResult> {
  const caller = 'saveAdapter';
  const handler = resolveHandler(caller, urlOrIOHandler, true);
  if (handler.save == null) throw new Error(`${caller}: the IOHandler for '${String(urlOrIOHandler)}' cannot save.`);
  const adapters = findAdapterEntries(model);
  if (adapters.length === 0) {
    throw new Error(`${caller}: model '${model.name}' has no adapter layers; apply one first (applyOft / applyBoft).`);
  }
  const adapterPaths = new Set(adapters.map((a) => a.path));
  const trainable = new Set(model.trainableWeights.map((w) => w.id));
  const record = getSurgeryRecord(model);
  const leaves = leafLayers(model).filter((e) => !adapterPaths.has(e.path));
  const saved = new Set<string>(record?.modulesToSave ?? leaves.filter((e) =>
    [...weightsByName(e.layer)].some(([n, w]) => n !== 'bias' && trainable.has(w.id))).map((e) => e.path));
  const bias: BiasMode = record?.bias ?? (leaves.some((e) => !saved.has(e.path) &&
    [...weightsByName(e.layer)].some(([n, w]) => n === 'bias' && trainable.has(w.id))) ? 'all' : 'none');

  const tensors: Array<{ name: string; tensor: tf.Tensor }> = [];
  const weights: AdapterCheckpointWeight[] = [];
  const add = (path: string, name: string, tensor: tf.Tensor) => {
    const id = `${path}/${name}`;
    tensors.push({ name: id, tensor });
    weights.push({ name: id, layer: path, weight: name, fnv1a: 0 });
  };
  const topologyAdapters: AdapterCheckpointLayer[] = [];
  for (const { path, layer } of adapters) {
    topologyAdapters.push({ path, className: layer.getClassName(), inputDim: layer.inputDim, units: layer.units,
      kernelShape: layer.baseKernel.shape as number[], options: layer.adapterOptions() });
    for (const [name, w] of weightsByName(layer)) {
      if (name === 'kernel' || (name === 'bias' && !trainable.has(w.id))) continue;
      add(path, name, w.read());
    }
  }
  for (const { path, layer } of leaves) {
    for (const [name, w] of weightsByName(layer)) {
      if (saved.has(path) || trainable.has(w.id)) add(path, name, w.read());
    }
  }
  const { data, specs } = await tf.io.encodeWeights(tensors);
  let offset = 0;
  const bytes = new Uint8Array(data as ArrayBuffer);
  specs.forEach((spec, i) => {
    const n = sizeOf(spec.shape) * BYTES[spec.dtype];
    weights[i].fnv1a = fnv1a(bytes.subarray(offset, offset + n));
    offset += n;
  });
  const topology: AdapterCheckpointTopology = {
    tfjsOftAdapter: VERSION,
    baseModel: model.name,
    bias,
    modulesToSave: [...saved],
    adapters: topologyAdapters,
    weights,
  };
  topology.configFnv1a = configChecksum(topology);
  return handler.save({
    modelTopology: topology as unknown as tf.io.ModelArtifacts['modelTopology'],
    format: ADAPTER_FORMAT,
    generatedBy: 'tfjs-oft',
    weightSpecs: specs,
    weightData: data,
  });
}

function checkTopology(where: string, artifacts: tf.io.ModelArtifacts): AdapterCheckpointTopology {
  const t = artifacts.modelTopology as unknown as AdapterCheckpointTopology | undefined;
  if (artifacts.format !== ADAPTER_FORMAT || t == null || typeof t !== 'object' || t.tfjsOftAdapter == null) {
    throw new Error(
      `loadAdapter: ${where} is not a tfjs-oft adapter checkpoint (format: ${String(artifacts.format)}). ` +
        `Full models load with tf.loadLayersModel; adapters are written by saveAdapter.`,
    );
  }
  if (!READABLE_VERSIONS.includes(t.tfjsOftAdapter)) {
    throw new Error(`loadAdapter: ${where} has checkpoint version ${JSON.stringify(t.tfjsOftAdapter)}; ` +
      'this tfjs-oft reads ' +
      `versions ${READABLE_VERSIONS.join(' and ')}. Save it again with the tfjs-oft that loads it.`);
  }
  if (t.tfjsOftAdapter >= 2 && (t.configFnv1a !== configChecksum(t))) {
    throw new Error(`loadAdapter: ${where} is corrupt: its configuration (adapters, options, weight list, bias, ` +
      'modulesToSave) does not match its checksum; it was changed after saveAdapter wrote it. Save the adapter again.');
  }
  if (!Array.isArray(t.adapters) || !Array.isArray(t.weights) || !Array.isArray(t.modulesToSave)) {
    throw new Error(
      `loadAdapter: ${where} is corrupt: its topology lacks the adapters / weights / modulesToSave lists.`,
    );
  }
  const bad = t.adapters.find((a) => a == null || typeof a.path !== 'string' || typeof a.className !== 'string' ||
    !Number.isInteger(a.inputDim) || !Number.isInteger(a.units) || a.options == null || typeof a.options !== 'object' ||
    (a.kernelShape !== undefined && !(Array.isArray(a.kernelShape) &&
      a.kernelShape.every((v) => Number.isInteger(v) && v > 0))));
  if (bad !== undefined) {
    throw new Error(`loadAdapter: ${where} is corrupt: adapter entry ${JSON.stringify(bad)} lacks path / className / ` +
      'inputDim / units / options, or has a kernelShape that is not a list of positive integers.');
  }
  if (
    t.weights.some(
      (w) => w == null || typeof w.name !== 'string' || typeof w.layer !== 'string' || typeof w.weight !== 'string',
    )
  ) {
    throw new Error(`loadAdapter: ${where} is corrupt: a weight entry lacks name / layer / weight.`);
  }
  return t;
}

/**
 * Reads an adapter checkpoint written by `saveAdapter` and returns a new model: `base` with
 * the checkpoint's adapters applied (same classes and options), its weights loaded, and the
 * same trainable set as the saved model. `base` is not changed. A checkpoint that does not fit
 * (a layer the base lacks, a different shape, a corrupt or truncated file) throws an error
 * naming the layer and the shapes, and leaves `base` unchanged.
 */
export async function loadAdapter(base: LayersModel, urlOrIOHandler: string | Handler): Promise<LayersModel> {
  const caller = 'loadAdapter';
  const where = typeof urlOrIOHandler === 'string' ? `'${urlOrIOHandler}'` : 'the checkpoint';
  const handler = resolveHandler(caller, urlOrIOHandler, false);
  if (handler.load == null) throw new Error(`${caller}: the IOHandler for ${where} cannot load.`);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await handler.load();
  } catch (err) {
    throw new Error(`${caller}: could not read ${where}: ${(err as Error).message}`);
  }
  const topology = checkTopology(where, artifacts);
  const specs = artifacts.weightSpecs ?? [];
  const data =
    artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  checkWeightData(where, topology, specs, data);
  checkAgainstBase(base, topology);

  const adapters = new Map<string, AdapterSpec>(
    topology.adapters.map((a) => [a.path, { className: a.className, options: a.options }]),
  );
  const before = new Set(Object.keys(tf.engine().registeredVariables));
  let decoded: tf.NamedTensorMap = {};
  try {
    const model = adaptModel(base, {
      caller,
      adapters,
      modulesToSave: new Set(topology.modulesToSave),
      bias: topology.bias,
    });
    const layers = new Map(leafLayers(model).map((e) => [e.path, e.layer]));
    decoded = tf.io.decodeWeights(data, specs);
    for (const w of topology.weights) {
      const layer = layers.get(w.layer);
      const target = layer == null ? undefined : weightsByName(layer).get(w.weight);
      if (layer == null || target == null) {
        throw new Error(
          `${caller}: ${where} holds weight '${w.weight}' of layer '${w.layer}', which the adapted base model lacks` +
            `${layer == null ? '' : ` (its weights: ${[...weightsByName(layer).keys()].join(', ')})`}.`,
        );
      }
      const value = decoded[w.name];
      if (value.shape.length !== target.shape.length || value.shape.some((s, i) => s !== target.shape[i])) {
        throw new Error(
          `${caller}: layer '${w.layer}' weight '${w.weight}': the checkpoint holds shape [${value.shape}], ` +
            `the model expects [${target.shape}]. The checkpoint was made for a different base model or other ` +
            'adapter options.',
        );
      }
      (target.read() as tf.Variable).assign(value);
    }
    return model;
  } catch (err) {
    disposeVariablesSince(before);
    throw err;
  } finally {
    for (const t of Object.values(decoded)) t.dispose();
  }
}

function checkWeightData(where: string, topology: AdapterCheckpointTopology, specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer): void {
  const names = new Map(topology.weights.map((w) => [w.name, w]));
  if (specs.length !== topology.weights.length || specs.some((s) => !names.has(s.name))) {
    throw new Error(
      `loadAdapter: ${where} is corrupt: its weight manifest (${specs.map((s) => s.name).join(', ')}) does not ` +
        `match its weight list (${topology.weights.map((w) => w.name).join(', ')}).`,
    );
  }
  const bytes = new Uint8Array(data);
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization != null || BYTES[spec.dtype] == null) {
      throw new Error(
        `loadAdapter: ${where}: weight '${spec.name}' is ${spec.quantization != null ? 'quantized' : spec.dtype}; ` +
          'adapter checkpoints hold plain float32 / int32 tensors.',
      );
    }
    const n = sizeOf(spec.shape) * BYTES[spec.dtype];
    if (offset + n > bytes.length) {
      throw new Error(`loadAdapter: ${where} is truncated: weight '${spec.name}' (shape [${spec.shape}]) needs bytes ` +
        `${offset}–${offset + n} but the weight data holds ${bytes.length} bytes.`);
    }
    const sum = fnv1a(bytes.subarray(offset, offset + n));
    if (sum !== names.get(spec.name)!.fnv1a) {
      throw new Error(
        `loadAdapter: ${where} is corrupt: the bytes of weight '${spec.name}' (shape [${spec.shape}]) do not ` +
          `match their checksum.`,
      );
    }
    offset += n;
  }
  if (offset !== bytes.length) {
    throw new Error(
      `loadAdapter: ${where} is corrupt: the weight data holds ${bytes.length} bytes, its manifest describes ` +
        `${offset}.`,
    );
  }
}

function checkAgainstBase(base: LayersModel, topology: AdapterCheckpointTopology): void {
  const leaves = leafLayers(base);
  const byPath = new Map(leaves.map((e) => [e.path, e.layer]));
  const adaptable = adaptableClassNames();
  const adaptableList = () =>
    leaves.filter((e) => adaptable.includes(e.layer.getClassName())).map((e) => e.path).join(', ') || 'none';
  for (const a of topology.adapters) {
    const layer = byPath.get(a.path);
    if (layer == null) {
      throw new Error(
        `loadAdapter: the checkpoint adapts layer '${a.path}', but base model '${base.name}' has no such ` +
          `layer. Its ${adaptable.join(' or ')} layers: ${adaptableList()}.`,
      );
    }
    const cls = layer.getClassName();
    const want = baseClassNameOf(a.className);
    if (want == null) {
      throw new Error(`loadAdapter: unknown adapter class '${a.className}' for layer '${a.path}'; known: ` +
        `${adapterClasses().map((c) => c.className).join(', ')}.`);
    }
    if (cls !== want) {
      const fix = methodOfLayer(layer) != null
        ? ' Load adapters into the base model (before applyOft/applyBoft), or merge first.' : '';
      throw new Error(`loadAdapter: the checkpoint adapts layer '${a.path}', which is a ${cls} in base model ` +
        `'${base.name}', not a ${want}.${fix}`);
    }
    const kernel = weightsByName(layer).get('kernel');
    // The rotated dimension d: a Dense kernel is [d, n], a Conv2D kernel [kh, kw, cin, n] with d = kh·kw·cin.
    const shape = (kernel?.shape ?? []) as number[];
    const n = shape[shape.length - 1];
    const d = shape.slice(0, -1).reduce((acc, v) => acc * v, 1);
    if (shape.length < 2 || d !== a.inputDim || n !== a.units) {
      throw new Error(
        `loadAdapter: layer '${a.path}': the checkpoint was made for a ${want} rotating ${a.inputDim} inputs into ` +
          `${a.units} outputs, the base has kernel [${kernel?.shape}].`,
      );
    }
    // Same d, other kernel geometry (a 3×3 conv over 4 channels and a 1×1 over 36): the blocks would rotate
    // other patch entries than they were trained on.
    if (a.kernelShape !== undefined && a.kernelShape.join() !== shape.join()) {
      throw new Error(
        `loadAdapter: layer '${a.path}': the checkpoint was made for a ${want} kernel [${a.kernelShape}], the base ` +
          `has kernel [${shape}] (the same d = ${d}, another layout). Load it into the base model it was trained on.`,
      );
    }
  }
  const adapted = new Set(topology.adapters.map((a) => a.path));
  for (const p of topology.modulesToSave) {
    if (!byPath.has(p))
      throw new Error(
        `loadAdapter: the checkpoint's modulesToSave names layer '${p}', which base model '${base.name}' lacks.`,
      );
  }
  for (const w of topology.weights) {
    if (adapted.has(w.layer)) continue;
    const layer = byPath.get(w.layer);
    if (layer == null)
      throw new Error(
        `loadAdapter: the checkpoint holds weight '${w.weight}' of layer '${w.layer}', which base model ` +
          `'${base.name}' lacks.`,
      );
    const target = weightsByName(layer).get(w.weight);
    if (target == null) {
      throw new Error(`loadAdapter: layer '${w.layer}' of base model '${base.name}' has no weight '${w.weight}' ` +
        `(its weights: ${[...weightsByName(layer).keys()].join(', ')}).`);
    }
  }
}
