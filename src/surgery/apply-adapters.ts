// applyOft / applyBoft: swap chosen Dense layers of a pretrained model for adapters
// (docs/math.md §4–§6).
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterDense } from '../layers/adapter-dense';
import type { BoftOptions } from '../layers/boft-options';
import type { OftOptions } from '../layers/oft-options';
import { adaptableClassNames, AdapterMethod, BOFT, OFT } from '../methods/adapter-methods';
import { adaptModel, AdapterPlan } from './adapt-model';
import { LayerEntry, walkLayers } from './layer-paths';
import type { BiasMode } from './surgery-record';
import {
  describe,
  ModuleSelector,
  normalizeSelector,
  outputLayerPaths,
  selectorMatches,
  nameMatches,
} from './target-modules';

export type { ModuleSelector } from './target-modules';
export type { BiasMode } from './surgery-record';

/** Options every surgery takes besides the adapter's own. */
export interface SurgeryOptions {
  /**
   * Layers to adapt: a list of names (a layer matches an entry when its name or path equals
   * it, or its path ends with `/entry` or `.entry`), a `RegExp` (whole name or whole path), or
   * `'all-linear'` (every `Dense` except those producing the model's outputs). Paths of layers
   * inside nested models are `outer/inner/name`. Every match must be a `Dense`.
   */
  targetModules: ModuleSelector | 'all-linear';
  /** Layers never adapted (same forms as `targetModules`). */
  excludeModules?: ModuleSelector | 'all-linear';
  /** Layers left fully trainable, e.g. a new classification head (names as in a list above). */
  modulesToSave?: string | string[];
}

export type { OftOptions } from '../layers/oft-options';
export type { BoftOptions } from '../layers/boft-options';

/** Config of `applyOft`. */
export interface OftConfig extends SurgeryOptions, OftOptions {
  /**
   * Which biases train (docs/math.md §6): `'none'` (default), `'all'` (every bias of the model; other
   * weights of those layers stay frozen), `'oft_only'` (biases of the adapted layers).
   */
  bias?: 'none' | 'all' | 'oft_only';
}

/** Config of `applyBoft`. */
export interface BoftConfig extends SurgeryOptions, BoftOptions {
  /** Which biases train: `'none'` (default), `'all'`, `'boft_only'` (adapted layers only). */
  bias?: 'none' | 'all' | 'boft_only';
}

const SURGERY_KEYS = ['targetModules', 'excludeModules', 'modulesToSave', 'bias'];

/**
 * Returns a copy of `model` in which the `Dense` layers named by `config.targetModules` are
 * `OrthogonalDense` layers (OFT, docs/math.md §4) holding the same kernel and bias. At identity init
 * (the default) its outputs equal `model`'s exactly. Trainable: the adapters' `oft_r`, the
 * biases chosen by `config.bias`, and every weight of `config.modulesToSave`; everything else
 * is frozen. Layer names, shared layers and nested models are kept. `model` is not changed;
 * a config that matches nothing, names an unknown layer or targets a non-`Dense` layer throws
 * and changes nothing. The returned model is not compiled.
 *
 * ```ts
 * const model = applyOft(base, { targetModules: ['query', 'value'], oftBlockSize: 32, modulesToSave: ['classifier'] });
 * ```
 */
export function applyOft(model: LayersModel, config: OftConfig): LayersModel {
  return applyAdapters(model, config as unknown as Record<string, unknown>, OFT);
}

/**
 * Like `applyOft` with `ButterflyDense` layers (BOFT, docs/math.md §5): trainable `boft_r` and
 * `boft_s` per adapted layer.
 *
 * ```ts
 * const model = applyBoft(base, { targetModules: 'all-linear', boftBlockSize: 4, boftNButterflyFactor: 2 });
 * ```
 */
export function applyBoft(model: LayersModel, config: BoftConfig): LayersModel {
  return applyAdapters(model, config as unknown as Record<string, unknown>, BOFT);
}

function applyAdapters(model: LayersModel, config: Record<string, unknown>, method: AdapterMethod): LayersModel {
  const { caller } = method;
  if (config == null || typeof config !== 'object') {
    throw new Error(
      `${caller}: config must be an object such as {targetModules: ['query', 'value']}, got ${describe(config)}.`,
    );
  }
  const unknown = Object.keys(config).filter((k) => !SURGERY_KEYS.includes(k) && !method.optionKeys.includes(k));
  if (unknown.length > 0) {
    const hint = unknown.includes('biasTrainable')
      ? " Use bias: 'none' | 'all' | " + `'${method.layerBias}' instead of biasTrainable.`
      : '';
    throw new Error(`${caller}: unknown config key(s) ${unknown.join(', ')}.${hint} Known keys: ` +
      `${[...SURGERY_KEYS, ...method.optionKeys].join(', ')}.`);
  }
  const bias = (config.bias ?? 'none') as BiasMode;
  if (!['none', 'all', method.layerBias].includes(bias)) {
    throw new Error(`${caller}: bias must be 'none', 'all' or '${method.layerBias}', got ${describe(config.bias)}.`);
  }
  const options: Record<string, unknown> = { biasTrainable: bias !== 'none' };
  for (const k of method.optionKeys) if (config[k] !== undefined) options[k] = config[k];

  const entries = walkLayers(model).filter((e) => !e.isInput);
  const modulesToSave = resolveModulesToSave(caller, model, entries, config.modulesToSave);
  const targets = resolveTargets(method, model, entries, config, modulesToSave);
  const plan: AdapterPlan = {
    caller,
    adapters: new Map(targets.map((e) => [e.path, { className: method.layerClasses[e.layer.getClassName()].className,
      options }])),
    modulesToSave,
    bias,
  };
  return adaptModel(model, plan);
}

function leafPathsUnder(entries: LayerEntry[], path: string): string[] {
  return entries.filter((e) => !e.isModel && (e.path === path || e.path.startsWith(`${path}/`))).map((e) => e.path);
}

function resolveModulesToSave(caller: string, model: LayersModel, entries: LayerEntry[], value: unknown): Set<string> {
  const out = new Set<string>();
  if (value == null) return out;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
    throw new Error(`${caller}: modulesToSave must be a list of layer names, got ${describe(value)}.`);
  }
  for (const name of list as string[]) {
    const hits = entries.filter((e) => nameMatches(name, e.path, e.layer.name));
    if (hits.length === 0) {
      throw new Error(`${caller}: modulesToSave names '${name}', but model '${model.name}' has no such layer. ` +
        `Its layers: ${entries.map((e) => e.path).join(', ')}.`);
    }
    for (const h of hits) for (const p of leafPathsUnder(entries, h.path)) out.add(p);
  }
  return out;
}

function resolveTargets(method: AdapterMethod, model: LayersModel, entries: LayerEntry[],
  config: Record<string, unknown>, modulesToSave: Set<string>): LayerEntry[] {
  const { caller } = method;
  const adaptable = adaptableClassNames(method);
  const kinds = adaptable.join(' or ');
  if (config.targetModules == null) {
    throw new Error(`${caller}: config.targetModules is required: a list of layer names, a RegExp or 'all-linear'.`);
  }
  const target = normalizeSelector('targetModules', config.targetModules);
  const exclude = config.excludeModules == null ? null : normalizeSelector('excludeModules', config.excludeModules);
  const denseOf = (list: LayerEntry[]) => list.filter((e) => !e.isModel && adaptable.includes(e.layer.getClassName()));
  const outputs = outputLayerPaths(model);
  const select = (sel: string[] | RegExp | 'all-linear'): LayerEntry[] => {
    if (sel === 'all-linear') return denseOf(entries).filter((e) => !outputs.has(e.path) && !modulesToSave.has(e.path));
    return entries.filter((e) => (sel instanceof RegExp ? !e.isModel : true) && selectorMatches(sel, e));
  };
  const excluded = new Set(exclude == null ? [] : select(exclude).map((e) => e.path));
  const hits = select(target).filter((e) => !excluded.has(e.path));
  if (hits.length === 0) {
    throw new Error(
      `${caller}: targetModules ${describe(config.targetModules)} matches no layer of model '${model.name}'` +
        `${excluded.size > 0 ? ' (after excludeModules)' : ''}. Its ${kinds} layers: ` +
        `${
          denseOf(entries)
            .map((e) => e.path)
            .join(', ') || 'none'
        }.`,
    );
  }
  if (Array.isArray(target)) {
    const unused = target.filter((t) => !hits.some((e) => nameMatches(t, e.path, e.layer.name)) &&
      !entries.some((e) => excluded.has(e.path) && nameMatches(t, e.path, e.layer.name)));
    if (unused.length > 0) console.warn(`${caller}: targetModules entries ${unused.join(', ')} match no layer.`);
  }
  for (const e of hits) {
    const cls = e.layer.getClassName();
    if (e.isModel) {
      const example =
        (e.layer as LayersModel).layers.find((l) => adaptable.includes(l.getClassName()))?.name ?? 'dense';
      throw new Error(`${caller}: targetModules matches '${e.path}', a nested model (${cls}), not a ${kinds} layer. ` +
        `Name its layers instead, e.g. '${e.path}/${example}'.`);
    }
    if (!adaptable.includes(cls)) {
      const fix = e.layer instanceof AdapterDense
        ? 'It already holds an adapter: merge it first (mergeAndUnload) or add it to excludeModules.'
        : `Only ${kinds} layers can be adapted: remove it from targetModules or add it to excludeModules.`;
      throw new Error(`${caller}: targetModules matches layer '${e.path}' of class ${cls}, not ${kinds}. ${fix}`);
    }
    if (modulesToSave.has(e.path)) {
      throw new Error(`${caller}: layer '${e.path}' is both a target and in modulesToSave; a layer is either adapted ` +
        `or fully trained. Remove it from one of them.`);
    }
  }
  return hits;
}
