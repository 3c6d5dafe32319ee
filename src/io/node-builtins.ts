// Node built-in modules, reached at call time through `process.getBuiltinModule` (Node ≥ 20.16)
// so that no `node:` import appears in the bundle: browser bundlers (webpack 5, vite) reject
// that scheme, and a browser user of tfjs-oft never calls the code that needs them.

type Process = { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } };

/** Whether this is Node.js. */
export function isNode(): boolean {
  return (globalThis as { process?: Process }).process?.versions?.node != null;
}

/**
 * The Node built-in `name` (e.g. `'node:fs'`). `what` says what needs it, for the error thrown
 * outside Node (e.g. `'exportSavedModel'` and the browser alternative).
 */
export async function nodeBuiltin<T>(name: string, what: string): Promise<T> {
  const proc = (globalThis as { process?: Process }).process;
  if (proc?.versions?.node == null) throw new Error(`${what} needs Node.js ('${name}').`);
  if (typeof proc.getBuiltinModule === 'function') return proc.getBuiltinModule(name) as T;
  const spec = name;
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ spec)) as T;
}
