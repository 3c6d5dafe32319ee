// tfjs side of the PEFT round trip (see roundtrip.py; run all of it with `npm run interop:peft`).
// For each case in WORK: import PEFT's trained adapter into a plain tfjs model and compare with
// PEFT's outputs; train further in tfjs; export the adapter for PeftModel.from_pretrained.
import * as tf from '@tensorflow/tfjs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { applyBoft, exportPeftAdapter, exportPeftAdapterFiles, importPeftAdapter, PeftNameMap } from '../../src/index';

interface Encoded { dtype: 'float32' | 'float64'; shape: number[]; data: string }
const TOL = 1e-5;

function decode(e: Encoded): tf.Tensor {
  const buf = Buffer.from(e.data, 'base64');
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = e.dtype === 'float64' ? Float32Array.from(new Float64Array(bytes)) : new Float32Array(bytes);
  return tf.tensor(data, e.shape);
}

function encode(t: tf.Tensor): Encoded {
  const data = t.dataSync() as Float32Array;
  return {
    dtype: 'float32',
    shape: t.shape,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  };
}

function rel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

/** The torch modules of each architecture of roundtrip.py, in order. */
const MODULES: Record<string, string[]> = { mlp: ['fc1', 'fc2', 'head'], cnn: ['conv1', 'conv2', 'head'] };

/**
 * roundtrip.py's torch model as tfjs layers named `names[torchModule]`: Net (fc1 → ReLU → fc2 → ReLU → head)
 * as Dense layers, or Cnn (conv1 3×3 padding 1 → ReLU → conv2 3×3 stride 2 padding 1 → ReLU → spatial
 * mean → head) on NHWC inputs, torch's padding as ZeroPadding2D before 'valid' convolutions.
 */
function baseModel(arch: string, state: Record<string, Encoded>, names: Record<string, string>): tf.LayersModel {
  let input: tf.SymbolicTensor;
  let h: tf.SymbolicTensor;
  if (arch === 'cnn') {
    input = tf.input({ shape: [6, 6, 4] });
    h = tf.layers.zeroPadding2d({ padding: 1 }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ name: names.conv1, filters: 4, kernelSize: 3, activation: 'relu' }).apply(h) as
      tf.SymbolicTensor;
    h = tf.layers.zeroPadding2d({ padding: 1 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ name: names.conv2, filters: 4, kernelSize: 3, strides: 2, activation: 'relu' })
      .apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ name: names.head, units: 3 }).apply(h) as tf.SymbolicTensor;
  } else {
    input = tf.input({ shape: [16] });
    h = tf.layers.dense({ name: names.fc1, units: 16, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.dense({ name: names.fc2, units: 12, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ name: names.head, units: 4 }).apply(h) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: input, outputs: h });
  for (const torch of MODULES[arch]) {
    const w = decode(state[`${torch}.weight`]);
    // torch Linear [n, d] → [d, n]; torch Conv2d [out, cin, kh, kw] → [kh, kw, cin, out]
    const k = w.rank === 4 ? tf.transpose(w, [2, 3, 1, 0]) : tf.transpose(w);
    const b = decode(state[`${torch}.bias`]);
    model.getLayer(names[torch]).setWeights([k, b]);
    tf.dispose([w, k, b]);
  }
  return model;
}

/** A torch input of the architecture in tfjs layout (NCHW → NHWC for the CNN). */
function input(arch: string, e: Encoded): tf.Tensor {
  const t = decode(e);
  if (arch !== 'cnn') return t;
  const nhwc = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return nhwc;
}

async function main(): Promise<void> {
  const work = process.argv[2];
  if (!work) throw new Error('usage: tsx interop/peft/roundtrip.ts WORKDIR');
  await tf.setBackend(process.env.TFJS_BACKEND ?? 'cpu');
  let failures = 0;
  for (const name of readdirSync(work).sort()) {
    const dir = `${work}/${name}`;
    const c = JSON.parse(readFileSync(`${dir}/case.json`, 'utf8'));
    // OFT cases map names with a table, BOFT cases with functions (one per direction).
    const arch: string = c.arch ?? 'mlp';
    const names = Object.fromEntries(MODULES[arch].map((t) => [t, t === 'head' ? 'cls_head' : `enc_${t}`]));
    const importMap: PeftNameMap = name.startsWith('oft') ? names : (t) => (t === 'head' ? 'cls_head' : `enc_${t}`);
    const exportMap: PeftNameMap = name.startsWith('oft')
      ? names
      : (t) => (t === 'cls_head' ? 'head' : t.replace(/^enc_/, ''));
    const base = baseModel(arch, c.base, names);
    const model = await importPeftAdapter(base, `${dir}/peft_adapter`, { nameMap: importMap });
    const x = input(arch, c.x);
    const yImport = model.predict(x) as tf.Tensor;
    const eImport = rel(yImport, decode(c.y_peft));

    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const [xTrain, yTrain] = [input(arch, c.x_train), decode(c.y_train)];
    const hist = await model.fit(xTrain, yTrain, { epochs: 25, batchSize: 64, verbose: 0 });
    tf.dispose([xTrain, yTrain]);
    const yAfter = model.predict(x) as tf.Tensor;
    const exported = await exportPeftAdapter(model, `${dir}/tfjs_adapter`, { nameMap: exportMap });
    writeFileSync(`${dir}/tfjs.json`, JSON.stringify({ y_tfjs_after_training: encode(yAfter), import_rel: eImport,
      tfjs_losses: hist.history.loss, exported_config: exported.config }));
    const ok = eImport < TOL;
    failures += ok ? 0 : 1;
    console.log(
      `tfjs ${name} (${arch}): imported PEFT adapter vs PEFT outputs rel ${eImport.toExponential(2)} ` +
        `${ok ? 'OK' : 'FAIL'}; ` +
        `trained in tfjs (loss ${(hist.history.loss[0] as number).toFixed(4)} → ` +
          `${(hist.history.loss.at(-1) as number).toFixed(4)}), ` +
        `exported (bias=${exported.config.bias}, modules_to_save=${JSON.stringify(exported.config.modules_to_save)})`,
    );
    tf.dispose([x, yImport, yAfter]);
    model.dispose();
    base.dispose();
  }
  // What PEFT cannot express fails with a clear error.
  const mlp = readdirSync(work).sort().map((n) => JSON.parse(readFileSync(`${work}/${n}/case.json`, 'utf8')))
    .find((c) => (c.arch ?? 'mlp') === 'mlp');
  const base = baseModel('mlp', mlp.base, Object.fromEntries(MODULES.mlp.map((t) => [t, t])));
  const neumannBoft = applyBoft(base, { targetModules: ['fc1'], boftBlockSize: 4, useCayleyNeumann: true });
  try {
    exportPeftAdapterFiles(neumannBoft);
    console.log('tfjs error check: FAIL (a Cayley–Neumann BOFT adapter was exported)');
    failures++;
  } catch (e) {
    console.log(`tfjs error check OK: ${(e as Error).message}`);
  }
  neumannBoft.dispose();
  base.dispose();
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
