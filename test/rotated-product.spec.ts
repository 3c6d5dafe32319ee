import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { rotatedProduct, RotatedProductPath } from '../src/ops/rotated-product';
import * as ref from './reference/dense-math';
import { permutationMatrix, referencePermutation } from './reference/boft-reference';

/** Float64 x·B·K and its gradients for L = Σ w ⊙ y, from dense P_i and BD_i (matrix calculus, docs/math.md §5). */
function reference(x: ref.Mat, blocks: Float32Array, d: number, b: number, m: number, kernel: ref.Mat, w: ref.Mat) {
  const n = d / b;
  const perms = Array.from({ length: m }, (_, i) => permutationMatrix(referencePermutation(d, b, i)));
  const factors = perms.map((p, i) => {
    const bd = ref.blockDiag(Array.from({ length: n }, (_, j) => ref.mat(b, b, blocks.subarray((i * n + j) * b * b,
      (i * n + j + 1) * b * b))));
    return ref.matmul(ref.matmul(p, bd), ref.transpose(p));
  });
  // B = M_{m−1} · … · M_0; above[i] = M_{m−1} · … · M_{i+1}, below[i] = M_{i−1} · … · M_0.
  const chain = (from: number, to: number) => {
    let out = ref.eye(d);
    for (let i = from; i >= to; i--) out = ref.matmul(out, factors[i]);
    return out;
  };
  const rot = chain(m - 1, 0);
  const y = ref.matmul(ref.matmul(x, rot), kernel);
  const dx = ref.matmul(w, ref.transpose(ref.matmul(rot, kernel)));
  const dRot = ref.matmul(ref.matmul(ref.transpose(x), w), ref.transpose(kernel));
  const dBlocks = new Float64Array(m * n * b * b);
  for (let i = 0; i < m; i++) {
    const dM = ref.matmul(ref.matmul(ref.transpose(chain(m - 1, i + 1)), dRot), ref.transpose(chain(i - 1, 0)));
    const dBd = ref.matmul(ref.matmul(ref.transpose(perms[i]), dM), perms[i]);
    for (let j = 0; j < n; j++) {
      for (let t = 0; t < b; t++) {
        for (let u = 0; u < b; u++) dBlocks[((i * n + j) * b + t) * b + u] = ref.get(dBd, j * b + t, j * b + u);
      }
    }
  }
  return { y, dx, dBlocks };
}

describe('ops: rotatedProduct x · B · K (one op, analytic gradient)', () => {
  const cases: Array<[number, number, number, number]> = [ // d, b, m, rows
    [12, 4, 1, 5], [64, 32, 1, 40], [30, 3, 1, 4], [16, 2, 3, 5], [32, 4, 2, 17], [48, 6, 2, 30], [64, 8, 4, 7],
  ];
  // Every layout and method on every backend, whichever the defaults pick there.
  const paths: RotatedProductPath[] = [{ rowsFirst: true, segments: false }, { rowsFirst: false, segments: false },
    { rowsFirst: true, segments: true }, { rowsFirst: false, segments: true }];
  for (const [d, b, m, rows] of cases) for (const path of m === 1 ? paths.slice(0, 2) : paths) {
    const how = `${path.rowsFirst ? 'rows' : 'features'} first${path.segments ? ', B\'s diagonal blocks' : ''}`;
    it(`matches the float64 reference: output, ∂x and ∂blocks (d=${d} b=${b} m=${m}, ${rows} rows, ${how})`, () => {
      const units = 5;
      const random = ref.rng(d * 31 + b * 7 + m + rows);
      const xs = ref.normals(random, rows * d);
      // Any blocks (not only rotations): the op is linear in each factor's blocks.
      const blocks = ref.normals(random, m * (d / b) * b * b, 0.5);
      const ks = ref.normals(random, d * units);
      const ws = ref.normals(random, rows * units);
      const want = reference(ref.mat(rows, d, xs), blocks, d, b, m, ref.mat(d, units, ks), ref.mat(rows, units, ws));
      const x = tf.tensor2d(xs, [rows, d]);
      const rots = tf.tensor3d(blocks, [m * (d / b), b, b]);
      const kernel = tf.tensor2d(ks, [d, units]);
      const wt = tf.tensor2d(ws, [rows, units]);
      const f = (xx: tf.Tensor, rr: tf.Tensor) => tf.sum(tf.mul(rotatedProduct(xx as tf.Tensor2D, rr as tf.Tensor3D,
        m, kernel, path), wt));
      const y = rotatedProduct(x, rots, m, kernel, path);
      const [dx, dRots] = tf.grads(f)([x, rots]);
      expect(ref.relErr(y.dataSync(), want.y.data), 'y').to.be.below(1e-5);
      expect(ref.relErr(dx.dataSync(), want.dx.data), '∂x').to.be.below(1e-5);
      expect(ref.relErr(dRots.dataSync(), want.dBlocks), '∂blocks').to.be.below(1e-5);
      // Every intermediate is freed: a second gradient leaves the tensor count where it was.
      const before = tf.memory().numTensors;
      tf.dispose(tf.grads(f)([x, rots]));
      expect(tf.memory().numTensors).to.equal(before);
      tf.dispose([x, rots, kernel, wt, y, dx, dRots]);
    });
  }
});
