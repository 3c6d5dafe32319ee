// `npm run setup:tfjs-node`: makes `require('@tensorflow/tfjs-node')` work on a machine that can reach
// the npm registry and PyPI but not the host tfjs-node's own install script downloads from. It takes
// the TensorFlow C library from the pinned `tensorflow-cpu` PyPI wheel (hash checked) and compiles
// tfjs-node's addon from its own `binding/` sources with npm's node-gyp against the local Node headers.
// Does nothing when tfjs-node already loads. Linux x86-64 only. Cache: $TFJS_OFT_CACHE or ~/.cache/tfjs-oft.
// `--gpu` does the same for @tensorflow/tfjs-node-gpu with the `tensorflow` wheel and the CUDA libraries
// of the `nvidia-*` wheels: UNTESTED, no GPU machine has been available (docs/tfjs-node-gpu.md).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const GPU = process.argv.includes('--gpu');
const PACKAGE = GPU ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
// One home for the pins: wheels whose `libtensorflow_cc.so.2` exports the whole TensorFlow C API.
const PYTHON_VERSION = '3.11';
const PLATFORM = 'manylinux_2_27_x86_64';
const WHEEL = GPU ? {
  requirement: 'tensorflow==2.21.0',
  file: 'tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124',
} : {
  requirement: 'tensorflow-cpu==2.21.0',
  file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
};
// The `and-cuda` extra of tensorflow 2.21.0 (its METADATA gives ranges; these are their lower bounds).
// The GPU wheel's libraries look for them in `$ORIGIN/../nvidia/<name>/lib`, i.e. deps/nvidia/.
const CUDA_WHEELS = [
  'nvidia-cublas-cu12==12.5.3.2', 'nvidia-cuda-cupti-cu12==12.5.82', 'nvidia-cuda-nvcc-cu12==12.5.82',
  'nvidia-cuda-nvrtc-cu12==12.5.82', 'nvidia-cuda-runtime-cu12==12.5.82', 'nvidia-cudnn-cu12==9.3.0.75',
  'nvidia-cufft-cu12==11.2.3.61', 'nvidia-curand-cu12==10.3.6.82', 'nvidia-cusolver-cu12==11.6.3.83',
  'nvidia-cusparse-cu12==12.5.1.3', 'nvidia-nccl-cu12==2.27.7', 'nvidia-nvjitlink-cu12==12.5.82',
];
// What the addon needs from the wheel (found with `g++ -M` on binding/*.cc): the C API headers, the
// tstring headers they include, and the two shared libraries.
const WHEEL_INCLUDE = 'tensorflow/include/';
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/'];
const LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
// binding.gyp links `-ltensorflow -ltensorflow_framework`; the wheel's C API lives in libtensorflow_cc.
const LINK_NAMES = { 'libtensorflow.so': 'libtensorflow_cc.so.2', 'libtensorflow.so.2': 'libtensorflow_cc.so.2',
  'libtensorflow_framework.so': 'libtensorflow_framework.so.2' };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`[setup:tfjs-node] ${msg}`);

function fail(msg) {
  console.error(`[setup:tfjs-node] ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error != null || r.status !== 0) {
    fail(`'${cmd} ${args.join(' ')}' failed (${r.error?.message ?? `exit code ${r.status}`}).`);
  }
}

// Loads tfjs-node in a fresh process and runs one matmul on it: the check both before and after.
function tfjsNodeWorks(quiet) {
  const probe = `const tf = require('${PACKAGE}');` +
    "const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0];" +
    "if (tf.getBackend() !== 'tensorflow' || y !== 11) throw new Error(`backend ${tf.getBackend()}, 1*3+2*4 = ${y}`);";
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0 && !quiet) console.error(r.stderr.split('\n').slice(0, 8).join('\n'));
  return r.status === 0;
}

function sha256(file) {
  return new Promise((ok, ko) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => ok(h.digest('hex'))).on('error', ko);
  });
}

function python() {
  for (const exe of [process.env.PYTHON, 'python3', 'python']) {
    if (exe && spawnSync(exe, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0) return exe;
  }
  return fail('needs Python 3 with pip to fetch the TensorFlow wheel from PyPI (apt-get install python3-pip); ' +
    'set PYTHON to choose the interpreter.');
}

async function fetchWheel(py, cacheDir) {
  const wheel = join(cacheDir, WHEEL.file);
  if (existsSync(wheel) && (await sha256(wheel)) === WHEEL.sha256) {
    log(`using the cached wheel ${wheel}`);
    return wheel;
  }
  const tmp = join(cacheDir, `download-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  log(`downloading ${WHEEL.requirement} (${PLATFORM}, ${GPU ? '~570' : '~270'} MB) into ${cacheDir}`);
  run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', PYTHON_VERSION,
    '--platform', PLATFORM, '--dest', tmp, '--disable-pip-version-check', WHEEL.requirement]);
  const got = join(tmp, WHEEL.file);
  if (!existsSync(got)) fail(`pip did not produce ${WHEEL.file} (got: ${readdirSync(tmp).join(', ') || 'nothing'}).`);
  const hash = await sha256(got);
  if (hash !== WHEEL.sha256) {
    rmSync(tmp, { recursive: true, force: true });
    fail(`${WHEEL.file} has sha256 ${hash}, expected ${WHEEL.sha256}; refusing to use it.`);
  }
  renameSync(got, wheel);
  rmSync(tmp, { recursive: true, force: true });
  return wheel;
}

// Streams the libraries and headers out of the wheel (a zip) into the package's deps/ folder.
function unpack(py, wheel, depsDir) {
  const script = `
import os, shutil, sys, zipfile
wheel, deps, inc, prefixes, libs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(','), sys.argv[5].split(',')
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        if name.startswith(inc) and any(name[len(inc):].startswith(p) for p in prefixes):
            dest = os.path.join(deps, 'include', name[len(inc):])
        elif name.startswith('tensorflow/') and name[len('tensorflow/'):] in libs:
            dest = os.path.join(deps, 'lib', name[len('tensorflow/'):])
        elif name.startswith('nvidia/') and '/lib/' in name:
            dest = os.path.join(deps, name)
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as out:
            shutil.copyfileobj(src, out, 1 << 20)
`;
  run(py, ['-c', script, wheel, depsDir, WHEEL_INCLUDE, HEADER_PREFIXES.join(','), LIBRARIES.join(',')]);
}

// The CUDA libraries (GPU only): pinned nvidia-* wheels, downloaded once into the cache.
function fetchCudaWheels(py, cacheDir) {
  const dir = join(cacheDir, 'cuda-wheels');
  log(`downloading (or reusing) the CUDA wheels into ${dir} (several GB once)`);
  // These are tagged manylinux2014 (= manylinux_2_17), which pip does not count as PLATFORM when told one.
  const platforms = [PLATFORM, 'manylinux_2_17_x86_64', 'manylinux2014_x86_64'].flatMap((p) => ['--platform', p]);
  run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', PYTHON_VERSION,
    ...platforms, '--dest', dir, '--disable-pip-version-check', ...CUDA_WHEELS]);
  // A wheel's file name starts with its name (dashes as underscores), a dash and its version.
  const prefixes = CUDA_WHEELS.map((r) => r.split('=='))
    .map(([name, version]) => `${name.replace(/-/g, '_')}-${version}-`);
  return readdirSync(dir).filter((f) => f.endsWith('.whl') && prefixes.some((p) => f.startsWith(p)))
    .map((f) => join(dir, f));
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  return found ?? fail("cannot find npm's bundled node-gyp; run this through `npm run setup:tfjs-node`.");
}

// node-gyp would download the Node headers; use the ones installed beside this node instead.
function nodeDir() {
  const dir = resolve(dirname(process.execPath), '..');
  if (!existsSync(join(dir, 'include/node/node_api.h'))) {
    fail(`no Node headers at ${dir}/include/node (node_api.h); install them (Debian: the nodejs package's headers, ` +
      'or a Node.js tarball) and rerun.');
  }
  return dir;
}

function duBytes(path) {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st == null) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, e) => sum + duBytes(join(path, e)), 0);
}

async function main() {
  const started = Date.now();
  if (tfjsNodeWorks(true)) {
    log(`${PACKAGE} already loads; nothing to do.`);
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`builds only on Linux x86-64 (this is ${process.platform}-${process.arch}); ` +
      `install ${PACKAGE} the normal way (npm install ${PACKAGE}).`);
  }
  const require = createRequire(join(root, 'package.json'));
  let pkgJson;
  try {
    pkgJson = require.resolve(`${PACKAGE}/package.json`);
  } catch {
    return fail(GPU ? `${PACKAGE} is not installed: npm install --no-save --ignore-scripts ${PACKAGE}@4.22.0`
      : `${PACKAGE} is not installed; run \`npm ci\` first.`);
  }
  const pkgDir = dirname(pkgJson);
  // Where tfjs-node will look for its addon (lib/napi-vN/tfjs_binding.node, N chosen for this node).
  const bindingPath = require('@mapbox/node-pre-gyp').find(pkgJson);
  const napi = /napi-v(\d+)/.exec(bindingPath)?.[1] ?? fail(`unexpected addon path ${bindingPath}`);

  const cacheDir = process.env.TFJS_OFT_CACHE ?? join(homedir(), '.cache', 'tfjs-oft');
  mkdirSync(cacheDir, { recursive: true });
  const py = python();
  const wheel = await fetchWheel(py, cacheDir);

  const depsDir = join(pkgDir, 'deps');
  rmSync(depsDir, { recursive: true, force: true });
  log(`unpacking the TensorFlow C library into ${depsDir}`);
  unpack(py, wheel, depsDir);
  for (const lib of LIBRARIES) if (!existsSync(join(depsDir, 'lib', lib))) fail(`${lib} is missing from ${wheel}.`);
  for (const [name, target] of Object.entries(LINK_NAMES)) symlinkSync(target, join(depsDir, 'lib', name));
  if (GPU) {
    const cuda = fetchCudaWheels(py, cacheDir);
    if (cuda.length !== CUDA_WHEELS.length) fail(`expected ${CUDA_WHEELS.length} CUDA wheels, found ${cuda.length}.`);
    for (const w of cuda) unpack(py, w, depsDir);
  }

  log(`compiling the addon into ${bindingPath}`);
  run(process.execPath, [nodeGyp(), 'rebuild', `--nodedir=${nodeDir()}`, '--jobs=max', '--loglevel=warn',
    `--napi_build_version=${napi}`, '--module_name=tfjs_binding', `--module_path=${dirname(bindingPath)}`],
  { cwd: pkgDir });
  rmSync(join(pkgDir, 'build'), { recursive: true, force: true });

  if (!tfjsNodeWorks(false)) fail(`the addon was built but ${PACKAGE} still does not load (see above).`);
  const mb = (bytes) => `${Math.round(bytes / 2 ** 20)} MB`;
  log(`done in ${Math.round((Date.now() - started) / 1000)} s: ${PACKAGE} loads (backend 'tensorflow'); ` +
    `disk ${mb(duBytes(pkgDir))} in ${pkgDir}, ${mb(duBytes(wheel))} cached wheel.`);
}

await main();
