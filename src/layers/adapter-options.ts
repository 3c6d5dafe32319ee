// The adapter options of every layer class, declared once: name, type, range and default of each
// (the option names and docs as TypeScript types are in oft-options.ts / boft-options.ts; the
// compiler checks that each table lists exactly those options).
import type { BoftOptions } from './boft-options';
import type { OftOptions } from './oft-options';
import {
  checkAtMost, checkBoolean, checkInteger, checkPositive, checkRate, describeValue,
} from '../helpers';
// Constructors (and so fromConfig, adapter checkpoints and PEFT imports, which all construct),
// setters of rates and applyOft / applyBoft check values against these tables.

/** How one option is checked. */
export interface OptionSpec {
  type: 'boolean' | 'integer' | 'number' | 'rate' | 'regularizer';
  /** Smallest allowed value (integers: inclusive; numbers: exclusive, i.e. `> min`). */
  min?: number;
  /** Largest allowed value (inclusive), for sizes that may come from a file. */
  max?: number;
  /** Value when the option is absent (`undefined` when the layer derives it). */
  default?: unknown;
  /** What to do instead, appended to the error. */
  fix?: string;
  /** Why there is a maximum, appended to the error. */
  why?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Largest Cayley–Neumann series: each term is one more b×b matmul per block and call. */
const MAX_NEUMANN_TERMS = 64;
/** Largest block size, block count or factor count: far above any layer, small enough to stay cheap to check. */
const MAX_SIZE = 1 << 20;

const NEUMANN: OptionSpec = {
  type: 'integer', min: 3, max: MAX_NEUMANN_TERMS, default: 5,
  fix: 'The series needs at least 3 terms; 5 is the default.',
  why: `Each term costs one more matmul per block in every call; past ~10 terms use the exact Cayley transform ` +
    '(useCayleyNeumann: false) instead.',
};

/** Options every adapter layer takes on top of the `tf.layers.dense` arguments. */
export const ADAPTER_DENSE_OPTIONS: OptionSpecs = {
  biasTrainable: { type: 'boolean', default: false },
};

/** `OrthogonalDense` (OFT) options. `oftBlockSize` defaults to 32 when `r` is 0, else to 0. */
export const OFT_OPTIONS = {
  oftBlockSize: { type: 'integer', min: 0, max: MAX_SIZE, fix: 'Use e.g. 32, or 0 to size blocks by r instead.' },
  r: { type: 'integer', min: 0, max: MAX_SIZE, default: 0, fix: 'Use 0 to size blocks by oftBlockSize instead.' },
  useCayleyNeumann: { type: 'boolean', default: true },
  numCayleyNeumannTerms: NEUMANN,
  coft: { type: 'boolean', default: false },
  eps: { type: 'number', min: 0, default: 6e-5 },
  blockShare: { type: 'boolean', default: false },
  moduleDropout: { type: 'rate', default: 0 },
  initWeights: { type: 'boolean', default: true },
  oftRegularizer: { type: 'regularizer' },
} satisfies Record<keyof OftOptions, OptionSpec>;

/** `ButterflyDense` (BOFT) options. */
export const BOFT_OPTIONS = {
  boftBlockSize: { type: 'integer', min: 0, max: MAX_SIZE, default: 0,
    fix: 'Use e.g. 8, or 0 to size blocks by boftBlockNum instead.' },
  boftBlockNum: { type: 'integer', min: 0, max: MAX_SIZE, default: 0,
    fix: 'Use e.g. 8, or 0 to size blocks by boftBlockSize instead.' },
  boftNButterflyFactor: { type: 'integer', min: 1, max: 32, default: 1,
    fix: 'Use 1 for block-diagonal OFT, 2 or more for butterfly factors.',
    why: 'm − 1 ≤ log₂ N always holds below it.' },
  boftDropout: { type: 'rate', default: 0 },
  useCayleyNeumann: { type: 'boolean', default: false },
  numCayleyNeumannTerms: NEUMANN,
  initWeights: { type: 'boolean', default: true },
  boftRegularizer: { type: 'regularizer' },
} satisfies Record<keyof BoftOptions, OptionSpec>;

/**
 * Arguments of `tf.layers.dense` (and of every tfjs layer) that adapter layers accept as they
 * are; `customObjects` is added by tfjs' deserializer.
 */
const DENSE_ARGUMENTS = ['inputShape', 'batchInputShape', 'batchSize', 'dtype', 'name', 'trainable', 'weights',
  'inputDType', 'units', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer', 'inputDim',
  'kernelConstraint', 'biasConstraint', 'kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'customObjects'];

/** Throws unless `value` satisfies `spec`; the message names the layer, the option, the value and a fix. */
export function checkOption(who: string, key: string, spec: OptionSpec, value: unknown): void {
  const fix = spec.fix ?? '';
  switch (spec.type) {
    case 'boolean':
      return checkBoolean(who, key, value);
    case 'rate':
      return checkRate(who, key, value);
    case 'number':
      // The tables only bound numbers from below by 0 (e.g. eps > 0).
      checkPositive(who, key, value, fix);
      break;
    case 'integer':
      checkInteger(who, key, value, spec.min ?? -Infinity, fix);
      break;
    case 'regularizer':
      if (value != null && typeof value !== 'string' && typeof value !== 'object') {
        throw new Error(`${who}: ${key} must be a regularizer, its name or its {className, config}, got ` +
          `${describeValue(value)}.`);
      }
      return;
  }
  if (spec.max != null) checkAtMost(who, key, value as number, spec.max, spec.why);
}

/**
 * Checks the arguments of an adapter layer: no unknown key (a misspelt option would silently
 * take its default), and every adapter option present of the right type and range. Returns the
 * options with defaults filled in (options without a default stay `undefined`).
 */
export function checkAdapterArgs(who: string, args: object, specs: OptionSpecs): Record<string, unknown> {
  const all: OptionSpecs = { ...ADAPTER_DENSE_OPTIONS, ...specs };
  const given = args as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(k in all) && !DENSE_ARGUMENTS.includes(k));
  if (unknown.length > 0) {
    const known = [...Object.keys(all), ...DENSE_ARGUMENTS.filter((k) => k !== 'customObjects')];
    const hints = unknown.map((k) => {
      const near = known.find((c) => c.toLowerCase() === k.toLowerCase().replace(/_/g, ''));
      return near == null ? k : `${k} (did you mean ${near}?)`;
    });
    throw new Error(`${who}: unknown option(s) ${hints.join(', ')}. Its options: ${Object.keys(all).join(', ')}, ` +
      'and the arguments of tf.layers.dense.');
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(all)) {
    const value = given[key] ?? spec.default;
    if (value !== undefined) checkOption(who, key, spec, value);
    out[key] = value;
  }
  return out;
}
