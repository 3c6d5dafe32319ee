// Small helpers shared across the package: argument checks whose failures name the owner, the
// key, the value and a fix, and warnings that fire once.

function fail(who: string, key: string, rule: string, value: unknown, fix: string): never {
  throw new Error(`${who}: ${key} must be ${rule}, got ${String(value)}.${fix ? ` ${fix}` : ''}`);
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
