// Command-line entry `tfjs-oft` (package.json "bin"; built to dist/cli.js). Node.js only.
//   tfjs-oft export <model.json> <outDir> [--converter PATH] [--tfjs-dir DIR] [--no-merge] [--overwrite]
// From a checkout without a build: `npx tsx src/cli.ts export ...`.
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-core';
import { exportSavedModel, ConverterNotFoundError } from './export/export-saved-model';
import { staysInside } from './io/contained-path';
import { fileSystem } from './io/file-system';
import './registry';

const USAGE = `Usage: tfjs-oft <command> [options]

Commands:
  export <model.json> <outDir>   Merge the OFT/BOFT adapters of a saved tfjs layers model into
                                 plain Dense layers and convert it to a TensorFlow (Keras)
                                 SavedModel in <outDir> with tensorflowjs_converter.

Options of export:
  --converter PATH   tensorflowjs_converter to run. Default: $TFJS_OFT_CONVERTER, else the
                     interop venv ($TFJS_OFT_VENV, default ~/.cache/tfjs-oft/venv-tfjs, made by
                     interop/setup-python.sh), else tensorflowjs_converter on PATH.
  --tfjs-dir DIR     Where the merged tfjs layers model (the converter's input) is written.
                     Default: <outDir>-tfjs-layers.
  --no-merge         Convert the model as it is (only for a model without adapters).
  --overwrite        Replace <outDir> and the --tfjs-dir folder if they exist (only once the
                     new export is complete; a failed export leaves them unchanged).
  -h, --help         Show this help.

Without a converter, the merged tfjs model is still written and the error message gives the
exact commands to install tensorflowjs 4.22 (Python 3.9-3.12) and to convert by hand.

Example:
  tfjs-oft export ./oft-model/model.json ./saved-model
  python -c "import tensorflow as tf; print(tf.saved_model.load('./saved-model').signatures)"
`;

interface ExportArgs {
  modelJson: string;
  outDir: string;
  converter?: string;
  tfjsDir?: string;
  merge: boolean;
  overwrite: boolean;
}

class UsageError extends Error {}

function parseExportArgs(argv: string[]): ExportArgs {
  const positional: string[] = [];
  const out: Partial<ExportArgs> & { merge: boolean; overwrite: boolean } = { merge: true, overwrite: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (flag: string): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v == null || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (a === '--converter' || a.startsWith('--converter=')) out.converter = value('--converter');
    else if (a === '--tfjs-dir' || a.startsWith('--tfjs-dir=')) out.tfjsDir = value('--tfjs-dir');
    else if (a === '--no-merge') out.merge = false;
    else if (a === '--overwrite') out.overwrite = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) {
    throw new UsageError(
      `export takes <model.json> <outDir>, got ${positional.length} argument(s): ${positional.join(' ')}`,
    );
  }
  return { ...out, modelJson: positional[0], outDir: positional[1] } as ExportArgs;
}

async function ensureBackend(): Promise<void> {
  // tfjs-core alone has no kernels, no chained ops (x.reshape) and no gradients; the union
  // package @tensorflow/tfjs registers all three (with the CPU backend) on the same tfjs-core.
  try {
    const spec = '@tensorflow/tfjs';
    await import(spec);
  } catch (e) {
    try {
      const cpu = '@tensorflow/tfjs-backend-cpu';
      const chained = '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
      await import(cpu);
      await import(chained);
    } catch {
      throw new Error(
        `tfjs-oft: could not load @tensorflow/tfjs (${(e as Error).message}); install it: npm install ` +
          `@tensorflow/tfjs@4.22.0`,
      );
    }
  }
  if (tfc.engine().backendNames().length === 0) {
    throw new Error(
      'tfjs-oft: no tfjs backend registered; install @tensorflow/tfjs (npm install @tensorflow/tfjs@4.22.0).',
    );
  }
  await tfc.ready();
}

async function runExport(argv: string[]): Promise<number> {
  const args = parseExportArgs(argv);
  const path = (globalThis as { process: { getBuiltinModule(id: string): unknown } }).process
    .getBuiltinModule('node:path') as typeof import('node:path');
  const modelJson = path.resolve(args.modelJson);
  // Never replace the model being exported (e.g. --tfjs-dir pointed at the adapter model's folder).
  const modelDir = path.dirname(modelJson);
  for (const [what, dir] of [['--tfjs-dir', args.tfjsDir], ['<outDir>', args.outDir]] as const) {
    if (dir == null) continue;
    const rel = path.relative(path.resolve(dir), modelDir);
    if (rel === '' || staysInside(path, rel)) {
      throw new UsageError(`${what} ${dir} holds the model being exported (${modelJson}); exporting there would ` +
        'replace it. Pick another folder.');
    }
  }
  await ensureBackend();
  const model = await loadLayersModel(fileSystem(modelJson));
  try {
    const res = await exportSavedModel(model, args.outDir, {
      converter: args.converter, tfjsDir: args.tfjsDir, merge: args.merge, overwrite: args.overwrite,
      log: (line) => console.error(`[tfjs-oft] ${line}`),
    });
    console.log(res.savedModelDir);
    return 0;
  } finally {
    model.dispose();
  }
}

/** Runs the CLI on `argv` (without `node` and the script); resolves to the exit code. */
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd == null || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    console.log(USAGE);
    return cmd == null ? 1 : 0;
  }
  try {
    if (cmd === 'export') {
      if (rest.includes('-h') || rest.includes('--help')) { console.log(USAGE); return 0; }
      return await runExport(rest);
    }
    throw new UsageError(`unknown command '${cmd}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tfjs-oft: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof ConverterNotFoundError) {
      console.error(e.message);
      return 3;
    }
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
