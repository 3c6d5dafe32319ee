// PEFT's adapter parameters as dense float64 rotations (docs/math.md §7 mapping, §2–§5 math), and a
// PyTorch-style Conv2d (NCHW, symmetric zero padding) over explicit patches. Used by the PEFT parity
// specs against the fixtures the real PEFT wrote. Nothing here uses the code under test except the
// pure conventions module (neumannTermsFromPeft: PEFT's term count).
import { neumannTermsFromPeft, PeftAdapterConfig } from '../../src/interop/peft-conventions';
import * as ref from './dense-math';
import { referencePermutation } from './boft-reference';

/** A tensor as the fixture scripts write it: base64 of the little-endian buffer. */
export interface Encoded { dtype: 'float32' | 'float64'; shape: number[]; data: string }

export function decode(e: Encoded): Float32Array | Float64Array {
  const buf = Buffer.from(e.data, 'base64');
  const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return e.dtype === 'float64' ? new Float64Array(copy) : new Float32Array(copy);
}

/** PEFT OFT parameters → our dense rotation, from docs/math.md §2–§4 (COFT projection as PEFT does it). */
export function oftRotationFromPeft(v: Float32Array, shape: number[], cfg: PeftAdapterConfig, d: number): ref.Mat {
  const [stored, p] = shape;
  const b = Math.round((1 + Math.sqrt(1 + 8 * p)) / 2);
  const r = d / b;
  const neumann = cfg.use_cayley_neumann ?? true;
  const vals = Float64Array.from(v);
  if (cfg.coft) {
    const radius = (cfg.eps ?? 6e-5) / Math.sqrt(stored);
    for (let j = 0; j < stored; j++) {
      const q = ref.skew(vals.subarray(j * p, (j + 1) * p), b);
      const norm = Math.sqrt(q.data.reduce((s, x) => s + x * x, 0));
      if (norm > radius) for (let k = j * p; k < (j + 1) * p; k++) vals[k] *= radius / norm;
    }
  }
  if (!neumann) for (let k = 0; k < vals.length; k++) vals[k] = -vals[k]; // PEFT's exact mode is our inverse
  const terms = neumann ? neumannTermsFromPeft(cfg.num_cayley_neumann_terms ?? 5) : null;
  const blocks: ref.Mat[] = [];
  for (let j = 0; j < r; j++) {
    const s = stored === 1 ? 0 : j;
    const q = ref.skew(vals.subarray(s * p, (s + 1) * p), b);
    blocks.push(terms == null ? ref.cayley(q) : ref.cayleyNeumann(q, terms));
  }
  return ref.blockDiag(blocks);
}

/** PEFT BOFT parameters (full A) → our dense B: Q = −½(A − Aᵀ), docs/math.md §5 permutations. */
export function boftRotationFromPeft(a: Float32Array, shape: number[]): ref.Mat {
  const [m, n, b] = shape;
  const d = n * b;
  let rot = ref.eye(d);
  for (let i = 0; i < m; i++) {
    const blocks: ref.Mat[] = [];
    for (let j = 0; j < n; j++) {
      const q = ref.mat(b, b);
      const base = (i * n + j) * b * b;
      for (let x = 0; x < b; x++)
        for (let y = 0; y < b; y++) q.data[x * b + y] = -0.5 * (a[base + x * b + y] - a[base + y * b + x]);
      blocks.push(ref.cayley(q));
    }
    const bd = ref.blockDiag(blocks);
    const perm = referencePermutation(d, b, i);
    const mi = ref.mat(d, d);
    for (let x = 0; x < d; x++) for (let y = 0; y < d; y++) mi.data[x * d + y] = bd.data[perm[x] * d + perm[y]];
    rot = ref.matmul(mi, rot);
  }
  return rot;
}

/**
 * torch `F.conv2d(x, w, bias, stride, padding)` in float64: `x` `[batch, cin, h, w]`, the weight given
 * as the `[cin·k·k, out]` matrix whose row `c·k·k + i·k + j` holds `w[:, c, i, j]` (PEFT's view of a
 * Conv2d weight, transposed); square kernel `k`, symmetric zero padding. Returns `[batch, out, oh, ow]`.
 */
export function torchConv2d(x: ArrayLike<number>, xShape: number[], flat: ref.Mat, bias: ArrayLike<number>,
  k: number, stride: number, padding: number): { y: Float64Array; shape: number[] } {
  const [batch, cin, h, w] = xShape;
  const out = flat.cols;
  const oh = Math.floor((h + 2 * padding - k) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - k) / stride) + 1;
  const y = new Float64Array(batch * out * oh * ow);
  const patch = new Float64Array(cin * k * k);
  for (let n = 0; n < batch; n++) {
    for (let r = 0; r < oh; r++) {
      for (let s = 0; s < ow; s++) {
        patch.fill(0);
        for (let c = 0; c < cin; c++) {
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              const yy = r * stride + i - padding;
              const xx = s * stride + j - padding;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              patch[c * k * k + i * k + j] = x[((n * cin + c) * h + yy) * w + xx];
            }
          }
        }
        for (let o = 0; o < out; o++) {
          let acc = bias[o];
          for (let t = 0; t < patch.length; t++) acc += patch[t] * flat.data[t * out + o];
          y[((n * out + o) * oh + r) * ow + s] = acc;
        }
      }
    }
  }
  return { y, shape: [batch, out, oh, ow] };
}
