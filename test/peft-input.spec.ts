// Untrusted PEFT files (issue 13): every field of adapter_config.json and of the safetensors
// header is type- and range-checked, files stay inside the adapter folder, and a safetensors
// file is read header first, never beyond what its header promises.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyOft, exportPeftAdapter, importPeftAdapter, loadPeftAdapterFiles, PeftAdapterConfig, readSafetensors,
} from '../src/index';

const FIXTURE = fileURLToPath(new URL('./fixtures/peft/oft_neumann_b4/', import.meta.url));
const config = () => JSON.parse(readFileSync(join(FIXTURE, 'adapter_config.json'), 'utf8')) as PeftAdapterConfig;
const weights = () => new Uint8Array(readFileSync(join(FIXTURE, 'adapter_model.safetensors')));

/** A safetensors file from a header object and data bytes (as the format lays them out). */
function safetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function base(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [16], name: 'proj' })] });
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => '(no error)', (e: Error) => `${e.constructor.name}: ${e.message}`);
}

describe('PEFT import: config fields are type-checked', () => {
  const bad = [['coft', 'false'], ['use_cayley_neumann', 'no'], ['block_share', 0], ['fan_in_fan_out', 'false']];
  for (const [key, value] of bad) {
    it(`refuses ${key}: ${JSON.stringify(value)} (a boolean written as something else)`, async () => {
      const m = base();
      const msg = await messageOf(importPeftAdapter(m, { config: { ...config(), [key]: value }, weights: weights() }));
      const want = `^Error: PEFT adapter: ${key} must be true or false .*got ${JSON.stringify(value)}`;
      expect(msg).to.match(new RegExp(want));
      m.dispose();
    });
  }

  it('refuses an adapter whose target_modules do not select the modules it holds, as PEFT does', async () => {
    const m = base();
    for (const targets of [['q_proj'], 'q_.*', ['xproj']]) {
      const files = { config: { ...config(), target_modules: targets }, weights: weights() };
      const msg = await messageOf(importPeftAdapter(m, files));
      expect(msg, JSON.stringify(targets)).to.match(/target_modules .* do not select module\(s\) proj.*PEFT refuses/);
    }
    const files = { config: { ...config(), exclude_modules: ['proj'] }, weights: weights() };
    const excluded = await messageOf(importPeftAdapter(m, files));
    expect(excluded).to.match(/exclude_modules.*do not select module\(s\) proj/);
    // PEFT's own forms that do select it: a suffix entry, a full-match regex, all-linear.
    for (const targets of [['model.proj', 'proj'], 'pr.j', 'all-linear']) {
      const ok = { config: { ...config(), target_modules: targets }, weights: weights() };
      const tuned = await importPeftAdapter(m, ok);
      expect(tuned.layers[0].getClassName(), JSON.stringify(targets)).to.equal('OrthogonalDense');
      tuned.dispose();
    }
    m.dispose();
  });
});

describe('PEFT import: the files stay inside the adapter folder and are read header first', () => {
  it('refuses adapter files that are symlinks out of the folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'oft-peft-link-'));
    const dir = join(root, 'adapter');
    mkdirSync(dir);
    writeFileSync(join(root, 'adapter_config.json'), JSON.stringify(config()));
    writeFileSync(join(dir, 'adapter_model.safetensors'), weights());
    symlinkSync(join(root, 'adapter_config.json'), join(dir, 'adapter_config.json'));
    expect(await messageOf(loadPeftAdapterFiles(dir))).to.match(/adapter_config\.json" leaves its folder/);
  });

  it('refuses a link to /dev/zero, and a FIFO in place of the safetensors file, at once', async function () {
    if (process.platform === 'win32') this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'oft-peft-zero-'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config()));
    symlinkSync('/dev/zero', join(dir, 'adapter_model.safetensors'));
    expect(await messageOf(loadPeftAdapterFiles(dir))).to.match(/adapter_model\.safetensors" leaves its folder/);
    // A FIFO inside the folder: reading it whole would block (or, for a device, never end).
    rmSync(join(dir, 'adapter_model.safetensors'));
    execFileSync('mkfifo', [join(dir, 'adapter_model.safetensors')]);
    expect(await messageOf(loadPeftAdapterFiles(dir))).to.match(/adapter_model\.safetensors': not a regular file/);
  });

  it('reads only the bytes the header promises: trailing bytes of a longer file are never read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-peft-tail-'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config()));
    const w = weights();
    const longer = new Uint8Array(w.length + 1024);
    longer.set(w);
    writeFileSync(join(dir, 'adapter_model.safetensors'), longer);
    const parsed = await loadPeftAdapterFiles(dir);
    expect([...parsed.adapted.keys()]).to.deep.equal(['proj']);
  });
});

describe('safetensors: every header field is type- and range-checked', () => {
  const data = new Uint8Array(16);
  new DataView(data.buffer).setFloat32(0, 1.5, true);
  const cases: Array<[string, unknown, RegExp]> = [
    ['data_offsets as strings', { t: { dtype: 'F32', shape: [4], data_offsets: ['0', '16'] } },
      /data_offsets \["0","16"\].*two integers/],
    ['fractional data_offsets', { t: { dtype: 'F32', shape: [4], data_offsets: [0.5, 16.5] } },
      /data_offsets .*two integers/],
    ['dtype "toString"', { t: { dtype: 'toString', shape: [4], data_offsets: [0, 16] } },
      /unsupported dtype "toString"/],
    ['dtype ["F32"]', { t: { dtype: ['F32'], shape: [4], data_offsets: [0, 16] } }, /unsupported dtype \["F32"\]/],
    ['dtype null', { t: { dtype: null, shape: [4], data_offsets: [0, 16] } }, /unsupported dtype null/],
    ['an entry that is a number', { t: 5 }, /unsupported dtype/],
    ['shape as strings', { t: { dtype: 'F32', shape: ['4'], data_offsets: [0, 16] } }, /invalid shape \["4"\]/],
    ['metadata that is not strings',
      { __metadata__: { format: 1 }, t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
      /__metadata__ must be an object of strings/],
  ];
  for (const [what, header, want] of cases) {
    it(`refuses ${what}`, () => {
      let msg = '(no error)';
      try {
        readSafetensors(safetensors(header, data));
      } catch (e) {
        msg = `${(e as Error).constructor.name}: ${(e as Error).message}`;
      }
      expect(msg).to.match(/^Error: safetensors: /);
      expect(msg).to.match(want);
    });
  }

  it('refuses integer (I64) adapter tensors on import with the tensor named, not a BigInt TypeError', async () => {
    const entry = { dtype: 'I64', shape: [2, 6], data_offsets: [0, 96] };
    const i64 = safetensors({ 'base_model.model.proj.oft_R.weight': entry },
      new Uint8Array(96));
    const m = base();
    const msg = await messageOf(importPeftAdapter(m, { config: config(), weights: i64 }));
    expect(msg)
      .to.match(/^Error: PEFT adapter: tensor 'base_model\.model\.proj\.oft_R\.weight' is I64; adapter tensors are/);
    m.dispose();
  });
});

describe('PEFT export: a failed write leaves the previous files', () => {
  it('an export that fails while writing the weights keeps the old adapter_config.json and weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oft-peft-out-'));
    const m = base();
    const first = await importPeftAdapter(m, { config: config(), weights: weights() });
    await exportPeftAdapter(first, dir);
    const before = ['adapter_config.json', 'adapter_model.safetensors'].map((f) => readFileSync(join(dir, f)));
    const other = applyOft(m, { targetModules: ['proj'], oftBlockSize: 8, initWeights: false });
    const fsp = process.getBuiltinModule('node:fs/promises') as unknown as Record<string, (...a: unknown[]) => unknown>;
    // The second file opened or written fails (whichever way the files are written).
    const saved = { open: fsp.open, writeFile: fsp.writeFile };
    let calls = 0;
    for (const name of ['open', 'writeFile'] as const) {
      fsp[name] = (...a: unknown[]) => {
        calls++;
        if (calls === 2) throw Object.assign(new Error('injected: disk full'), { code: 'ENOSPC' });
        return saved[name](...a);
      };
    }
    const msg = await messageOf(exportPeftAdapter(other, dir)).finally(() => Object.assign(fsp, saved));
    const after = ['adapter_config.json', 'adapter_model.safetensors'].map((f) => readFileSync(join(dir, f)));
    expect(after.map((b, i) => b.equals(before[i]))).to.deep.equal([true, true]);
    expect(msg).to.match(/cannot write into .*injected: disk full/);
    expect(readdirSync(dir).sort()).to.deep.equal(['adapter_config.json', 'adapter_model.safetensors']);
    for (const x of [m, first, other]) x.dispose();
  });
});
