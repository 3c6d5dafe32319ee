// How Hugging Face PEFT's OFT and BOFT parameters and configs map to tfjs-oft's
// (docs/math.md §7), verified against peft 0.21.2 (the fixtures in test/fixtures/peft/ are
// written by it). Pure functions on plain arrays: no tensors, no file access. Which options
// cross under which names is part of each method's description (methods/adapter-methods.ts).
//
// OFT:  PEFT stores `oft_R.weight` [r, b(b−1)/2], the strict upper triangle of Q row by row, as
//       we do (Q = U − Uᵀ). Its Cayley–Neumann mode (the default) computes what ours computes
//       (for N ≥ 4; PEFT's N = 3 is our N = 4). Its exact mode computes (I − Q)(I + Q)⁻¹, the
//       inverse of ours: the parameters are negated on the way in and out.
// BOFT: PEFT stores full b×b matrices `boft_R` [m, N, b, b] and uses Q_peft = ½(A − Aᵀ) with the
//       same inverse exact Cayley: ours is Q = −½(A − Aᵀ), packed. `boft_s` is [n, 1] there ([1, n] for
//       Conv2d), [n] here.
// Conv2d: PEFT rotates the rows of its weight viewed as [out, cin·kh·kw] (channel-major), which is our
//       flattening of the kernel (docs/math.md §10); the adapter tensors are laid out as for Linear.
//       PEFT takes d = cin·kh² (kernel_size[0] squared), so only square kernels cross.

import { AdapterMethod, BOFT, OFT } from '../methods/adapter-methods';
import { packedSize } from '../ops/skew';

/** PEFT version the conventions were verified against (written into exported configs). */
export const PEFT_VERSION_VERIFIED = '0.21.2';

/** The fields of a PEFT `adapter_config.json` this package reads or writes. */
export interface PeftAdapterConfig {
  peft_type: string;
  target_modules?: string[] | string | null;
  modules_to_save?: string[] | null;
  bias?: string;
  fan_in_fan_out?: boolean;
  // OFT
  r?: number;
  oft_block_size?: number;
  module_dropout?: number;
  coft?: boolean;
  eps?: number;
  block_share?: boolean;
  use_cayley_neumann?: boolean;
  num_cayley_neumann_terms?: number;
  // BOFT
  boft_block_size?: number;
  boft_block_num?: number;
  boft_n_butterfly_factor?: number;
  boft_dropout?: number;
  [key: string]: unknown;
}

/** `OrthogonalDense` options equivalent to a PEFT OFT config. */
export interface OftOptionsFromPeft {
  oftBlockSize: number;
  r: number;
  useCayleyNeumann: boolean;
  numCayleyNeumannTerms: number;
  coft: boolean;
  eps: number;
  blockShare: boolean;
  moduleDropout: number;
}

/** `ButterflyDense` options equivalent to a PEFT BOFT config. */
export interface BoftOptionsFromPeft {
  boftBlockSize: number;
  boftBlockNum: number;
  boftNButterflyFactor: number;
  boftDropout: number;
  useCayleyNeumann: false;
}

const WHO = 'PEFT adapter';

/** Maps PEFT's `num_cayley_neumann_terms` to ours (PEFT's 3 terms compute our 4-term series). */
export function neumannTermsFromPeft(n: number): number {
  if (!Number.isInteger(n) || n < 3) {
    throw new Error(`${WHO}: num_cayley_neumann_terms=${n} gives PEFT's truncated series I${n >= 2 ? ' + 2Q' : ''}, ` +
      'which tfjs-oft cannot express (it needs N ≥ 3). Retrain with num_cayley_neumann_terms ≥ 3, or use ' +
      'use_cayley_neumann=false.');
  }
  return n === 3 ? 4 : n;
}

/** Maps our `numCayleyNeumannTerms` to PEFT's (our 3-term series has no PEFT equivalent). */
export function neumannTermsToPeft(n: number, layer: string): number {
  if (n === 3) {
    throw new Error(`${layer}: numCayleyNeumannTerms=3 computes (I + Q)², which PEFT cannot express (its 3-term ` +
      'series is I + 2Q + 2Q² + Q³, our 4-term one). Use numCayleyNeumannTerms ≥ 4 or useCayleyNeumann: false ' +
      'for an adapter that PEFT loads.');
  }
  return n;
}

function num(c: PeftAdapterConfig, key: string, dflt: number): number {
  const v = c[key];
  if (v == null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`${WHO}: ${key} must be a number, got ${JSON.stringify(v)}.`);
  return v;
}

function bool(c: PeftAdapterConfig, key: string, dflt: boolean): boolean {
  const v = c[key];
  if (v == null) return dflt;
  if (typeof v !== 'boolean') {
    throw new Error(`${WHO}: ${key} must be true or false (a JSON boolean), got ${JSON.stringify(v)}.`);
  }
  return v;
}

function checkCommon(c: PeftAdapterConfig): void {
  if (bool(c, 'fan_in_fan_out', false)) {
    throw new Error(`${WHO}: fan_in_fan_out=true (GPT-2 style Conv1D base layers) is not supported; tfjs Dense ` +
      'layers correspond to torch nn.Linear (weight = kernelᵀ).');
  }
}

/** The options of `method` that a PEFT config holds, by our keys (PEFT's defaults for missing keys). */
function optionsFromPeft(method: AdapterMethod, c: PeftAdapterConfig): Record<string, unknown> {
  if (c.peft_type !== method.peft.type) {
    throw new Error(`${WHO}: expected peft_type '${method.peft.type}', got '${c.peft_type}'.`);
  }
  checkCommon(c);
  const out: Record<string, unknown> = {};
  for (const o of method.peft.options) {
    const d = o.peftDefault;
    out[o.key] = typeof d === 'number' ? num(c, o.peftKey, d) : bool(c, o.peftKey, d);
  }
  return out;
}

/** `OrthogonalDense` options for a PEFT OFT config (PEFT's defaults for missing keys). */
export function oftOptionsFromPeft(c: PeftAdapterConfig): OftOptionsFromPeft {
  const options = optionsFromPeft(OFT, c) as unknown as OftOptionsFromPeft;
  const terms = options.numCayleyNeumannTerms;
  options.numCayleyNeumannTerms = options.useCayleyNeumann ? neumannTermsFromPeft(terms) : Math.max(terms, 3);
  return options;
}

/** `ButterflyDense` options for a PEFT BOFT config (PEFT's defaults for missing keys; PEFT's BOFT is exact Cayley). */
export function boftOptionsFromPeft(c: PeftAdapterConfig): BoftOptionsFromPeft {
  return { ...(optionsFromPeft(BOFT, c) as unknown as BoftOptionsFromPeft), useCayleyNeumann: false };
}

/**
 * PEFT OFT `oft_R.weight` → our `oft_r` (same layout). Exact-Cayley adapters are negated, since
 * PEFT's exact mode is the inverse of ours. The map is its own inverse (use it for export too).
 */
export function oftParamsFromPeft(v: ArrayLike<number>, useCayleyNeumann: boolean): Float32Array {
  const out = Float32Array.from(v);
  if (!useCayleyNeumann) for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/** Our `oft_r` → PEFT's `oft_R.weight` (see `oftParamsFromPeft`). */
export const oftParamsToPeft = oftParamsFromPeft;

/**
 * PEFT BOFT `boft_R` (`[m, N, b, b]`, any real matrices A) → our packed `boft_r` (`[m, N, b(b−1)/2]`):
 * `v = upper triangle of Q`, `Q = −½(A − Aᵀ)`.
 */
export function boftParamsFromPeft(a: ArrayLike<number>, m: number, n: number, b: number): Float32Array {
  const p = packedSize(b);
  if (a.length !== m * n * b * b)
    throw new Error(`${WHO}: boft_R has ${a.length} values, expected ${m}·${n}·${b}·${b}.`);
  const out = new Float32Array(m * n * p);
  for (let blk = 0; blk < m * n; blk++) {
    const base = blk * b * b;
    let k = blk * p;
    for (let i = 0; i < b; i++) {
      for (let j = i + 1; j < b; j++) out[k++] = -0.5 * (a[base + i * b + j] - a[base + j * b + i]);
    }
  }
  return out;
}

/** Our packed `boft_r` → PEFT's `boft_R` as the skew matrix `A = −Q` (so that ½(A − Aᵀ) = −Q). */
export function boftParamsToPeft(v: ArrayLike<number>, m: number, n: number, b: number): Float32Array {
  const p = packedSize(b);
  if (v.length !== m * n * p) throw new Error(`${WHO}: boft_r has ${v.length} values, expected ${m}·${n}·${p}.`);
  const out = new Float32Array(m * n * b * b);
  for (let blk = 0; blk < m * n; blk++) {
    const base = blk * b * b;
    let k = blk * p;
    for (let i = 0; i < b; i++) {
      for (let j = i + 1; j < b; j++) {
        out[base + i * b + j] = -v[k];
        out[base + j * b + i] = v[k];
        k++;
      }
    }
  }
  return out;
}

/** PyTorch `nn.Linear.weight` `[n, d]` ↔ tfjs Dense kernel `[d, n]` (a transpose; its own inverse). */
export function transpose2d(w: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = w[i * cols + j];
  return out;
}

/**
 * For each entry of a tfjs Conv2D kernel `[kh, kw, cin, out]` (row-major), the index of the same entry in
 * PyTorch's `nn.Conv2d.weight` `[out, cin, kh, kw]`: the one layout fact both conversions below use.
 */
function torchIndexOfKernelEntries(kh: number, kw: number, cin: number, out: number): Uint32Array {
  const index = new Uint32Array(kh * kw * cin * out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < out; o++) index[((i * kw + j) * cin + c) * out + o] = ((o * cin + c) * kh + i) * kw + j;
      }
    }
  }
  return index;
}

/**
 * PyTorch `nn.Conv2d.weight` `[out, cin, kh, kw]` → tfjs Conv2D kernel `[kh, kw, cin, out]`
 * (`shape` is the torch shape).
 */
export function torchConvWeightToKernel(w: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [out, cin, kh, kw] = shape;
  const index = torchIndexOfKernelEntries(kh, kw, cin, out);
  return Float32Array.from(index, (t) => w[t]);
}

/** tfjs Conv2D kernel `[kh, kw, cin, out]` → PyTorch `nn.Conv2d.weight` `[out, cin, kh, kw]` (`shape`: tfjs'). */
export function kernelToTorchConvWeight(k: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [kh, kw, cin, out] = shape;
  const index = torchIndexOfKernelEntries(kh, kw, cin, out);
  const w = new Float32Array(index.length);
  index.forEach((t, i) => { w[t] = k[i]; });
  return w;
}
