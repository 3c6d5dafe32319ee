// A `file://` IOHandler for Node with plain @tensorflow/tfjs (only tfjs-node ships one). It
// writes what tfjs-node writes: `model.json` whose weightsManifest points at `weights.bin`.
// It steps aside when another handler (tfjs-node's) also claims the URL.
import * as tf from '@tensorflow/tfjs-core';
import { isNode, nodeBuiltin } from './node-builtins';

type IOHandler = tf.io.IOHandler;
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

/** IOHandler that saves to / loads from a directory (`save`) or a `model.json` path (`load`). */
export class FileSystemHandler implements IOHandler {
  constructor(readonly target: string) {}

  async save(artifacts: ModelArtifacts): Promise<tf.io.SaveResult> {
    const { fs, path } = await nodeFs();
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error('tfjs-oft file:// handler: binary model topologies are not supported; save a tfjs-layers model.');
    }
    const dir = this.target.endsWith('model.json') ? path.dirname(this.target) : this.target;
    await fs.mkdir(dir, { recursive: true });
    const weightData = artifacts.weightData == null ? new ArrayBuffer(0)
      : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJSON: Record<string, unknown> = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
    if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
    if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
    if (artifacts.modelInitializer != null) modelJSON.modelInitializer = artifacts.modelInitializer;
    const jsonText = JSON.stringify(modelJSON);
    await fs.writeFile(path.join(dir, 'weights.bin'), new Uint8Array(weightData));
    await fs.writeFile(path.join(dir, 'model.json'), jsonText);
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
    let jsonPath = this.target;
    const stat = await fs.stat(jsonPath).catch(() => null);
    if (stat == null) throw new Error(`tfjs-oft file:// handler: no such file or directory: ${jsonPath}`);
    if (stat.isDirectory()) jsonPath = path.join(jsonPath, 'model.json');
    const modelJSON = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
    const dir = path.dirname(jsonPath);
    const realDir = await fs.realpath(dir);
    return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of manifest) {
        for (const p of group.paths) {
          if (typeof p !== 'string') {
            throw new Error(
              `tfjs-oft file:// handler: weights path ${JSON.stringify(p)} in ${jsonPath} is not a string.`,
            );
          }
          const file = path.join(dir, p);
          // Containment: a weights path must stay inside the model's folder, symlinks resolved.
          const real = await fs.realpath(file).catch(() => path.resolve(file));
          const rel = path.relative(realDir, real);
          if (path.isAbsolute(p) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
            throw new Error(
              `tfjs-oft file:// handler: weights path ${JSON.stringify(p)} in ${jsonPath} leaves the model's ` +
                `folder ${dir}; refusing to read it. Weight files must lie inside that folder.`,
            );
          }
          const data = await fs.readFile(file).catch(() => {
            throw new Error(`tfjs-oft file:// handler: weight file ${file} named in ${jsonPath} is missing.`);
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
