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

/** The torch Net (fc1 → ReLU → fc2 → ReLU → head) as tfjs Dense layers with other names. */
function baseModel(state: Record<string, Encoded>, names: Record<string, string>): tf.LayersModel {
  const input = tf.input({ shape: [16] });
  const h1 = tf.layers.dense({ name: names.fc1, units: 16, activation: 'relu' }).apply(input);
  const h2 = tf.layers.dense({ name: names.fc2, units: 12, activation: 'relu' }).apply(h1);
  const out = tf.layers.dense({ name: names.head, units: 4 }).apply(h2) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  for (const torch of ['fc1', 'fc2', 'head']) {
    const w = decode(state[`${torch}.weight`]);
    const k = w.transpose();
    const b = decode(state[`${torch}.bias`]);
    model.getLayer(names[torch]).setWeights([k, b]);
    tf.dispose([w, k, b]);
  }
  return model;
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
    const names = { fc1: 'enc_fc1', fc2: 'enc_fc2', head: 'cls_head' };
    const importMap: PeftNameMap = name.startsWith('oft') ? names : (t) => (t === 'head' ? 'cls_head' : `enc_${t}`);
    const exportMap: PeftNameMap = name.startsWith('oft')
      ? names
      : (t) => (t === 'cls_head' ? 'head' : t.replace(/^enc_/, ''));
    const base = baseModel(c.base, names);
    const model = await importPeftAdapter(base, `${dir}/peft_adapter`, { nameMap: importMap });
    const x = decode(c.x);
    const yImport = model.predict(x) as tf.Tensor;
    const eImport = rel(yImport, decode(c.y_peft));

    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const hist = await model.fit(decode(c.x_train), decode(c.y_train), { epochs: 25, batchSize: 64, verbose: 0 });
    const yAfter = model.predict(x) as tf.Tensor;
    const exported = await exportPeftAdapter(model, `${dir}/tfjs_adapter`, { nameMap: exportMap });
    writeFileSync(`${dir}/tfjs.json`, JSON.stringify({ y_tfjs_after_training: encode(yAfter), import_rel: eImport,
      tfjs_losses: hist.history.loss, exported_config: exported.config }));
    const ok = eImport < TOL;
    failures += ok ? 0 : 1;
    console.log(
      `tfjs ${name}: imported PEFT adapter vs PEFT outputs rel ${eImport.toExponential(2)} ${ok ? 'OK' : 'FAIL'}; ` +
        `trained in tfjs (loss ${(hist.history.loss[0] as number).toFixed(4)} → ` +
          `${(hist.history.loss.at(-1) as number).toFixed(4)}), ` +
        `exported (bias=${exported.config.bias}, modules_to_save=${JSON.stringify(exported.config.modules_to_save)})`,
    );
    tf.dispose([x, yImport, yAfter]);
    model.dispose();
    base.dispose();
  }
  // What PEFT cannot express fails with a clear error.
  const base = baseModel(JSON.parse(readFileSync(`${work}/${readdirSync(work).sort()[0]}/case.json`, 'utf8')).base,
    { fc1: 'fc1', fc2: 'fc2', head: 'head' });
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
