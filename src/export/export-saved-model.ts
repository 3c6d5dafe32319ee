// Export of a (possibly adapted) tfjs-layers model to a TensorFlow SavedModel: merge the adapters
// into plain Dense kernels, write the tfjs layers files, run the Python `tensorflowjs_converter`.
//
// Node.js only. To keep browser bundles free of Node built-ins, this module has no static import
// of `node:*`: it reaches `fs`, `path`, `os` and `child_process` at call time through
// `process.getBuiltinModule` (Node >= 20.16), falling back to a dynamic import bundlers ignore.
import type * as ChildProcess from 'node:child_process';
import type * as Fs from 'node:fs';
import type * as Os from 'node:os';
import type * as Path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fileSystem } from '../io/file-system';
import { mergeAndUnload } from '../surgery/merge-and-unload';
import { nodeBuiltin } from '../io/node-builtins';

/**
 * The Python packages (pip requirement strings) that provide a working `tensorflowjs_converter`.
 * `tensorflowjs` 4.22.0 imports TensorFlow, tf-keras, TF Decision Forests and TF Hub, whose
 * versions must match each other. `interop/requirements.txt` holds the same pins (a test checks).
 */
export const CONVERTER_PYTHON_PINS: readonly string[] = [
  'tensorflowjs==4.22.0',
  'tensorflow==2.16.1',
  'tf-keras==2.16.0',
  'tensorflow-decision-forests==1.9.0',
  'tensorflow-hub==0.16.1',
  'numpy==1.26.4',
  'jax==0.4.30',
  'jaxlib==0.4.30',
  'flax==0.8.5',
  'packaging==23.2',
];

/** Options of {@link exportSavedModel}. */
export interface ExportSavedModelOptions {
  /**
   * Path of the `tensorflowjs_converter` executable. When absent, the converter is looked up in
   * this order: the `TFJS_OFT_CONVERTER` environment variable; the interop virtual environment
   * (`$TFJS_OFT_VENV`, default `~/.cache/tfjs-oft/venv-tfjs`, created by
   * `interop/setup-python.sh`); `tensorflowjs_converter` on `PATH`.
   */
  converter?: string;
  /**
   * Directory that receives the merged model in the tfjs layers format (`model.json`,
   * `weights.bin`), the converter's input. Default: `<outDir>-tfjs-layers`, next to `outDir`.
   * It is kept after the export, so it can be converted again or loaded with
   * `tf.loadLayersModel`.
   */
  tfjsDir?: string;
  /**
   * Merge the adapters (`mergeAndUnload`) before writing. Default `true`. The converter knows
   * only Keras' built-in layers, so an unmerged `OrthogonalDense`/`ButterflyDense` model does not
   * convert; set `false` only for a model that is already plain.
   */
  merge?: boolean;
  /** Replace `outDir` when it already exists. Default `false` (an existing `outDir` is an error). */
  overwrite?: boolean;
  /** Extra environment variables for the converter process. */
  env?: Record<string, string>;
  /** Receives progress lines (default: silent). */
  log?: (line: string) => void;
}

/** What {@link exportSavedModel} wrote. */
export interface ExportSavedModelResult {
  /** The Keras SavedModel directory (`outDir`, absolute). */
  savedModelDir: string;
  /** The merged tfjs layers model directory (absolute), input of the converter. */
  tfjsDir: string;
  /** The `model.json` inside `tfjsDir`. */
  modelJsonPath: string;
  /** The converter executable that ran. */
  converter: string;
  /** Wall-clock seconds the converter took. */
  converterSeconds: number;
}

/** Thrown when no `tensorflowjs_converter` can be found; the merged tfjs model is already written. */
export class ConverterNotFoundError extends Error {
  /** The `model.json` of the merged model, ready for a manual conversion. */
  readonly modelJsonPath: string;
  constructor(message: string, modelJsonPath: string) {
    super(message);
    this.name = 'ConverterNotFoundError';
    this.modelJsonPath = modelJsonPath;
  }
}

interface NodeApi {
  fs: typeof Fs;
  path: typeof Path;
  os: typeof Os;
  cp: typeof ChildProcess;
}

const BROWSER_HINT =
  'exportSavedModel runs in Node.js only (it also needs a Python converter); in the browser, save the ' +
  'merged model with mergeAndUnload(model).save(...) and convert it on a machine with Python';

async function nodeApi(): Promise<NodeApi> {
  return {
    fs: await nodeBuiltin<typeof Fs>('node:fs', BROWSER_HINT),
    path: await nodeBuiltin<typeof Path>('node:path', BROWSER_HINT),
    os: await nodeBuiltin<typeof Os>('node:os', BROWSER_HINT),
    cp: await nodeBuiltin<typeof ChildProcess>('node:child_process', BROWSER_HINT),
  };
}

/** Default location of the virtual environment that `interop/setup-python.sh` creates. */
function defaultInteropVenv(
  env: Record<string, string | undefined>,
  home: string,
  join: (...p: string[]) => string,
): string {
  return env.TFJS_OFT_VENV ?? join(home, '.cache', 'tfjs-oft', 'venv-tfjs');
}

function isExecutable(node: NodeApi, file: string): boolean {
  try {
    node.fs.accessSync(file, node.fs.constants.X_OK);
    return node.fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds `tensorflowjs_converter`: the explicit path, then `$TFJS_OFT_CONVERTER`, then the interop
 * venv, then `PATH`. Returns `null` when none exists. An explicit path (argument or environment
 * variable) that is not an executable file is an error.
 */
export async function findConverter(explicit?: string): Promise<string | null> {
  const node = await nodeApi();
  const env = process.env;
  for (const [what, file] of [
    ['the converter option', explicit],
    ['TFJS_OFT_CONVERTER', env.TFJS_OFT_CONVERTER],
  ] as const) {
    if (file == null || file === '') continue;
    const abs = node.path.resolve(file);
    if (!isExecutable(node, abs)) {
      throw new Error(
        `exportSavedModel: ${what} names '${file}', which is not an executable file. ` +
          'Point it at tensorflowjs_converter (e.g. ~/.cache/tfjs-oft/venv-tfjs/bin/tensorflowjs_converter), ' +
          'or leave it unset to search the interop venv and PATH.',
      );
    }
    return abs;
  }
  const exe = process.platform === 'win32' ? 'tensorflowjs_converter.exe' : 'tensorflowjs_converter';
  const venv = defaultInteropVenv(env, node.os.homedir(), node.path.join);
  const inVenv = node.path.join(venv, process.platform === 'win32' ? 'Scripts' : 'bin', exe);
  if (isExecutable(node, inVenv)) return inVenv;
  for (const dir of (env.PATH ?? '').split(node.path.delimiter)) {
    if (dir === '') continue;
    const candidate = node.path.join(dir, exe);
    if (isExecutable(node, candidate)) return candidate;
  }
  return null;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The converter arguments for tfjs layers model → Keras SavedModel. */
function converterArgs(modelJsonPath: string, savedModelDir: string): string[] {
  return ['--input_format=tfjs_layers_model', '--output_format=keras_saved_model', modelJsonPath, savedModelDir];
}

function missingConverterMessage(modelJsonPath: string, savedModelDir: string, venv: string): string {
  const pins = CONVERTER_PYTHON_PINS.map(shellQuote).join(' ');
  const cmd = ['tensorflowjs_converter', ...converterArgs(modelJsonPath, savedModelDir)].map(shellQuote).join(' ');
  return [
    'exportSavedModel: no tensorflowjs_converter found (looked at the converter option, $TFJS_OFT_CONVERTER, ' +
      `${venv}/bin/tensorflowjs_converter and PATH).`,
    `The merged model is written and ready for conversion: ${modelJsonPath}`,
    'Install the converter (Python 3.9-3.12) with the interop script of tfjs-oft (in a checkout, or',
    'node_modules/tfjs-oft/interop/setup-python.sh in a project that installed tfjs-oft):',
    '  bash interop/setup-python.sh',
    'or by hand:',
    `  python3 -m venv ${shellQuote(venv)} && ${shellQuote(venv)}/bin/pip install ${pins}`,
    'then run exportSavedModel again, or convert by hand:',
    `  ${cmd}`,
  ].join('\n');
}

function run(node: NodeApi, file: string, args: string[], env: Record<string, string | undefined>):
    Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = node.cp.spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Exports a tfjs-layers model to a TensorFlow (Keras) SavedModel in `outDir`: merges the
 * adapters with `mergeAndUnload` (so every `OrthogonalDense`/`ButterflyDense` becomes a plain
 * `Dense` with kernel `R·K·diag(s)`), writes the merged model in the tfjs layers format to
 * `options.tfjsDir`, and runs
 * `tensorflowjs_converter --input_format=tfjs_layers_model --output_format=keras_saved_model`.
 *
 * Node.js only. When no converter is found it throws {@link ConverterNotFoundError}, whose message
 * gives the install and conversion commands; the merged tfjs model is written before that.
 * The given model is not modified.
 *
 * ```ts
 * await exportSavedModel(model, './saved-model');
 * // python: tf.saved_model.load('./saved-model').signatures['serving_default'](...)
 * ```
 */
export async function exportSavedModel(model: LayersModel, outDir: string,
                                       options: ExportSavedModelOptions = {}): Promise<ExportSavedModelResult> {
  const node = await nodeApi();
  const log = options.log ?? (() => {});
  const savedModelDir = node.path.resolve(outDir);
  const tfjsDir = node.path.resolve(options.tfjsDir ?? `${savedModelDir.replace(/[\\/]+$/, '')}-tfjs-layers`);
  if (tfjsDir === savedModelDir) {
    throw new Error(
      `exportSavedModel: tfjsDir and outDir are the same directory (${tfjsDir}); give tfjsDir another path.`,
    );
  }
  if (node.fs.existsSync(savedModelDir)) {
    if (!options.overwrite) {
      throw new Error(
        `exportSavedModel: outDir ${savedModelDir} already exists; remove it or pass { overwrite: true }.`,
      );
    }
    node.fs.rmSync(savedModelDir, { recursive: true, force: true });
  }

  // An explicit converter path that is wrong fails before anything is written.
  const converter = await findConverter(options.converter);

  // 1. Merge and write the tfjs layers files.
  const merged = options.merge === false ? model : mergeAndUnload(model);
  try {
    node.fs.rmSync(tfjsDir, { recursive: true, force: true });
    node.fs.mkdirSync(tfjsDir, { recursive: true });
    await merged.save(fileSystem(tfjsDir));
  } finally {
    if (merged !== model) merged.dispose();
  }
  const modelJsonPath = node.path.join(tfjsDir, 'model.json');
  log(`wrote merged tfjs layers model: ${modelJsonPath}`);

  // 2. Run the converter.
  if (converter == null) {
    const venv = defaultInteropVenv(process.env, node.os.homedir(), node.path.join);
    throw new ConverterNotFoundError(missingConverterMessage(modelJsonPath, savedModelDir, venv), modelJsonPath);
  }
  node.fs.mkdirSync(node.path.dirname(savedModelDir), { recursive: true });
  const args = converterArgs(modelJsonPath, savedModelDir);
  log(`running: ${[converter, ...args].map(shellQuote).join(' ')}`);
  const t0 = Date.now();
  const env = { TF_CPP_MIN_LOG_LEVEL: '2', ...process.env, ...options.env };
  const res = await run(node, converter, args, env);
  const converterSeconds = (Date.now() - t0) / 1000;
  if (res.code !== 0 || !node.fs.existsSync(node.path.join(savedModelDir, 'saved_model.pb'))) {
    const tail = (res.stderr + res.stdout).trim().split('\n').slice(-25).join('\n');
    throw new Error(
      `exportSavedModel: ${converter} failed (exit ${res.code ?? res.signal}) converting ${modelJsonPath} to ` +
        `${savedModelDir}.\n` +
        `Converter output (last lines):\n${tail}\n` +
        'If it names an unknown layer class, the model still holds a layer Keras does not know: ' +
        'export with merge enabled, or replace that layer.',
    );
  }
  log(`wrote SavedModel: ${savedModelDir} (converter ${converterSeconds.toFixed(1)} s)`);
  return { savedModelDir, tfjsDir, modelJsonPath, converter, converterSeconds };
}
