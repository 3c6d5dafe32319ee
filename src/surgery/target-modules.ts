// Which layers a surgery config names: lists of names, regular expressions, 'all-linear'.
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isModelLayer, LayerEntry } from './layer-paths';

/**
 * Layers to adapt (or exclude):
 * - a list of names (or one name): a layer matches an entry when its name or its path
 *   (`outer/inner/name` inside nested models) equals it, or its path ends with `/entry` or
 *   `.entry` (so `'fc1'` matches `mlp.fc1` and `encoder/fc1`);
 * - a `RegExp`: matches when it matches the whole name or the whole path;
 * - `'all-linear'`: every `Dense` layer except those that produce the model's outputs.
 */
export type ModuleSelector = string | string[] | RegExp;

/** Whether `entry` (a list entry) names the layer at `path` with name `name`. */
export function nameMatches(entry: string, path: string, name: string): boolean {
  return name === entry || path === entry || path.endsWith(`/${entry}`) || path.endsWith(`.${entry}`);
}

/** Whether `re` matches the whole of `text`. */
export function fullMatch(re: RegExp, text: string): boolean {
  const anchored = new RegExp(`^(?:${re.source})$`, re.flags.replace(/[gy]/g, ''));
  return anchored.test(text);
}

/** Whether a selector matches the layer entry. `'all-linear'` is resolved elsewhere. */
export function selectorMatches(selector: string[] | RegExp, e: LayerEntry): boolean {
  if (selector instanceof RegExp) return fullMatch(selector, e.path) || fullMatch(selector, e.layer.name);
  return selector.some((entry) => nameMatches(entry, e.path, e.layer.name));
}

/** Normalizes a selector option: a string becomes a one-entry list (except `'all-linear'`). */
export function normalizeSelector(option: string, value: unknown): string[] | RegExp | 'all-linear' {
  if (value === 'all-linear') return 'all-linear';
  if (value instanceof RegExp) return value;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new Error(
    `tfjs-oft: ${option} must be a list of layer names, a RegExp or 'all-linear', got ${describe(value)}. ` +
      `For example ['query', 'value'] or /.*\\.(query|value)/.`,
  );
}

/** Paths of the layers whose outputs are outputs of `model` (recursing into nested models). */
export function outputLayerPaths(model: LayersModel, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const layer of model.outputLayers ?? []) {
    const path = prefix === '' ? layer.name : `${prefix}/${layer.name}`;
    out.add(path);
    if (isModelLayer(layer)) for (const p of outputLayerPaths(layer, path)) out.add(p);
  }
  return out;
}

/** A short description of a config value for error messages. */
export function describe(value: unknown): string {
  if (value instanceof RegExp) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
