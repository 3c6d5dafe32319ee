// Small helpers shared across the package: argument checks whose failures name the owner, the
// key, the value and a fix, and warnings that fire once.

/** A value as an error message shows it: numbers plainly, strings quoted, and the JS type when surprising. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'string') return `'${value}' (a string)`;
  if (Array.isArray(value)) return `${JSON.stringify(value)} (an array)`;
  return `${typeof value === 'object' ? JSON.stringify(value) : String(value)} (${typeof value})`;
}

function fail(who: string, key: string, rule: string, value: unknown, fix: string): never {
  throw new Error(`${who}: ${key} must be ${rule}, got ${describeValue(value)}.${fix ? ` ${fix}` : ''}`);
}

/** Throws unless `value` is `true` or `false`. */
export function checkBoolean(who: string, key: string, value: unknown): void {
  if (typeof value !== 'boolean') fail(who, key, 'true or false', value, '');
}

/** Throws unless `value` is an integer ≥ `min`. */
export function checkInteger(who: string, key: string, value: unknown, min: number, fix = ''): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    fail(who, key, `an integer ≥ ${min}`, value, fix);
}

/** Throws unless `0 ≤ value < 1`. */
export function checkRate(who: string, key: string, value: unknown, fix = 'Use e.g. 0.1, or 0 to disable it.'): void {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(who, key, 'in [0, 1)', value, fix);
}

/** Throws unless `value` is a number > 0 (finite unless `allowInfinity`). */
export function checkPositive(who: string, key: string, value: unknown, fix = '', allowInfinity = false): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    fail(who, key, allowInfinity ? 'a number > 0' : 'a finite number > 0', value, fix);
  }
}

/** Throws unless `value` is at most `max`; `why` says why there is a limit. */
export function checkAtMost(who: string, key: string, value: number, max: number, why = ''): void {
  if (value > max) fail(who, key, `at most ${max}`, value, why);
}

/** Throws unless `value` is a finite number ≥ 0. */
export function checkNonNegative(who: string, key: string, value: unknown, fix = ''): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(who, key, 'a finite number ≥ 0', value, fix);
}

const warned = new Set<string>();

/** `console.warn` once per distinct message. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}
