// Builds and serves the browser demo: the pretrained digits ViT (the Node demo's cache, pretrained
// now if missing), the digit splits of the Node demo as one binary file, the page bundled by esbuild.
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeTasks, makeTasks, NUM_CLASSES } from '../digits/data';
import { pretrained, resolveDemoOptions, selectBackend } from '../digits/pipeline';
import { serveStatic, StaticServer } from './static-server';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Where tfjs-backend-wasm keeps its .wasm files; pages call setWasmPaths('/wasm/'). */
export const WASM_DIR = resolve(HERE, '../../node_modules/@tensorflow/tfjs-backend-wasm/dist');

export interface BrowserDemoOptions {
  /** Port on 127.0.0.1 (0: any free port). Default 8080. */
  port?: number;
  /** Pretraining epochs on task A (the Node demo's default 15; cached in .cache/). */
  pretrainEpochs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface BrowserDemo extends StaticServer {
  pretrain: { accA: number; accB: number; cachePath: string };
}

/** The splits the page needs (B-train, A-test, B-test) as tfjs weights: one manifest, one binary. */
async function encodeDigits(seed: number, split: ReturnType<typeof resolveDemoOptions>['split']) {
  const tasks = makeTasks(split, seed);
  const tensors: tf.NamedTensorMap = {};
  for (const name of ['bTrain', 'aTest', 'bTest'] as const) {
    tensors[`${name}.xs`] = tasks[name].xs;
    tensors[`${name}.labels`] = tf.tensor1d(tasks[name].labels, 'int32');
  }
  try {
    return await tf.io.encodeWeights(tensors);
  } finally {
    tf.dispose(Object.values(tensors));
    disposeTasks(tasks);
  }
}

export async function startBrowserDemo(opts: BrowserDemoOptions = {}): Promise<BrowserDemo> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const o = resolveDemoOptions({ pretrainEpochs: opts.pretrainEpochs, seed: opts.seed });
  const backend = await selectBackend();
  const tasks = makeTasks(o.split, o.seed);
  let pre;
  try {
    pre = await pretrained(o, backend, tasks.aTrain, tasks.aTest, tasks.bTest, true, log);
  } finally {
    disposeTasks(tasks);
  }
  const { data, specs } = await encodeDigits(o.seed, o.split);
  const manifest = { specs, numClasses: NUM_CLASSES, pretrained: { accA: pre.accA, accB: pre.accB } };
  const bundle = await build({
    entryPoints: [join(HERE, 'app.ts')], bundle: true, platform: 'browser', format: 'esm', write: false,
    logLevel: 'silent', target: 'es2020',
  });
  const server = await serveStatic({
    '/index.html': join(HERE, 'index.html'),
    '/app.js': bundle.outputFiles[0].contents,
    '/digits.json': Buffer.from(JSON.stringify(manifest)),
    '/digits.bin': new Uint8Array(data),
    '/pretrained/': pre.cachePath,
    '/wasm/': WASM_DIR,
  }, opts.port ?? 8080);
  return { ...server, pretrain: { accA: pre.accA, accB: pre.accB, cachePath: pre.cachePath } };
}
