import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import {
  cayleyExact, cayleyFromPacked, cayleyNeumann, inverseOfIMinusSkew, orthogonalityError,
} from '../src/ops/cayley';
import { blockSizeFromPacked, packedFromSkew, packedSize, skewFromPacked } from '../src/ops/skew';
import { blockDiagonal, rotateInput, rotateKernel } from '../src/ops/block-rotation';
import { disposeOpConstants, identityConstant, opConstantCount } from '../src/ops/constants';
import { NATIVE_INVERSE_KERNEL, nativeInverseWorks } from '../src/ops/native-inverse';
import { useBackend } from '../scripts/tfjs-backend';
import * as ref from './reference/dense-math';

function randomPacked(seed: number, k: number, b: number, std: number): Float32Array {
  return ref.normals(ref.rng(seed), k * packedSize(b), std);
}

describe('ops: packed skew-symmetric blocks (docs/math.md §2)', () => {
  it('lays v out row-major over the strict upper triangle, Q = U − Uᵀ', () => {
    const q = skewFromPacked(tf.tensor2d([[1, 2, 3, 4, 5, 6]]), 4);
    expect(q.arraySync()).to.deep.equal([[[0, 1, 2, 3], [-1, 0, 4, 5], [-2, -4, 0, 6], [-3, -5, -6, 0]]]);
    q.dispose();
  });

  it('matches the reference for random batches and inverts with packedFromSkew', () => {
    for (const b of [2, 3, 7, 16]) {
      const v = randomPacked(b, 3, b, 1);
      const vt = tf.tensor2d(v, [3, packedSize(b)]);
      const q = skewFromPacked(vt, b);
      const data = q.dataSync();
      for (let j = 0; j < 3; j++) {
        const expected = ref.skew(v.slice(j * packedSize(b), (j + 1) * packedSize(b)), b);
        expect(ref.maxAbsDiff(data.slice(j * b * b, (j + 1) * b * b), expected.data)).to.equal(0);
      }
      const back = packedFromSkew(q);
      expect(Array.from(back.dataSync())).to.deep.equal(Array.from(v));
      tf.dispose([vt, q, back]);
    }
  });

  it('has the gradient ∂L/∂v_k = ∂L/∂Q[i,j] − ∂L/∂Q[j,i]', () => {
    const b = 5;
    const w = ref.normals(ref.rng(7), b * b);
    const v = tf.tensor2d(randomPacked(3, 1, b, 1), [1, packedSize(b)]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(skewFromPacked(x as tf.Tensor2D, b), tf.tensor3d(w, [1, b, b]))))(
      v,
    );
    const got = g.dataSync();
    let k = 0;
    for (let i = 0; i < b; i++) for (let j = i + 1; j < b; j++) {
      expect(got[k]).to.be.closeTo(w[i * b + j] - w[j * b + i], 1e-6);
      k++;
    }
    tf.dispose([v, g]);
  });

  it('recovers b from the packed length and rejects impossible lengths', () => {
    expect(blockSizeFromPacked(496)).to.equal(32);
    expect(blockSizeFromPacked(1)).to.equal(2);
    expect(() => blockSizeFromPacked(5)).to.throw(/not b\(b−1\)\/2/);
  });
});

describe('ops: Cayley transforms (docs/math.md §3)', () => {
  it('inverts I − Q (Newton–Schulz) like a pivoted float64 inverse', () => {
    const b = 12;
    const v = randomPacked(11, 2, b, 0.8);
    const q = skewFromPacked(tf.tensor2d(v, [2, packedSize(b)]), b);
    const a = inverseOfIMinusSkew(q);
    const inv = a.dataSync();
    for (let j = 0; j < 2; j++) {
      const qa = ref.skew(v.slice(j * packedSize(b), (j + 1) * packedSize(b)), b);
      const expected = ref.inverse(ref.add(ref.eye(b), qa, -1));
      expect(ref.maxAbsDiff(inv.slice(j * b * b, (j + 1) * b * b), expected.data)).to.be.below(1e-5);
    }
    tf.dispose([q, a]);
  });

  for (const b of [2, 5, 16, 33, 64]) {
    it(`exact Cayley equals (I + Q)(I − Q)⁻¹ and is orthogonal (b = ${b})`, () => {
      const v = randomPacked(100 + b, 3, b, 0.3);
      const q = skewFromPacked(tf.tensor2d(v, [3, packedSize(b)]), b);
      const r = cayleyExact(q);
      const got = r.dataSync();
      for (let j = 0; j < 3; j++) {
        const expected = ref.cayley(ref.skew(v.slice(j * packedSize(b), (j + 1) * packedSize(b)), b));
        const scale = Math.max(1, ref.maxAbs(expected.data));
        expect(ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), expected.data) / scale).to.be.below(1e-5);
      }
      expect(orthogonalityError(r)).to.be.below(1e-5);
      tf.dispose([q, r]);
    });
  }

  it('exact Cayley stays finite for large Q and matches float64 to within its condition number', () => {
    // Unpivoted elimination overflowed to NaN here from entries near 1e5 (and was off by 1e-2 at 1e3).
    // Why 1e-5 + 4·eps·κ per block, κ = κ(I − Q) = √(1 + θ²_max) ≤ √(1 + ‖Q‖²_F/2): R = 2(I − Q)⁻¹ − I moves
    // by dR = 2X·dQ·X with ‖X‖₂ ≤ 1, and float32 rounding of the products with Q is an absolute dQ of about
    // eps·‖Q‖₂ ≤ eps·κ, so any float32 method is off by a few eps·κ (the problem's conditioning, docs/math.md
    // §3). Measured against this float64 inverse: errors above 1e-5 only in blocks that mix the zero angle of
    // odd b with huge entries, at most 0.14·eps·κ (wasm), 0.08·eps·κ (tensorflow); cpu stays below 1e-5.
    // Blocks with all angles huge (even b) are accurate to ~1e-7.
    const eps = 2 ** -23;
    for (const b of [5, 8, 32]) {
      for (const scale of [1e3, 1e5, 1e7, 0]) {
        const p = packedSize(b);
        const random = ref.rng(7 * b + 1);
        // scale 0: every entry gets its own magnitude 10^u, u ∈ [−3, 6], so blocks mix tiny and huge angles.
        const magnitude = () => (scale > 0 ? scale : 10 ** (9 * random() - 3));
        const v = Float32Array.from(ref.normals(random, 3 * p), (z) => z * magnitude());
        const vT = tf.tensor2d(v, [3, p]);
        const q = skewFromPacked(vT, b);
        // Both entry points: from Q (cayleyExact) and from packed v (cayleyFromPacked, the layers' path).
        const paths = [['cayleyExact', cayleyExact(q)], ['cayleyFromPacked', cayleyFromPacked(vT, b, null)]] as const;
        for (const [path, r] of paths) {
          const got = r.dataSync();
          expect(got.every(Number.isFinite), `${path} finite b=${b} scale=${scale}`).to.equal(true);
          for (let j = 0; j < 3; j++) {
            const block = v.slice(j * p, (j + 1) * p);
            const expected = ref.cayley(ref.skew(block, b));
            const kappa = Math.sqrt(1 + block.reduce((acc, z) => acc + z * z, 0)); // ‖Q‖²_F/2 = ‖v‖²
            const diff = ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), expected.data);
            const what = `${path} b=${b} scale=${scale} κ=${kappa.toExponential(1)}`;
            expect(diff, what).to.be.below(1e-5 + 4 * eps * kappa);
            if (b % 2 === 0 && scale >= 1e3) expect(diff, `${what}, all angles large`).to.be.below(1e-5);
          }
          r.dispose();
        }
        tf.dispose([vT, q]);
      }
    }
  });

  it('Neumann with N = 5 is I + 2Q + 2Q² + 2Q³ + Q⁴ and near-orthogonal for ‖Q‖_F ≤ 0.1', () => {
    const b = 8;
    const v = randomPacked(5, 4, b, 1);
    // Scale every block to ‖Q‖_F = 0.1 (‖Q‖_F = √2 ‖v‖).
    const p = packedSize(b);
    for (let j = 0; j < 4; j++) {
      let n = 0;
      for (let k = 0; k < p; k++) n += v[j * p + k] ** 2;
      const s = 0.1 / Math.sqrt(2 * n);
      for (let k = 0; k < p; k++) v[j * p + k] *= s;
    }
    const q = skewFromPacked(tf.tensor2d(v, [4, p]), b);
    const r = cayleyNeumann(q, 5);
    const got = r.dataSync();
    for (let j = 0; j < 4; j++) {
      const qa = ref.skew(v.slice(j * p, (j + 1) * p), b);
      const q2 = ref.matmul(qa, qa); const q3 = ref.matmul(q2, qa); const q4 = ref.matmul(q3, qa);
      let closed = ref.add(ref.eye(b), qa, 2);
      closed = ref.add(ref.add(ref.add(closed, q2, 2), q3, 2), q4, 1);
      expect(ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), closed.data)).to.be.below(1e-6);
    }
    expect(orthogonalityError(r)).to.be.below(1e-4);
    tf.dispose([q, r]);
  });

  it('Neumann with N terms matches the explicit power series for N = 3, 4, 7', () => {
    const b = 6;
    const v = randomPacked(9, 2, b, 0.2);
    const q = skewFromPacked(tf.tensor2d(v, [2, packedSize(b)]), b);
    for (const n of [3, 4, 7]) {
      const r = cayleyNeumann(q, n);
      const got = r.dataSync();
      for (let j = 0; j < 2; j++) {
        const expected = ref.cayleyNeumann(ref.skew(v.slice(j * packedSize(b), (j + 1) * packedSize(b)), b), n);
        expect(ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), expected.data)).to.be.below(1e-5);
      }
      r.dispose();
    }
    expect(() => cayleyNeumann(q, 2)).to.throw(/≥ 3/);
    q.dispose();
  });

  it('the Neumann orthogonality error grows with ‖Q‖ (reported, not hidden)', () => {
    const b = 4;
    const errs = [0.05, 0.3, 0.9].map((s) => {
      const q = skewFromPacked(tf.fill([1, packedSize(b)], s) as tf.Tensor2D, b);
      const r = cayleyNeumann(q, 5);
      const e = orthogonalityError(r);
      tf.dispose([q, r]);
      return e;
    });
    expect(errs[0]).to.be.below(errs[1]);
    expect(errs[1]).to.be.below(errs[2]);
  });

  it('exact Cayley runs TensorFlow\'s MatrixInverse on tensorflow (no Newton–Schulz), and only there', async () => {
    const b = 8;
    const v = tf.tensor2d(randomPacked(61, 4, b, 0.5), [4, packedSize(b)]);
    const w = tf.tensor3d(ref.normals(ref.rng(62), 4 * b * b), [4, b, b]);
    const native = tf.getBackend() === 'tensorflow';
    expect(nativeInverseWorks()).to.equal(native);
    const names = async (f: () => tf.Tensor) =>
      (await tf.profile(() => { tf.dispose(f()); })).kernels.map((k) => k.name);
    const forward = await names(() => cayleyFromPacked(v, b, null));
    const training = await names(() => tf.grad((x: tf.Tensor) =>
      tf.sum(tf.mul(cayleyFromPacked(x as tf.Tensor2D, b, null), w)))(v));
    const fromQ = await names(() => tf.tidy(() => cayleyExact(skewFromPacked(v, b))));
    const lists = [['forward', forward], ['forward + gradient', training], ['cayleyExact', fromQ]] as const;
    for (const [what, list] of lists) {
      expect(list.filter((n) => n === NATIVE_INVERSE_KERNEL).length, what).to.equal(native ? 1 : 0);
    }
    // With the inverse, the forward has no matmul at all and the gradient two (Xᵀ·G, then ·Zᵀ).
    if (native) {
      expect(forward.filter((n) => n === 'BatchMatMul')).to.have.length(0);
      expect(training.filter((n) => n === 'BatchMatMul')).to.have.length(2);
    }
    tf.dispose([v, w]);
  });

  it('exact Cayley of NaN parameters never gives a finite rotation: an error naming the cause, or NaN', () => {
    const b = 4;
    for (const at of [0, 3]) {
      const v = tf.tensor2d(Float32Array.from(randomPacked(63, 2, b, 0.5), (z, i) => (i === at ? NaN : z)),
        [2, packedSize(b)]);
      for (const [path, f] of [['cayleyFromPacked', () => cayleyFromPacked(v, b, null)],
        ['cayleyExact', () => cayleyExact(skewFromPacked(v, b))]] as const) {
        let got: Float32Array | null = null;
        try {
          got = tf.tidy(() => f().dataSync() as Float32Array);
        } catch (e) {
          expect((e as Error).message, path).to.match(/not finite/);
        }
        // The block holding the NaN (block 0) is NaN wherever a value comes back (tensorflow's inverse).
        if (got != null) expect(got.slice(0, b * b).some(Number.isNaN), `${path} NaN at ${at}`).to.equal(true);
      }
      v.dispose();
    }
  });

  it('gradient of the exact Cayley path matches float64 finite differences', () => {
    const b = 6;
    const p = packedSize(b);
    const v = randomPacked(21, 2, b, 0.4);
    const w = ref.normals(ref.rng(22), 2 * b * b);
    const loss64 = (vv: Float64Array) => {
      let s = 0;
      for (let j = 0; j < 2; j++) {
        const r = ref.cayley(ref.skew(vv.slice(j * p, (j + 1) * p), b));
        for (let t = 0; t < b * b; t++) s += r.data[t] * w[j * b * b + t] + 0.5 * r.data[t] ** 2 * (t % 3);
      }
      return s;
    };
    const wT = tf.tensor3d(w, [2, b, b]);
    const mod = tf.tensor3d(Array.from({ length: 2 * b * b }, (_, t) => (t % (b * b)) % 3), [2, b, b]);
    const vT = tf.tensor2d(v, [2, p]);
    const g = tf.grad((x: tf.Tensor) => {
      const r = cayleyExact(skewFromPacked(x as tf.Tensor2D, b));
      return tf.add(tf.sum(tf.mul(r, wT)), tf.sum(tf.mul(tf.mul(tf.square(r), mod), 0.5)));
    })(vT);
    const got = g.dataSync();
    const h = 1e-6;
    const base = Float64Array.from(v);
    let worst = 0;
    for (let k = 0; k < 2 * p; k++) {
      const plus = Float64Array.from(base); plus[k] += h;
      const minus = Float64Array.from(base); minus[k] -= h;
      const fd = (loss64(plus) - loss64(minus)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - got[k]) / Math.max(1, Math.abs(fd)));
    }
    expect(worst).to.be.below(1e-4);
    tf.dispose([wT, mod, vT, g]);
  });
});

describe('ops: cayleyFromPacked (packed v → R in one op, analytic gradient)', () => {
  for (const terms of [null, 3, 4, 5, 7]) {
    const mode = terms == null ? 'exact' : `Neumann N=${terms}`;
    it(`matches the float64 reference and its finite-difference gradient (${mode})`, () => {
      const b = 5; const k = 2; const p = packedSize(b);
      const v = randomPacked(40 + (terms ?? 0), k, b, 0.3);
      const w = ref.normals(ref.rng(41), k * b * b);
      const rotation = (vv: ArrayLike<number>, j: number) => {
        const q = ref.skew(Array.from(vv).slice(j * p, (j + 1) * p), b);
        return terms == null ? ref.cayley(q) : ref.cayleyNeumann(q, terms);
      };
      const loss64 = (vv: Float64Array) => {
        let sum = 0;
        for (let j = 0; j < k; j++) {
          rotation(vv, j).data.forEach((z, t) => { sum += z * w[j * b * b + t] + 0.5 * z * z; });
        }
        return sum;
      };
      const vT = tf.tensor2d(v, [k, p]); const wT = tf.tensor3d(w, [k, b, b]);
      const r = cayleyFromPacked(vT, b, terms);
      for (let j = 0; j < k; j++) {
        expect(ref.maxAbsDiff(r.dataSync().slice(j * b * b, (j + 1) * b * b), rotation(v, j).data)).to.be.below(1e-5);
      }
      const g = tf.grad((x: tf.Tensor) => {
        const rr = cayleyFromPacked(x as tf.Tensor2D, b, terms);
        return tf.add(tf.sum(tf.mul(rr, wT)), tf.mul(tf.sum(tf.square(rr)), 0.5));
      })(vT);
      const got = g.dataSync();
      const base = Float64Array.from(v);
      for (let t = 0; t < k * p; t++) {
        const plus = base.slice(); const minus = base.slice(); plus[t] += 1e-6; minus[t] -= 1e-6;
        const fd = (loss64(plus) - loss64(minus)) / 2e-6;
        expect(Math.abs(fd - got[t]) / Math.max(1, Math.abs(fd)), `entry ${t}`).to.be.below(1e-4);
      }
      tf.dispose([vT, wT, r, g]);
    });
  }
});

describe('ops: constants kept per block size and backend (src/ops/constants.ts)', () => {
  /** One step: the gradient of a fixed loss of cayleyFromPacked to v, read back. */
  function step(v: tf.Tensor2D, w: tf.Tensor3D, b: number, terms: number | null): Float32Array {
    return tf.tidy(() => tf.grad((x: tf.Tensor) =>
      tf.sum(tf.mul(cayleyFromPacked(x as tf.Tensor2D, b, terms), w)))(v).dataSync() as Float32Array);
  }

  it('keeps numTensors flat over steps and across a backend switch, and frees its constants on request', async () => {
    const home = tf.getBackend();
    const other = home === 'cpu' ? 'wasm' : 'cpu';
    const b = 6; const k = 3;
    const v = tf.tensor2d(randomPacked(51, k, b, 0.3), [k, packedSize(b)]);
    const w = tf.tensor3d(ref.normals(ref.rng(52), k * b * b), [k, b, b]);
    const steps = () => [null, 5, 4].map((terms) => step(v, w, b, terms));
    disposeOpConstants(); // earlier tests made those of other block sizes
    try {
      const first = steps(); // makes this backend's constants
      const start = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) steps();
      expect(tf.memory().numTensors, 'after 20 steps').to.equal(start);
      const held = opConstantCount();
      if (nativeInverseWorks()) {
        expect(held, 'b = 6, TensorFlow\'s inverse: skew source, upper, lower, sign ×1; I').to.equal(5);
      } else {
        expect(held, 'b = 6: skew source, upper, lower, sign ×1 and ×½; I, 2I, ½I').to.equal(8);
      }

      await useBackend(other);
      const there = steps(); // the previous backend's constants are disposed, this one's made
      for (let i = 0; i < 5; i++) steps();
      // Each backend keeps its own set of constants (tensorflow's inverse needs fewer).
      expect(tf.memory().numTensors - opConstantCount(), `after switching to ${other}`).to.equal(start - held);
      there.forEach((g, i) => expect(ref.maxAbsDiff(g, first[i]), `${other} vs ${home}`).to.be.below(1e-5));

      await useBackend(home);
      for (let i = 0; i < 5; i++) steps();
      expect(tf.memory().numTensors, `back on ${home}`).to.equal(start);

      disposeOpConstants();
      expect(tf.memory().numTensors, 'after disposeOpConstants').to.equal(start - held);
      expect(steps()[0]).to.deep.equal(first[0]); // made again on use
    } finally {
      if (tf.getBackend() !== home) await useBackend(home);
      tf.dispose([v, w]);
    }
  });

  it('makes a constant again when it was disposed behind the cache\'s back', () => {
    const b = 4;
    const v = tf.tensor2d(randomPacked(53, 2, b, 0.3), [2, packedSize(b)]);
    const w = tf.tensor3d(ref.normals(ref.rng(54), 2 * b * b), [2, b, b]);
    const before = step(v, w, b, null);
    identityConstant(b).dispose(); // as tf.engine().reset() or a stray tf.dispose would
    expect(step(v, w, b, null)).to.deep.equal(before);
    expect(identityConstant(b).isDisposed).to.equal(false);
    tf.dispose([v, w]);
  });
  it('neither uses nor disposes constants of a removed backend or a reset engine (fresh process)', () => {
    const b = 5; const k = 2; const p = packedSize(b);
    const v = Array.from(randomPacked(55, k, b, 0.4));
    const out = JSON.parse(execFileSync('npx', ['tsx', 'test/helpers/constants-after-teardown.ts', JSON.stringify(v),
      String(b)], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } }));
    for (const [when, got] of Object.entries(out) as [string, number[]][]) {
      for (let j = 0; j < k; j++) {
        const expected = ref.cayley(ref.skew(v.slice(j * p, (j + 1) * p), b));
        expect(ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), expected.data), when).to.be.below(1e-5);
      }
    }
  });
});

describe('ops: block-diagonal rotation of inputs and kernels', () => {
  it('rotateInput and rotateKernel equal products with the dense block diagonal', () => {
    const b = 4; const r = 3; const d = b * r; const n = 5;
    const v = randomPacked(31, r, b, 0.5);
    const rot = cayleyExact(skewFromPacked(tf.tensor2d(v, [r, packedSize(b)]), b));
    const blocks = Array.from({ length: r }, (_, j) =>
      ref.cayley(ref.skew(v.slice(j * packedSize(b), (j + 1) * packedSize(b)), b)),
    );
    const dense = ref.blockDiag(blocks);
    const xs = ref.normals(ref.rng(32), 2 * 3 * d);
    const ks = ref.normals(ref.rng(33), d * n);
    const xr = rotateInput(tf.tensor3d(xs, [2, 3, d]), rot);
    const kr = rotateKernel(tf.tensor2d(ks, [d, n]), rot);
    const full = blockDiagonal(rot, r);
    expect(xr.shape).to.deep.equal([2, 3, d]);
    expect(ref.maxAbsDiff(xr.dataSync(), ref.matmul(ref.mat(6, d, xs), dense).data)).to.be.below(1e-5);
    expect(ref.maxAbsDiff(kr.dataSync(), ref.matmul(dense, ref.mat(d, n, ks)).data)).to.be.below(1e-5);
    expect(ref.maxAbsDiff(full.dataSync(), dense.data)).to.be.below(1e-6);
    tf.dispose([rot, xr, kr, full]);
  });
});
