// Adapters that cross between Hugging Face PEFT (PyTorch) and tfjs-oft: read and write PEFT's
// `adapter_config.json` + `adapter_model.safetensors` for OFT and BOFT.
import * as tf from '@tensorflow/tfjs-core';
import { LayersModel, layers, LayerVariable } from '@tensorflow/tfjs-layers';
import {
  boftOptionsFromPeft, boftParamsFromPeft, boftParamsToPeft, neumannTermsToPeft, oftOptionsFromPeft, oftParamsFromPeft,
  kernelToTorchConvWeight, oftParamsToPeft, PEFT_VERSION_VERIFIED, PeftAdapterConfig, torchConvWeightToKernel,
  transpose2d,
} from './peft-conventions';
import { readSafetensors, SafetensorsInput, SafetensorsTensor, writeSafetensors } from './safetensors';
import { readFileIn, writeFiles } from './node-files';
import { applyBoft, applyOft } from '../surgery/apply-adapters';
import { getSurgeryRecord } from '../surgery/surgery-record';
import { walkLayers, weightsByName } from '../surgery/layer-paths';
import { findAdapterLayers } from '../surgery/find-adapters';
import { warnOnce } from '../helpers';
import type { AdapterDense } from '../layers/adapter-dense';
import { ButterflyDense } from '../layers/butterfly-dense';
import { OrthogonalDense } from '../layers/orthogonal-dense';
import {
  adaptableClassNames,
  baseClassNameOf,
  ADAPTER_METHODS,
  AdapterMethod,
  BOFT,
  methodOfLayer,
  OFT,
} from '../methods/adapter-methods';
import { blockSizeFromPacked, packedSize } from '../ops/skew';

/**
 * Correspondence between PyTorch module names (as in PEFT's files, e.g. `encoder.layer.0.attention.query`)
 * and tfjs layer names. A table is always `{ [torchModule]: tfjsLayer }`. A function maps in the
 * direction of the call: torch → tfjs in `importPeftAdapter`, tfjs → torch in `exportPeftAdapter`.
 * Default: the names are equal.
 */
export type PeftNameMap = Record<string, string> | ((name: string) => string | null | undefined);

/** PEFT adapter files in memory (browser-friendly). `config` may be the JSON text, its bytes or the parsed object. */
export interface PeftAdapterFiles {
  config: string | PeftAdapterConfig | ArrayBuffer | ArrayBufferView;
  weights: ArrayBuffer | ArrayBufferView;
}

/** Options of `importPeftAdapter`. */
export interface ImportPeftAdapterOptions {
  /** torch module name → tfjs layer name (table or function; default identity). */
  nameMap?: PeftNameMap;
}

/** Options of `exportPeftAdapter` / `exportPeftAdapterFiles`. */
export interface ExportPeftAdapterOptions {
  /** `{torchModule: tfjsLayer}` table, or a function tfjs layer name → torch module name (default identity). */
  nameMap?: PeftNameMap;
  /**
   * PEFT `bias` mode. Default: the one `applyOft` / `applyBoft` / `importPeftAdapter` used for
   * this model; otherwise `'oft_only'` / `'boft_only'` when some adapter layer's bias is
   * trainable, else `'none'`. `'all'` also writes the bias of every other Dense layer.
   */
  bias?: 'none' | 'all' | 'oft_only' | 'boft_only';
  /**
   * tfjs names of Dense layers written whole (PEFT `modules_to_save`, e.g. a new classifier
   * head). Default: the `modulesToSave` of the surgery that made this model, else none.
   */
  modulesToSave?: string[];
  /** `base_model_name_or_path` of the config (e.g. the Hub id of the torch base model). */
  baseModelNameOrPath?: string | null;
}

/** What `exportPeftAdapterFiles` produces. */
export interface PeftAdapterExport {
  config: PeftAdapterConfig;
  /** `adapter_config.json` text. */
  configJson: string;
  /** `adapter_model.safetensors` bytes. */
  weights: Uint8Array;
}

/** The adapter tensors of one torch module, as PEFT stores them. */
export interface PeftModuleTensors {
  oftR?: SafetensorsTensor;
  boftR?: SafetensorsTensor;
  boftS?: SafetensorsTensor;
  /** Bias of an adapted module (`bias` = 'oft_only' / 'boft_only' / 'all'). */
  bias?: SafetensorsTensor;
}

/** A PEFT adapter, parsed. */
export interface ParsedPeftAdapter {
  config: PeftAdapterConfig;
  method: 'oft' | 'boft';
  /** Adapted modules by torch module name. */
  adapted: Map<string, PeftModuleTensors>;
  /** Weights of other modules (`modules_to_save`, biases with `bias: 'all'`) by torch module name. */
  plain: Map<string, { weight?: SafetensorsTensor; bias?: SafetensorsTensor }>;
}

const PREFIX = 'base_model.model.';
const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

function decodeConfig(config: PeftAdapterFiles['config']): PeftAdapterConfig {
  let parsed: unknown = config;
  if (typeof config === 'string' || config instanceof ArrayBuffer || ArrayBuffer.isView(config)) {
    const text = typeof config === 'string' ? config : new TextDecoder().decode(config as ArrayBuffer);
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`PEFT adapter: adapter_config.json is not valid JSON (${(e as Error).message}).`);
    }
  }
  if (parsed == null || typeof parsed !== 'object' || typeof (parsed as PeftAdapterConfig).peft_type !== 'string') {
    throw new Error('PEFT adapter: adapter_config.json has no peft_type; is this a PEFT adapter directory?');
  }
  return parsed as PeftAdapterConfig;
}

/** Splits PEFT's state-dict keys into adapted modules and plain module weights. */
export function parsePeftAdapter(
  configSource: PeftAdapterFiles['config'],
  weights: ArrayBuffer | ArrayBufferView,
): ParsedPeftAdapter {
  const config = decodeConfig(configSource);
  const type = config.peft_type.toUpperCase();
  const known = ADAPTER_METHODS.find((m) => m.peft.type === type);
  if (known == null) {
    throw new Error(
      `PEFT adapter: peft_type '${config.peft_type}' is not supported; tfjs-oft reads ` +
        `${ADAPTER_METHODS.map((m) => m.peft.type).join(' and ')} adapters.`,
    );
  }
  const method = known.id;
  const file = readSafetensors(weights);
  const adapted = new Map<string, PeftModuleTensors>();
  const plain = new Map<string, { weight?: SafetensorsTensor; bias?: SafetensorsTensor }>();
  const entry = <T extends object>(m: Map<string, T>, k: string): T => {
    if (!m.has(k)) m.set(k, {} as T);
    return m.get(k)!;
  };
  const suffixes: Array<[string, keyof PeftModuleTensors]> = [
    ['.oft_R.weight', 'oftR'],
    ['.boft_R', 'boftR'],
    ['.boft_s', 'boftS'],
    ['.base_layer.bias', 'bias'],
  ];
  for (const [key, tensor] of file.tensors) {
    if (!FLOAT_DTYPES.includes(tensor.dtype)) {
      throw new Error(`PEFT adapter: tensor '${key}' is ${tensor.dtype}; adapter tensors are floating point ` +
        `(${FLOAT_DTYPES.join(', ')}). The file is not an OFT/BOFT adapter or is corrupt.`);
    }
    if (!key.startsWith(PREFIX)) {
      throw new Error(`PEFT adapter: unexpected tensor '${key}' (keys start with '${PREFIX}').`);
    }
    const rest = key.slice(PREFIX.length);
    if (rest.includes('.original_module.') || rest.includes('.modules_to_save.')) continue; // copies PEFT also writes
    if (rest.includes('oft_embedding_R'))
      throw new Error(`PEFT adapter: '${key}' adapts an Embedding; only Linear and Conv2d modules are supported.`);
    const hit = suffixes.find(([s]) => rest.endsWith(s));
    if (hit) {
      entry(adapted, rest.slice(0, -hit[0].length))[hit[1]] = tensor;
    } else if (rest.endsWith('.weight') || rest.endsWith('.bias')) {
      const field = rest.endsWith('.weight') ? 'weight' : 'bias';
      entry(plain, rest.slice(0, rest.lastIndexOf('.')))[field] = tensor;
    } else {
      throw new Error(
        `PEFT adapter: tensor '${key}' is neither an ${method.toUpperCase()} parameter nor a module weight/bias.`,
      );
    }
  }
  for (const [name, t] of adapted) {
    const ok = method === 'oft' ? t.oftR != null : t.boftR != null && t.boftS != null;
    if (!ok) {
      throw new Error(
        `PEFT adapter: module '${name}' lacks its ${method === 'oft' ? 'oft_R.weight' : 'boft_R/boft_s'} ` +
          `tensor(s) (peft_type ${config.peft_type}).`,
      );
    }
  }
  if (adapted.size === 0) throw new Error('PEFT adapter: adapter_model.safetensors holds no adapted module.');
  return { config, method, adapted, plain };
}

/** Reads `dir/adapter_config.json` and `dir/adapter_model.safetensors` (Node), or takes the files in memory. */
export async function loadPeftAdapterFiles(source: string | PeftAdapterFiles): Promise<ParsedPeftAdapter> {
  if (typeof source === 'string') {
    // One after the other, so that a wrong directory is always reported on adapter_config.json
    // (in parallel, whichever read failed first would name its file).
    const config = await readFileIn(source, 'adapter_config.json');
    const weights = await readFileIn(source, 'adapter_model.safetensors', { safetensors: true });
    return parsePeftAdapter(config, weights);
  }
  return parsePeftAdapter(source.config, source.weights);
}

/** Resolves a torch module name to a tfjs layer name (import direction). */
export function torchToTfjs(nameMap: PeftNameMap | undefined, torchName: string): string {
  if (nameMap == null) return torchName;
  const out = typeof nameMap === 'function' ? nameMap(torchName) : nameMap[torchName];
  if (out == null) {
    throw new Error(`PEFT adapter: nameMap has no tfjs layer for torch module '${torchName}'. ` +
      `Add it to the table, or return a layer name for it from the function.`);
  }
  return out;
}

/** Resolves a tfjs layer name to a torch module name (export direction). */
export function tfjsToTorch(nameMap: PeftNameMap | undefined, tfjsName: string): string {
  if (nameMap == null) return tfjsName;
  if (typeof nameMap === 'function') {
    const out = nameMap(tfjsName);
    if (out == null)
      throw new Error(`PEFT export: nameMap returned no torch module name for tfjs layer '${tfjsName}'.`);
    return out;
  }
  const hits = Object.entries(nameMap).filter(([, v]) => v === tfjsName).map(([k]) => k);
  if (hits.length !== 1) {
    throw new Error(
      `PEFT export: nameMap ${hits.length === 0 ? 'has no' : 'has several'} torch module(s) for tfjs layer ` +
        `'${tfjsName}'${hits.length ? ` (${hits.join(', ')})` : ''}; give exactly one {torchModule: '${tfjsName}'} ` +
          `entry.`,
    );
  }
  return hits[0];
}

/** Every layer of a model, nested models included (depth first), each once. */
export function allLayers(model: LayersModel): layers.Layer[] {
  return [...new Set(walkLayers(model).map((e) => e.layer))];
}

/** The layer named `name` anywhere in `model` (nested models included); throws if absent or ambiguous. */
export function findLayer(model: LayersModel, name: string, what = 'PEFT adapter'): layers.Layer {
  const unique = allLayers(model).filter((l) => l.name === name);
  if (unique.length === 0) {
    const names = allLayers(model).map((l) => l.name);
    throw new Error(`${what}: the model has no layer named '${name}' (layers: ${names.slice(0, 20).join(', ')}` +
      `${names.length > 20 ? ', …' : ''}). Map torch module names to tfjs layer names with nameMap.`);
  }
  if (unique.length > 1) throw new Error(`${what}: several layers are named '${name}'.`);
  return unique[0];
}

function weightOf(layer: layers.Layer, short: string): LayerVariable | undefined {
  return weightsByName(layer).get(short);
}

function writeWeight(layer: layers.Layer, short: string, values: Float32Array, shape: number[], source: string): void {
  const w = weightOf(layer, short);
  if (w == null)
    throw new Error(
      `PEFT adapter: layer '${layer.name}' (${layer.getClassName()}) has no '${short}' weight for ${source}.`,
    );
  const want = w.shape as number[];
  if (want.length !== shape.length || want.some((s, i) => s !== shape[i])) {
    throw new Error(
      `PEFT adapter: ${source} has shape [${shape}] but layer '${layer.name}' expects ${short} of shape ` +
        `[${want}]. The PEFT adapter was trained for a different layer size or block configuration.`,
    );
  }
  const t = tf.tensor(values, shape, 'float32');
  w.write(t);
  t.dispose();
}

/** Writes a PEFT tensor `[n]`, `[n, 1]` or `[1, n]` (BOFT's `boft_s` for Linear / Conv2d) into a 1-D weight. */
function writeVector(layer: layers.Layer, short: string, t: SafetensorsTensor, source: string): void {
  if (t.shape.length > 2 || t.shape.filter((s) => s !== 1).length > 1) {
    throw new Error(`PEFT adapter: ${source} has shape [${t.shape}]; layer '${layer.name}' takes a vector for ` +
      `${short} ([n], [n, 1] or [1, n]). The file is not a PEFT OFT/BOFT adapter or is corrupt.`);
  }
  writeWeight(layer, short, Float32Array.from(t.data as Float32Array), [t.data.length], source);
}

/** The kernel `[kh, kw, cin, filters]` of a Conv2D or Conv2D adapter layer, or null for any other layer. */
function convKernelShape(layer: layers.Layer): number[] | null {
  const cls = layer.getClassName();
  if (cls !== 'Conv2D' && baseClassNameOf(cls) !== 'Conv2D') return null;
  return (weightOf(layer, 'kernel')?.shape as number[] | undefined) ?? null;
}

/**
 * PEFT builds its Conv2d adapters over `d = cin·kh²` (it reads `kernel_size[0]` twice), so an adapter for
 * a kh × kw kernel with kh ≠ kw cannot come from, nor go to, PEFT.
 */
function checkSquareKernel(layer: layers.Layer, what: string): void {
  const shape = convKernelShape(layer);
  if (shape != null && shape[0] !== shape[1]) {
    throw new Error(`${what}: ${layer.getClassName()} '${layer.name}' has a ${shape[0]}×${shape[1]} kernel; ` +
      `PEFT 0.21.2's Conv2d adapters assume square kernels (they rotate d = cin·kh² = ${shape[2] * shape[0] ** 2}, ` +
      `not cin·kh·kw = ${shape[2] * shape[0] * shape[1]}), so no PEFT adapter fits this layer. Keep it out of the ` +
      'PEFT adapter (targetModules / nameMap), or use a square kernel.');
  }
}

/**
 * Writes one PEFT module's adapter tensors into an adapter layer (`OrthogonalDense` for OFT,
 * `ButterflyDense` for BOFT) whose options match the PEFT config, applying docs/math.md §7's conventions.
 */
export function setPeftModuleWeights(layer: layers.Layer, torchName: string, tensors: PeftModuleTensors,
                                     config: PeftAdapterConfig): void {
  const src = (k: string) => `PEFT tensor '${PREFIX}${torchName}.${k}'`;
  checkSquareKernel(layer, 'PEFT adapter');
  if (config.peft_type.toUpperCase() === OFT.peft.type) {
    if (!(layer instanceof OrthogonalDense)) {
      throw new Error(
        `PEFT adapter: layer '${layer.name}' for OFT module '${torchName}' is a ${layer.getClassName()}, ` +
          'not an OrthogonalDense.',
      );
    }
    const opts = oftOptionsFromPeft(config);
    const t = tensors.oftR!;
    const layerNeumann = layer.useCayleyNeumann;
    if (layerNeumann !== opts.useCayleyNeumann) {
      throw new Error(`PEFT adapter: layer '${layer.name}' has useCayleyNeumann=${layerNeumann} but the adapter was ` +
        `trained with use_cayley_neumann=${opts.useCayleyNeumann}.`);
    }
    const layerTerms = layer.numCayleyNeumannTerms;
    if (opts.useCayleyNeumann && layerTerms !== opts.numCayleyNeumannTerms) {
      throw new Error(
        `PEFT adapter: layer '${layer.name}' has numCayleyNeumannTerms=${layerTerms} but the adapter needs ` +
          `${opts.numCayleyNeumannTerms} (PEFT num_cayley_neumann_terms=${config.num_cayley_neumann_terms ?? 5}).`,
      );
    }
    const values = oftParamsFromPeft(t.data as Float32Array, opts.useCayleyNeumann);
    writeWeight(layer, 'oft_r', values, t.shape, src('oft_R.weight'));
  } else {
    if (!(layer instanceof ButterflyDense)) {
      throw new Error(
        `PEFT adapter: layer '${layer.name}' for BOFT module '${torchName}' is a ${layer.getClassName()}, ` +
          'not a ButterflyDense.',
      );
    }
    const r = tensors.boftR!;
    if (r.shape.length !== 4 || r.shape[2] !== r.shape[3]) {
      throw new Error(`PEFT adapter: ${src('boft_R')} has shape [${r.shape}], expected [m, N, b, b].`);
    }
    const [m, n, b] = r.shape;
    writeWeight(
      layer,
      'boft_r',
      boftParamsFromPeft(r.data as Float32Array, m, n, b),
      [m, n, packedSize(b)],
      src('boft_R'),
    );
    const s = tensors.boftS!;
    writeVector(layer, 'boft_s', s, src('boft_s'));
  }
  if (tensors.bias != null) writeVector(layer, 'bias', tensors.bias, src('base_layer.bias'));
}

/**
 * Writes a torch module's weight and/or bias into a tfjs layer: a Linear's `[n, d]` weight into a
 * Dense-like kernel `[d, n]` (the transpose), a Conv2d's `[out, cin, kh, kw]` into a Conv2D kernel
 * `[kh, kw, cin, out]`.
 */
export function setTorchModuleWeights(layer: layers.Layer, torchName: string,
                                 w: { weight?: SafetensorsTensor; bias?: SafetensorsTensor }): void {
  if (w.weight != null) {
    const shape = w.weight.shape;
    const source = `PEFT tensor '${PREFIX}${torchName}.weight'`;
    const data = w.weight.data as Float32Array;
    if (shape.length === 2) {
      const [n, d] = shape;
      writeWeight(layer, 'kernel', transpose2d(data, n, d), [d, n], `${source} (transposed)`);
    } else if (shape.length === 4) {
      const [out, cin, kh, kw] = shape;
      writeWeight(layer, 'kernel', torchConvWeightToKernel(data, shape), [kh, kw, cin, out],
        `${source} (as [kh, kw, cin, out])`);
    } else {
      throw new Error(`PEFT adapter: ${source} has shape [${shape}]; only Linear (2-D) and Conv2d (4-D) module ` +
        'weights map to tfjs Dense and Conv2D kernels.');
    }
  }
  if (w.bias != null) writeVector(layer, 'bias', w.bias, `PEFT tensor '${PREFIX}${torchName}.bias'`);
}

/**
 * BOFT options for a parsed adapter. PEFT without its CUDA extension (any CPU-only machine)
 * silently trains with one butterfly factor whatever `boft_n_butterfly_factor` says; the tensors
 * (`boft_R` is `[m, N, b, b]`) tell what PEFT really computed, so their `m` wins, with a warning.
 */
function boftOptionsForTensors(parsed: ParsedPeftAdapter): ReturnType<typeof boftOptionsFromPeft> {
  const opts = boftOptionsFromPeft(parsed.config);
  const ms = [...new Set([...parsed.adapted.values()].map((t) => t.boftR!.shape[0]))];
  if (ms.length > 1) {
    throw new Error(
      `PEFT adapter: the boft_R tensors have different numbers of butterfly factors (${ms.join(', ')}); ` +
        'a PEFT BOFT adapter has one.',
    );
  }
  if (ms[0] !== opts.boftNButterflyFactor) {
    warnOnce(
      `PEFT adapter: adapter_config.json says boft_n_butterfly_factor=${opts.boftNButterflyFactor} but boft_R holds ` +
        `${ms[0]} factor(s): PEFT trained it without its CUDA extension, which silently falls back to 1. Using ` +
        `boftNButterflyFactor=${ms[0]}, as PEFT computed.`,
    );
    return { ...opts, boftNButterflyFactor: ms[0] };
  }
  return opts;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Applies a PEFT OFT or BOFT adapter to a tfjs model whose `Dense` layers correspond to the
 * PyTorch model's `nn.Linear` modules (tfjs kernel = torch weightᵀ) and whose `Conv2D` layers
 * correspond to its `nn.Conv2d` modules (square kernels; tfjs kernel `[kh, kw, cin, out]` = torch
 * weight `[out, cin, kh, kw]` with its axes moved): reads `adapter_config.json`
 * and `adapter_model.safetensors` (a directory path in Node, or the files in memory anywhere),
 * swaps the adapted layers for `OrthogonalDense` / `ButterflyDense` (`OrthogonalConv2D` /
 * `ButterflyConv2D`) with `applyOft` /
 * `applyBoft` (PEFT's options, its bias mode and its `modules_to_save` carried over), and sets
 * the adapter parameters with docs/math.md §7's conventions, plus any biases and `modules_to_save`
 * weights the file holds. Returns the new model; `model` is not changed. The result computes
 * what PEFT computes (verified to 1e-5 relative against PEFT 0.21.2; for OFT on Conv2d, what its
 * merged model computes: its unmerged OFT Conv2d forward is wrong for kernels larger than 1×1).
 *
 * ```ts
 * const tuned = await importPeftAdapter(base, './my-peft-adapter', {
 *   nameMap: (torch) => torch.replace(/\./g, '_') });   // 'encoder.fc1' → 'encoder_fc1'
 * ```
 */
export async function importPeftAdapter(model: LayersModel, source: string | PeftAdapterFiles,
                                        options: ImportPeftAdapterOptions = {}): Promise<LayersModel> {
  const parsed = await loadPeftAdapterFiles(source);
  return applyPeftAdapter(model, parsed, options);
}

/** PEFT's test of a module name against `target_modules` / `exclude_modules`: a string is a regular
 * expression that must match the whole name; a list matches a name equal to an entry or ending in `.entry`. */
function peftModuleMatcher(config: PeftAdapterConfig,
                           key: 'target_modules' | 'exclude_modules'): ((name: string) => boolean) | null {
  const v = config[key];
  if (v == null) return null;
  if (typeof v === 'string') {
    if (v === 'all-linear') return () => true;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${v})$`);
    } catch (e) {
      throw new Error(`PEFT adapter: ${key} ${JSON.stringify(v)} is not a regular expression tfjs-oft can read ` +
        `(${(e as Error).message}).`);
    }
    return (name) => re.test(name);
  }
  if (!Array.isArray(v) || !v.every((t) => typeof t === 'string')) {
    throw new Error(`PEFT adapter: ${key} must be a list of module names or a regular expression string, ` +
      `got ${JSON.stringify(v)}.`);
  }
  return (name) => v.some((t) => name === t || name.endsWith(`.${t}`));
}

/**
 * Checks the modules the file adapts against `target_modules` (and `exclude_modules`) the way PEFT
 * does when it builds the adapter: a module outside the targets would not exist in PEFT's model,
 * which refuses such an adapter ("Target modules … not found in the base model").
 */
function checkTargetModules(parsed: ParsedPeftAdapter): void {
  const { config } = parsed;
  const targets = peftModuleMatcher(config, 'target_modules');
  const excluded = peftModuleMatcher(config, 'exclude_modules');
  const outside = [...parsed.adapted.keys()]
    .filter((m) => (targets != null && !targets(m)) || (excluded?.(m) ?? false));
  if (outside.length > 0) {
    const ex = config.exclude_modules;
    const exclude = ex == null ? '' : ` (exclude_modules ${JSON.stringify(ex)})`;
    throw new Error(`PEFT adapter: adapter_config.json's target_modules ${JSON.stringify(config.target_modules)}` +
      `${exclude} do not select module(s) ${outside.join(', ')}, whose tensors the file holds; PEFT refuses such ` +
      'an adapter. The config and the ' +
      'weights do not belong together: fix target_modules, or use the adapter_config.json saved with these weights.');
  }
  const saved = config.modules_to_save;
  if (saved != null && (!Array.isArray(saved) || !saved.every((t) => typeof t === 'string'))) {
    throw new Error(`PEFT adapter: modules_to_save must be a list of module names or null, ` +
      `got ${JSON.stringify(saved)}.`);
  }
  const bias = config.bias ?? 'none';
  const biasModes = ['none', 'all', parsed.method === 'oft' ? 'oft_only' : 'boft_only'];
  if (typeof bias !== 'string' || !biasModes.includes(bias)) {
    throw new Error(`PEFT adapter: bias must be one of ${biasModes.join(', ')}, got ${JSON.stringify(config.bias)}.`);
  }
}

/** `importPeftAdapter` on an already parsed adapter (synchronous). */
export function applyPeftAdapter(
  model: LayersModel,
  parsed: ParsedPeftAdapter,
  options: ImportPeftAdapterOptions = {},
): LayersModel {
  const { config, method } = parsed;
  checkTargetModules(parsed);
  const adaptable = adaptableClassNames(method === 'oft' ? OFT : BOFT);
  const targets = new Map<string, string>(); // tfjs name → torch name
  for (const torchName of parsed.adapted.keys()) {
    const tfjsName = torchToTfjs(options.nameMap, torchName);
    const layer = findLayer(model, tfjsName);
    if (!adaptable.includes(layer.getClassName())) {
      throw new Error(
        `PEFT adapter: torch module '${torchName}' maps to tfjs layer '${tfjsName}', a ` +
          `${layer.getClassName()}; OFT/BOFT adapters apply to ${adaptable.join(' or ')} layers (torch nn.Linear, ` +
          'nn.Conv2d).',
      );
    }
    checkSquareKernel(layer, `PEFT adapter (torch module '${torchName}')`);
    if (targets.has(tfjsName))
      throw new Error(
        `PEFT adapter: torch modules '${targets.get(tfjsName)}' and '${torchName}' both map to tfjs layer ` +
          `'${tfjsName}'.`,
      );
    targets.set(tfjsName, torchName);
  }
  const plain = new Map<string, string>();
  for (const torchName of parsed.plain.keys()) {
    const tfjsName = torchToTfjs(options.nameMap, torchName);
    findLayer(model, tfjsName);
    plain.set(tfjsName, torchName);
  }
  const saved = (config.modules_to_save ?? []).map((t) => torchToTfjs(options.nameMap, t));
  const targetModules = new RegExp(`^(?:${[...targets.keys()].map(escapeRegExp).join('|')})$`);
  const bias = (config.bias ?? 'none') as 'none' | 'all' | 'oft_only' | 'boft_only';
  const surgery = { targetModules, modulesToSave: saved.length ? saved : undefined };
  const adapted =
    method === 'oft'
      ? applyOft(model, { ...surgery, ...oftOptionsFromPeft(config), bias: bias as 'none' | 'all' | 'oft_only' })
      : applyBoft(model, { ...surgery, ...boftOptionsForTensors(parsed), bias: bias as 'none' | 'all' | 'boft_only' });
  try {
    for (const [tfjsName, torchName] of targets) {
      setPeftModuleWeights(findLayer(adapted, tfjsName), torchName, parsed.adapted.get(torchName)!, config);
    }
    for (const [tfjsName, torchName] of plain) {
      setTorchModuleWeights(findLayer(adapted, tfjsName), torchName, parsed.plain.get(torchName)!);
    }
  } catch (e) {
    adapted.dispose();
    throw e;
  }
  return adapted;
}

// ---------------------------------------------------------------------------------------------
// Export

/** One adapter layer of the model being exported, with its torch module name. */
interface ExportedLayer<L extends AdapterDense = AdapterDense> {
  layer: L;
  torchName: string;
}

/** The method-specific part of an export: config entries and tensors. */
interface MethodExport {
  config: PeftAdapterConfig;
  tensors: Record<string, SafetensorsInput>;
}

function readValues(v: LayerVariable): Float32Array {
  return (v.read() as tf.Tensor).dataSync() as Float32Array;
}

function uniform<T>(views: ExportedLayer[], what: string, get: (v: ExportedLayer) => T): T {
  const vals = views.map(get);
  const first = JSON.stringify(vals[0]);
  const odd = views.filter((_, i) => JSON.stringify(vals[i]) !== first);
  if (odd.length > 0) {
    const listed = views.map((v, i) => `${v.layer.name}: ${JSON.stringify(vals[i])}`).join(', ');
    throw new Error(`PEFT export: ${what} differs between adapter layers (${listed}); a PEFT config holds one value ` +
      'for all target modules. Export the layers separately or use one value.');
  }
  return vals[0];
}

/** The options of `method` that PEFT holds as one value, read from the layers' fields (each must agree). */
function uniformPeftOptions(method: AdapterMethod, views: ExportedLayer[]): Record<string, unknown> {
  const out: Record<string, unknown> = { peft_type: method.peft.type };
  for (const o of method.peft.options) {
    if (!o.fromShapes)
      out[o.peftKey] = uniform(views, o.key, (v) => (v.layer as unknown as Record<string, unknown>)[o.key]);
  }
  return out;
}

/**
 * One block size for all layers if they share it, else one block count; PEFT configs hold
 * one of the two. Returns `[size, count]` with the other 0.
 */
function sharedGeometry(views: ExportedLayer[], geometry: Array<{ b: number; n: number }>, method: string,
  countName: string): [number, number] {
  if (geometry.every((g) => g.b === geometry[0].b)) return [geometry[0].b, 0];
  if (geometry.every((g) => g.n === geometry[0].n)) return [0, geometry[0].n];
  const listed = views.map((v, i) => `${v.layer.name}: b=${geometry[i].b}, ${countName}=${geometry[i].n}`).join('; ');
  throw new Error(`PEFT export: the ${method} layers have neither one block size nor one number of blocks ` +
    `(${listed}); a PEFT ${method}Config holds one block size or one number of blocks.`);
}

function exportOft(views: ExportedLayer<OrthogonalDense>[]): MethodExport {
  const config = uniformPeftOptions(OFT, views) as PeftAdapterConfig;
  const geometry = views.map(({ layer }) => {
    const b = blockSizeFromPacked(layer.packedParameters.shape[1] as number, `OrthogonalDense '${layer.name}'`);
    return { b, n: layer.inputDim / b };
  });
  [config.oft_block_size, config.r] = sharedGeometry(views, geometry, 'OFT', 'r');
  const neumann = config.use_cayley_neumann as boolean;
  if (neumann) {
    config.num_cayley_neumann_terms = neumannTermsToPeft(config.num_cayley_neumann_terms as number,
      `OrthogonalDense '${views[0].layer.name}'`);
  }
  const tensors: Record<string, SafetensorsInput> = {};
  for (const { layer, torchName } of views) {
    const w = layer.packedParameters;
    tensors[`${PREFIX}${torchName}.oft_R.weight`] = {
      shape: w.shape as number[],
      data: oftParamsToPeft(readValues(w), neumann),
    };
  }
  return { config, tensors };
}

function exportBoft(views: ExportedLayer<ButterflyDense>[]): MethodExport {
  for (const { layer } of views) {
    if (layer.useCayleyNeumann) {
      throw new Error(`PEFT export: ButterflyDense '${layer.name}' uses the Cayley–Neumann series; PEFT's BOFT only ` +
        'has the exact Cayley transform. Train with useCayleyNeumann: false for an adapter that PEFT loads.');
    }
  }
  const config = uniformPeftOptions(BOFT, views) as PeftAdapterConfig;
  const geometry = views.map(({ layer }) => ({ b: layer.blockSizeResolved, n: layer.blockNumResolved }));
  [config.boft_block_size, config.boft_block_num] = sharedGeometry(views, geometry, 'BOFT', 'N');
  const tensors: Record<string, SafetensorsInput> = {};
  for (const { layer, torchName } of views) {
    const m = layer.boftNButterflyFactor;
    const { b, n } = { b: layer.blockSizeResolved, n: layer.blockNumResolved };
    const data = boftParamsToPeft(readValues(layer.packedParameters), m, n, b);
    tensors[`${PREFIX}${torchName}.boft_R`] = { shape: [m, n, b, b], data };
    // PEFT's boft_s is [n, 1] on Linear modules and [1, n] on Conv2d ones.
    const sShape = convKernelShape(layer) == null ? [layer.units, 1] : [1, layer.units];
    tensors[`${PREFIX}${torchName}.boft_s`] = { shape: sShape, data: readValues(layer.boftScale) };
  }
  return { config, tensors };
}

/**
 * Refuses a Conv2D adapter that PEFT cannot load (a non-square kernel; OFT with a dilation, which
 * PEFT's OFT refuses) and warns about one whose PEFT forward differs (BOFT with a dilation or unequal
 * strides: PEFT's unmerged BOFT conv forward drops the dilation and uses the first stride only).
 */
function checkConvForPeft(layer: AdapterDense): void {
  if (convKernelShape(layer) == null) return;
  checkSquareKernel(layer, 'PEFT export');
  const config = layer.getConfig() as { dilationRate: number | number[]; strides: number | number[] };
  const { dilationRate, strides } = config;
  const dilation = [dilationRate].flat();
  const dilated = dilation.some((r) => r > 1);
  if (methodOfLayer(layer) === OFT) {
    if (!dilated) return;
    throw new Error(`PEFT export: OrthogonalConv2D '${layer.name}' has dilationRate [${dilation}]; PEFT 0.21.2's ` +
      'OFT refuses Conv2d layers with dilation > 1 ("Conv2d with dilation > 1 is not supported by OFT"). Merge it ' +
      '(mergeAndUnload) and share the merged weights instead, or keep this layer out of the adapter.');
  }
  const stride = [strides].flat();
  if (dilated || stride.some((v) => v !== stride[0])) {
    warnOnce(`PEFT export: ${layer.getClassName()} '${layer.name}' has strides [${stride}] and dilationRate ` +
      `[${dilation}]; PEFT 0.21.2's unmerged BOFT Conv2d forward uses the first stride and padding only and drops ` +
      'the dilation, so in PyTorch compare or serve it merged (merge_and_unload), whose weights are right.');
  }
}

/** Config entries every export writes with the same value (what PEFT itself writes for these adapters). */
const PEFT_CONFIG_CONSTANTS = {
  auto_mapping: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  inference_mode: true,
  init_weights: true,
  layers_pattern: null,
  layers_to_transform: null,
  peft_version: PEFT_VERSION_VERIFIED,
  revision: null,
  task_type: null,
};

/** Base layer classes whose weights cross to PEFT as torch modules (nn.Linear, nn.Conv2d). */
const TORCH_MODULE_CLASSES = ['Dense', 'Conv2D'];

/**
 * With `bias: 'all'`: the biases of the plain Dense and Conv2D layers that are neither adapted nor
 * saved whole (PEFT trains and saves every bias then).
 */
function otherBiases(model: LayersModel, saved: Set<string>, nameMap: PeftNameMap | undefined):
  Record<string, SafetensorsInput> {
  const out: Record<string, SafetensorsInput> = {};
  for (const l of allLayers(model)) {
    const b = weightOf(l, 'bias');
    // Adapter layers are of other classes: their biases are written with the adapters.
    if (saved.has(l.name) || b == null || !TORCH_MODULE_CLASSES.includes(l.getClassName())) continue;
    out[`${PREFIX}${tfjsToTorch(nameMap, l.name)}.bias`] = { shape: b.shape as number[], data: readValues(b) };
  }
  return out;
}

/** Adds weight (torch layout) and bias of the `modules_to_save` layer `name` to `tensors`; returns its torch name. */
function writeSavedModule(model: LayersModel, name: string, nameMap: PeftNameMap | undefined,
  tensors: Record<string, SafetensorsInput>): string {
  const l = findLayer(model, name, 'PEFT export');
  if (!TORCH_MODULE_CLASSES.includes(l.getClassName())) {
    throw new Error(`PEFT export: modulesToSave layer '${name}' is a ${l.getClassName()}; only Dense and Conv2D ` +
      'layers (torch Linear, Conv2d) can be written.');
  }
  const torchName = tfjsToTorch(nameMap, name);
  const k = weightOf(l, 'kernel')!;
  const shape = k.shape as number[];
  if (shape.length === 4) {
    const [kh, kw, cin, out] = shape;
    tensors[`${PREFIX}${torchName}.weight`] = { shape: [out, cin, kh, kw],
      data: kernelToTorchConvWeight(readValues(k), shape) };
  } else {
    const [d, n] = shape;
    tensors[`${PREFIX}${torchName}.weight`] = { shape: [n, d], data: transpose2d(readValues(k), d, n) };
  }
  const b = weightOf(l, 'bias');
  if (b != null) tensors[`${PREFIX}${torchName}.bias`] = { shape: b.shape as number[], data: readValues(b) };
  return torchName;
}

/**
 * Builds PEFT adapter files (`adapter_config.json`, `adapter_model.safetensors`) from the adapter
 * layers of a tfjs model (Dense and Conv2D adapters), in memory. Throws a clear error for what PEFT
 * cannot express: layers of both methods, per-layer differences in options, BOFT with the
 * Cayley–Neumann series, a 3-term OFT Neumann series, a non-square conv kernel, OFT on a dilated conv.
 */
export function exportPeftAdapterFiles(model: LayersModel, options: ExportPeftAdapterOptions = {}): PeftAdapterExport {
  const adapterLayers = findAdapterLayers(model);
  if (adapterLayers.length === 0) {
    throw new Error('PEFT export: the model has no adapter layer (OrthogonalDense, ButterflyDense, OrthogonalConv2D, ' +
      'ButterflyConv2D).');
  }
  for (const l of adapterLayers) checkConvForPeft(l);
  const methods = new Set(adapterLayers.map((l) => methodOfLayer(l)));
  const method = methodOfLayer(adapterLayers[0])!;
  if (methods.size > 1) {
    const listed = adapterLayers.map((l) => `${l.name}: ${l.getClassName()}`).join(', ');
    throw new Error(`PEFT export: the model mixes OrthogonalDense and ButterflyDense layers (${listed}); ` +
      'a PEFT adapter holds one method. Export them as two adapters.');
  }
  const views: ExportedLayer[] = adapterLayers.map((layer) => ({
    layer,
    torchName: tfjsToTorch(options.nameMap, layer.name),
  }));
  const record = getSurgeryRecord(model);
  const biasTrainable = views.some((v) => v.layer.baseBias?.trainable);
  const bias = options.bias ?? record?.bias ?? (biasTrainable ? method.layerBias : 'none');
  const validBias = ['none', 'all', method.layerBias];
  if (!validBias.includes(bias)) {
    throw new Error(
      `PEFT export: bias '${bias}' is not valid for ${method.peft.type}; use one of ${validBias.join(', ')}.`,
    );
  }
  const { config, tensors } = method === OFT
    ? exportOft(views as ExportedLayer<OrthogonalDense>[])
    : exportBoft(views as ExportedLayer<ButterflyDense>[]);

  if (bias !== 'none') {
    for (const { layer, torchName } of views) {
      const b = layer.baseBias;
      const key = `${PREFIX}${torchName}.base_layer.bias`;
      if (b != null) tensors[key] = { shape: b.shape as number[], data: readValues(b) };
    }
  }
  const saved = new Set(options.modulesToSave ?? record?.modulesToSave.map((p) => p.split('/').pop()!) ?? []);
  if (bias === 'all') Object.assign(tensors, otherBiases(model, saved, options.nameMap));
  const modulesToSave = [...saved].map((name) => writeSavedModule(model, name, options.nameMap, tensors));
  const full: PeftAdapterConfig = {
    ...config,
    ...PEFT_CONFIG_CONSTANTS,
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
    bias,
    modules_to_save: modulesToSave.length ? modulesToSave : null,
    target_modules: views.map((v) => v.torchName).sort(),
  };
  const sorted = Object.fromEntries(Object.keys(full).sort().map((k) => [k, full[k]])) as PeftAdapterConfig;
  return {
    config: sorted,
    configJson: `${JSON.stringify(sorted, null, 2)}\n`,
    weights: writeSafetensors(tensors, { format: 'pt' }),
  };
}

/**
 * Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` (Node), loadable with
 * `PeftModel.from_pretrained(torch_model, dir)`. See `exportPeftAdapterFiles` for the rules.
 */
export async function exportPeftAdapter(
  model: LayersModel,
  dir: string,
  options: ExportPeftAdapterOptions = {},
): Promise<PeftAdapterExport> {
  const out = exportPeftAdapterFiles(model, options);
  await writeFiles(dir, { 'adapter_config.json': out.configJson, 'adapter_model.safetensors': out.weights });
  return out;
}
