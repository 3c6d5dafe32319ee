// The only file access of src/interop: Node built-ins loaded lazily, so that a browser bundle that
// imports tfjs-oft never touches them (browsers pass in-memory bytes instead of paths).
import { nodeBuiltin } from '../io/node-builtins';

async function fsPromises(): Promise<typeof import('node:fs/promises')> {
  return nodeBuiltin<typeof import('node:fs/promises')>(
    'node:fs/promises',
    'tfjs-oft PEFT interop: reading or writing a directory (in a browser, pass {config, weights} as in-memory bytes ' +
      'instead)',
  );
}

/** `dir` + `/` + `name`, without doubling separators. */
export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/[\\/]+$/, '')}/${name}`;
}

/** Reads a whole file (Node only). */
export async function readBytes(path: string): Promise<Uint8Array> {
  const fs = await fsPromises();
  try {
    const buf = await fs.readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new Error(`tfjs-oft PEFT interop: cannot read '${path}': ${(e as Error).message}`);
  }
}

/** Writes files into `dir`, creating it if needed (Node only). */
export async function writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const fs = await fsPromises();
  await fs.mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) await fs.writeFile(joinPath(dir, name), data);
}
