import * as tf from '@tensorflow/tfjs';
import { cayleyExact, orthogonalityError } from '../src/ops/cayley';
import { skewFromPacked, packedSize } from '../src/ops/skew';
import * as ref from '../test/reference/dense-math';
await tf.setBackend(process.argv[2] ?? 'cpu');
for (const b of [5, 8, 32]) for (const scale of [1, 1e3, 1e5, 1e7]) {
  const p = packedSize(b); const k = 3;
  const v = ref.normals(ref.rng(b + scale), k * p, scale);
  // mix: block 2 has a small plane too
  const q = skewFromPacked(tf.tensor2d(v, [k, p]), b);
  const r = cayleyExact(q); const got = r.dataSync();
  let err = 0;
  for (let j = 0; j < k; j++) {
    const e = ref.cayley(ref.skew(v.slice(j * p, (j + 1) * p), b));
    err = Math.max(err, ref.maxAbsDiff(got.slice(j * b * b, (j + 1) * b * b), e.data));
  }
  console.log(b, scale, 'finite', got.every(Number.isFinite), 'err', err.toExponential(2), 'orth', orthogonalityError(r).toExponential(2));
  tf.dispose([q, r]);
}
