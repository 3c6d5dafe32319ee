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
import { findAdapterLayers } from '../surgery/find-adapters';
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
  /**
   * Replace `outDir` and `tfjsDir` when they already exist. Default `false` (an existing one is an
   * error, raised before anything is written). Old content is replaced only once the new export
   * is complete; a failed export leaves it as it was.
   */
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
    'then run exportSavedModel again with overwrite (CLI: --overwrite, replacing this merged model),',
    'or convert by hand:',
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
  // Everything that can be refused is refused before anything is written or removed.
  if (tfjsDir === savedModelDir) {
    throw new Error(
      `exportSavedModel: tfjsDir and outDir are the same directory (${tfjsDir}); give tfjsDir another path.`,
    );
  }
  for (const [what, dir] of [['outDir', savedModelDir], ['tfjsDir', tfjsDir]] as const) {
    if (node.fs.existsSync(dir) && !options.overwrite) {
      throw new Error(`exportSavedModel: ${what} ${dir} already exists; remove it, pick another path or pass ` +
        '{ overwrite: true } (CLI: --overwrite), which replaces it once the new export is complete.');
    }
  }
  if (options.merge === false) {
    const adapters = findAdapterLayers(model);
    if (adapters.length > 0) {
      const names = adapters.map((l) => `${l.name}: ${l.getClassName()}`).join(', ');
      throw new Error(`exportSavedModel: merge is false but the model holds adapter layers (${names}), which ` +
        'tensorflowjs_converter does not know. Export with merge (the default; CLI: without --no-merge).');
    }
  }
  // An explicit converter path that is wrong fails before anything is written.
  const converter = await findConverter(options.converter);

  // 1. Merge, write the tfjs layers files next to tfjsDir, then put them in its place.
  const merged = options.merge === false ? model : mergeAndUnload(model);
  const tmpTfjs = siblingTemp(node, tfjsDir);
  try {
    await merged.save(fileSystem(tmpTfjs));
  } catch (err) {
    node.fs.rmSync(tmpTfjs, { recursive: true, force: true });
    throw new Error(`exportSavedModel: could not write the merged model next to ${tfjsDir}: ${(err as Error).message}`);
  } finally {
    if (merged !== model) merged.dispose();
  }
  replaceDir(node, tmpTfjs, tfjsDir);
  const modelJsonPath = node.path.join(tfjsDir, 'model.json');
  log(`wrote merged tfjs layers model: ${modelJsonPath}`);

  // 2. Run the converter into a new folder; it replaces outDir only once it holds a SavedModel.
  if (converter == null) {
    const venv = defaultInteropVenv(process.env, node.os.homedir(), node.path.join);
    throw new ConverterNotFoundError(missingConverterMessage(modelJsonPath, savedModelDir, venv), modelJsonPath);
  }
  const tmpSaved = siblingTemp(node, savedModelDir);
  node.fs.rmSync(tmpSaved, { recursive: true, force: true }); // the converter creates it
  const args = converterArgs(modelJsonPath, tmpSaved);
  log(`running: ${[converter, ...args].map(shellQuote).join(' ')}`);
  const t0 = Date.now();
  const env = { TF_CPP_MIN_LOG_LEVEL: '2', ...process.env, ...options.env };
  const res = await run(node, converter, args, env);
  const converterSeconds = (Date.now() - t0) / 1000;
  if (res.code !== 0 || !node.fs.existsSync(node.path.join(tmpSaved, 'saved_model.pb'))) {
    node.fs.rmSync(tmpSaved, { recursive: true, force: true });
    const tail = (res.stderr + res.stdout).trim().split('\n').slice(-25).join('\n');
    const unchanged = node.fs.existsSync(savedModelDir) ? ' (left unchanged)' : '';
    throw new Error(`exportSavedModel: ${converter} failed (exit ${res.code ?? res.signal}) converting ` +
                    `${modelJsonPath} to ${savedModelDir}${unchanged}.\n` +
                    `Converter output (last lines):\n${tail}\n` +
                    'If it names an unknown layer class, the model still holds a layer Keras does not know: ' +
                    'export with merge enabled, or replace that layer.');
  }
  replaceDir(node, tmpSaved, savedModelDir);
  log(`wrote SavedModel: ${savedModelDir} (converter ${converterSeconds.toFixed(1)} s)`);
  return { savedModelDir, tfjsDir, modelJsonPath, converter, converterSeconds };
}

/** A new, unused path next to `dir` (same folder, so that a rename moves it into place). Creates the parent. */
function siblingTemp(node: NodeApi, dir: string): string {
  const parent = node.path.dirname(dir);
  try {
    node.fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new Error(`exportSavedModel: cannot create ${parent}: ${(err as Error).message}.${hint(err)}`);
  }
  return `${dir}.tmp-${process.pid}-${Date.now().toString(36)}`;
}

/** Moves the complete `fresh` folder to `dir`; an existing `dir` is moved aside first and removed last. */
function replaceDir(node: NodeApi, fresh: string, dir: string): void {
  const old = `${fresh}-old`;
  try {
    if (node.fs.existsSync(dir)) node.fs.renameSync(dir, old);
    try {
      node.fs.renameSync(fresh, dir);
    } catch (err) {
      if (node.fs.existsSync(old)) node.fs.renameSync(old, dir);
      throw err;
    }
  } catch (err) {
    node.fs.rmSync(fresh, { recursive: true, force: true });
    const kept = node.fs.existsSync(dir) ? ' Its previous content is unchanged.' : '';
    throw new Error(`exportSavedModel: cannot move the new export into ${dir}: ${(err as Error).message}.` +
      `${hint(err)}${kept}`);
  }
  node.fs.rmSync(old, { recursive: true, force: true });
}

/** A hint for file-system errors a user can fix. */
function hint(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return ' Check that you may write there (permissions), or export elsewhere.';
  }
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    return ' A file (not a folder) stands in the way: remove it or pick another path.';
  }
  if (code === 'ENOSPC') return ' The disk is full.';
  return '';
}
