// A `file://` IOHandler for Node with plain @tensorflow/tfjs (only tfjs-node ships one). It
// writes what tfjs-node writes: `model.json` whose weightsManifest points at `weights.bin`.
// It steps aside when another handler (tfjs-node's) also claims the URL.
import * as tf from '@tensorflow/tfjs-core';
import { containedPath } from './contained-path';
import { isNode, nodeBuiltin } from './node-builtins';

type IOHandler = tf.io.IOHandler;
type Fs = typeof import('node:fs/promises');
type ModelArtifacts = tf.io.ModelArtifacts;

const SCHEME = 'file://';

async function nodeFs() {
  const what = "tfjs-oft's file:// handler (in a browser, use indexeddb://, localstorage:// or downloads://)";
  return {
    fs: await nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises', what),
    path: await nodeBuiltin<typeof import('node:path')>('node:path', what),
  };
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

const WEIGHTS = 'weights.bin';
const MODEL_JSON = 'model.json';
const UNIQUE_WEIGHTS = /^weights\.[a-z0-9]{6,12}-[a-z0-9]{1,8}\.bin$/;

/** A hint for the file-system errors a user can fix. */
function fsHint(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'EACCES' || code === 'EPERM') return ' Check that you may write there (permissions), or save elsewhere.';
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    return ' A file (not a folder) stands in the way: remove it or pick another path.';
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') return ' The disk is full: free space and save again.';
  if (code === 'EROFS') return ' The file system is read-only: save elsewhere.';
  return '';
}

/** Writes `data` to a new file `file` (never an existing one) and flushes it to disk. */
async function writeNewFile(fs: Fs, file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a folder's entries (renames) to disk; not possible on every platform, so best effort. */
async function syncFolder(fs: Fs, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => null);
  if (handle == null) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}


/**
 * IOHandler that saves to / loads from a directory (`save`) or a `model.json` path (`load`).
 *
 * Saving is atomic: the weights go to a new uniquely named file, then a `model.json` that names
 * it replaces the old one by a rename (the commit), then the pair is renamed back to the usual
 * `model.json` + `weights.bin` the same way. At every moment `model.json` names a complete weight
 * file of its own save, so a save that fails or is killed leaves the previous save (or, after the
 * commit, the new one) loadable; at worst a stray `*.tmp` / `weights.<id>.bin` file remains.
 */
export class FileSystemHandler implements IOHandler {
  constructor(readonly target: string) {}

  async save(artifacts: ModelArtifacts): Promise<tf.io.SaveResult> {
    const { fs, path } = await nodeFs();
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error('tfjs-oft file:// handler: binary model topologies are not supported; save a tfjs-layers model.');
    }
    const dir = this.target.endsWith(MODEL_JSON) ? path.dirname(this.target) : this.target;
    const weightData = artifacts.weightData == null ? new ArrayBuffer(0)
      : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJSON = (weightsFile: string): string => {
      const json: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
      return JSON.stringify(json);
    };
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const uniqueWeights = `weights.${id}.bin`;
    const at = (name: string) => path.join(dir, name);
    const temps = [uniqueWeights, `${MODEL_JSON}.${id}.tmp`, `${WEIGHTS}.${id}.tmp`, `${MODEL_JSON}.${id}.2.tmp`];
    let committed = false;
    try {
      await fs.mkdir(dir, { recursive: true });
      // Unique weight files of an earlier save that was cut short become garbage after the commit.
      const stale = [...await this.referencedFiles(fs, at(MODEL_JSON)) ?? []].filter((f) => UNIQUE_WEIGHTS.test(f));
      // 1. The new weights under a name nothing refers to yet.
      await writeNewFile(fs, at(uniqueWeights), new Uint8Array(weightData));
      // 2. Commit: a model.json naming them replaces the old one in one rename.
      await writeNewFile(fs, at(temps[1]), modelJSON(uniqueWeights));
      await fs.rename(at(temps[1]), at(MODEL_JSON));
      committed = true;
      await syncFolder(fs, dir);
      // 3. Back to the usual names: weights.bin (no longer referenced) is replaced by a link to
      //    the new weights, then a model.json naming weights.bin replaces the committed one.
      await fs.link(at(uniqueWeights), at(temps[2])).catch(() => fs.copyFile(at(uniqueWeights), at(temps[2])));
      await fs.rename(at(temps[2]), at(WEIGHTS));
      await writeNewFile(fs, at(temps[3]), modelJSON(WEIGHTS));
      await fs.rename(at(temps[3]), at(MODEL_JSON));
      await fs.unlink(at(uniqueWeights));
      for (const f of stale) await fs.unlink(at(f)).catch(() => undefined);
      await syncFolder(fs, dir);
    } catch (err) {
      // Before the commit the previous save is untouched; after it the new one is complete (its
      // model.json names the file it needs): remove only files that nothing refers to. The
      // unique weights stay when the committed model.json cannot be read back to tell.
      const keep = committed ? await this.referencedFiles(fs, at(MODEL_JSON)) : new Set<string>();
      const unused = temps.filter((name) => name !== uniqueWeights || (keep != null && !keep.has(name)));
      for (const name of unused) await fs.unlink(at(name)).catch(() => undefined);
      if (committed) return this.saveResult(modelJSON(WEIGHTS), artifacts, weightData);
      throw new Error(`tfjs-oft file:// handler: could not save to ${dir}: ${(err as Error).message}.${fsHint(err)} ` +
        'The folder still holds the previous save, if there was one.');
    }
    return this.saveResult(modelJSON(WEIGHTS), artifacts, weightData);
  }

  /** The weight files a `model.json` names, or null when it cannot be read (or is not one). */
  private async referencedFiles(fs: Fs, jsonPath: string): Promise<Set<string> | null> {
    try {
      const json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      return new Set(json.weightsManifest.flatMap((g) => g.paths));
    } catch {
      return null;
    }
  }

  private saveResult(jsonText: string, artifacts: ModelArtifacts, weightData: ArrayBuffer): tf.io.SaveResult {
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        modelTopologyBytes: jsonText.length,
        weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
        weightDataBytes: weightData.byteLength,
      },
    };
  }

  async load(): Promise<ModelArtifacts> {
    const { fs, path } = await nodeFs();
    const who = 'tfjs-oft file:// handler';
    let jsonPath = this.target;
    const stat = await fs.stat(jsonPath).catch(() => null);
    if (stat == null) throw new Error(`${who}: no such file or directory: ${jsonPath}`);
    if (stat.isDirectory()) jsonPath = path.join(jsonPath, MODEL_JSON);
    let modelJSON: tf.io.ModelJSON;
    try {
      modelJSON = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
    } catch (err) {
      throw new Error(`${who}: cannot read ${jsonPath}: ${(err as Error).message}${fsHint(err)}`);
    }
    const isObject = modelJSON != null && typeof modelJSON === 'object' && !Array.isArray(modelJSON);
    if (!isObject || modelJSON.modelTopology == null) {
      throw new Error(`${who}: ${jsonPath} is not a tfjs model.json: it must be a JSON object with a modelTopology ` +
        `(got ${modelJSON === null ? 'null' : Array.isArray(modelJSON) ? 'an array' : typeof modelJSON}${
          modelJSON != null && typeof modelJSON === 'object' ? ' without modelTopology' : ''}).`);
    }
    const manifest = modelJSON.weightsManifest;
    if (manifest != null && (!Array.isArray(manifest) || manifest.some((g) => g == null || !Array.isArray(g.paths) ||
      !Array.isArray(g.weights)))) {
      throw new Error(`${who}: the weightsManifest of ${jsonPath} must be a list of {paths: [...], weights: [...]} ` +
        'groups.');
    }
    const dir = path.dirname(jsonPath);
    return tf.io.getModelArtifactsForJSON(modelJSON, async (groups) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of groups) {
        for (const p of group.paths) {
          if (typeof p !== 'string') {
            throw new Error(`${who}: weights path ${JSON.stringify(p)} in ${jsonPath} is not a string.`);
          }
          const file = await containedPath(fs, path, dir, p, `${who}: weights path in ${jsonPath}`);
          const data = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
            const what = err.code === 'ENOENT' ? 'is missing' : err.code === 'EISDIR' ? 'is a directory, not a file'
              : `cannot be read (${err.message})`;
            throw new Error(`${who}: weight file ${file} named in ${jsonPath} ${what}.${fsHint(err)}`);
          });
          buffers.push(toArrayBuffer(data));
        }
        specs.push(...group.weights);
      }
      return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
    });
  }
}

/** An IOHandler for a directory (save) or a `model.json` path (load) on the local disk. */
export function fileSystem(pathOrUrl: string): IOHandler {
  return new FileSystemHandler(pathOrUrl.startsWith(SCHEME) ? pathOrUrl.slice(SCHEME.length) : pathOrUrl);
}

let probing = false;
let registered = false;

// Answers `file://` URLs unless another router (tfjs-node's) answers them too: ask the other
// routers while this one is silent, so that tfjs never sees two handlers for one URL.
function router(url: string | string[]): IOHandler | null {
  const u = Array.isArray(url) ? url[0] : url;
  if (probing || typeof u !== 'string' || !u.startsWith(SCHEME)) return null;
  if (!isNode()) return null;
  probing = true;
  try {
    if (tf.io.getSaveHandlers(u).length > 0 || tf.io.getLoadHandlers(u).length > 0) return null;
  } finally {
    probing = false;
  }
  return fileSystem(u);
}

/**
 * Registers the `file://` handler with tfjs (done on import; calling again is harmless).
 * In a browser it never answers.
 */
export function registerFileSystemRouter(): void {
  if (registered) return;
  registered = true;
  tf.io.registerSaveRouter(router as Parameters<typeof tf.io.registerSaveRouter>[0]);
  tf.io.registerLoadRouter(router as Parameters<typeof tf.io.registerSaveRouter>[0]);
}
