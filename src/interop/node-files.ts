// The only file access of src/interop: Node built-ins loaded lazily, so that a browser bundle that
// imports tfjs-oft never touches them (browsers pass in-memory bytes instead of paths).
import { containedPath } from '../io/contained-path';
import { nodeBuiltin } from '../io/node-builtins';
import { readSafetensorsHeader, safetensorsHeaderLength } from './safetensors';

const WHAT = 'tfjs-oft PEFT interop: reading or writing a directory (in a browser, pass {config, weights} as ' +
  'in-memory bytes instead)';

async function fsPromises(): Promise<typeof import('node:fs/promises')> {
  return nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises', WHAT);
}

/** `dir` + `/` + `name`, without doubling separators. */
export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/[\\/]+$/, '')}/${name}`;
}

/** Largest adapter_config.json read (a config is a few kB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * Reads `dir/name` (Node only): the file must lie inside `dir` (symlinks resolved) and be a regular
 * file. `safetensors: true` reads the 8-byte length and the header first and then only the data
 * bytes the header promises, so a huge or endless file (e.g. a link to /dev/zero) is never read whole.
 */
export async function readFileIn(dir: string, name: string,
                                 options: { safetensors?: boolean } = {}): Promise<Uint8Array> {
  const fs = await fsPromises();
  const path = await nodeBuiltin<typeof import('node:path')>('node:path', WHAT);
  const file = joinPath(dir, name);
  const fail = (why: string) => new Error(`tfjs-oft PEFT interop: cannot read '${file}': ${why}`);
  const inside = await containedPath(fs, path, dir, name, 'tfjs-oft PEFT interop').catch((e: Error) => {
    throw (e.message.includes('leaves its folder') ? e : fail(e.message));
  });
  // Non-blocking, so that opening a FIFO does not wait for a writer (it is refused just below).
  const { constants } = await nodeBuiltin<typeof import('node:fs')>('node:fs', WHAT);
  const handle = await fs.open(inside, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    .catch((e: Error) => { throw fail(e.message); });
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw fail(`not a regular file (${stat.isDirectory() ? 'a directory' : 'a device, pipe or socket'}).`);
    }
    const read = async (length: number, position: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) throw fail(`the file ended after ${position + done} of ${position + length} bytes.`);
        done += bytesRead;
      }
      return buf;
    };
    if (!options.safetensors) {
      if (stat.size > MAX_CONFIG_BYTES) {
        throw fail(`${stat.size} bytes is more than a config file holds (limit ${MAX_CONFIG_BYTES}).`);
      }
      return await read(stat.size, 0);
    }
    const head = await read(Math.min(8, stat.size), 0);
    const headerLength = safetensorsHeaderLength(head, stat.size);
    const withHeader = new Uint8Array(8 + headerLength);
    withHeader.set(head);
    withHeader.set(await read(headerLength, 8), 8);
    const { dataLength } = readSafetensorsHeader(withHeader, stat.size);
    const whole = new Uint8Array(8 + headerLength + dataLength);
    whole.set(withHeader);
    whole.set(await read(dataLength, 8 + headerLength), 8 + headerLength);
    return whole;
  } finally {
    await handle.close();
  }
}

/**
 * Writes files into `dir`, creating it if needed (Node only). Every file is first written in full
 * beside its target and flushed, then all are renamed into place: a failed write leaves the
 * previous files as they were (only the renames, one per file, are not one atomic step).
 */
export async function writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const fs = await fsPromises();
  const id = `${process.pid}-${Date.now().toString(36)}`;
  const temps = Object.keys(files).map((name) => joinPath(dir, `${name}.${id}.tmp`));
  try {
    await fs.mkdir(dir, { recursive: true });
    for (const [i, data] of Object.values(files).entries()) {
      const handle = await fs.open(temps[i], 'wx');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [i, name] of Object.keys(files).entries()) await fs.rename(temps[i], joinPath(dir, name));
  } catch (e) {
    for (const t of temps) await fs.unlink(t).catch(() => undefined);
    const code = (e as { code?: string }).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? ' Check that you may write there (permissions).'
      : code === 'EEXIST' || code === 'ENOTDIR' ? ' A file (not a folder) stands in the way.' : '';
    throw new Error(`tfjs-oft PEFT interop: cannot write into '${dir}': ${(e as Error).message}.${hint}`);
  }
}
