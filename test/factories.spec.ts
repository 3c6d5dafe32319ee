import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import * as oft from '../src/index';
import {
  ButterflyConv2D, butterflyConv2d, ButterflyDense, butterflyDense, OrthogonalConv2D, orthogonalConv2d, OrthogonalDense,
  orthogonalDense,
} from '../src/index';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

// The tfjs-shaped API: `orthogonalDense(args)` / `butterflyDense(args)` (and `orthogonalConv2d` /
// `butterflyConv2d`) beside the classes, and an index that exports a fixed list of names (no internals
// through `export *`).
describe('factories and the public export list', () => {
  const cases = [
    {
      name: 'orthogonalDense',
      make: () => orthogonalDense({ units: 6, oftBlockSize: 2, initWeights: false, name: 'f' }),
      cls: () => new OrthogonalDense({ units: 6, oftBlockSize: 2, initWeights: false, name: 'f' }),
      type: OrthogonalDense,
    },
    {
      name: 'butterflyDense',
      make: () => butterflyDense({ units: 6, boftBlockSize: 2, boftNButterflyFactor: 2, name: 'f' }),
      cls: () => new ButterflyDense({ units: 6, boftBlockSize: 2, boftNButterflyFactor: 2, name: 'f' }),
      type: ButterflyDense,
    },
    {
      name: 'orthogonalConv2d',
      make: () => orthogonalConv2d({ filters: 3, kernelSize: 3, oftBlockSize: 6, initWeights: false, name: 'f' }),
      cls: () => new OrthogonalConv2D({ filters: 3, kernelSize: 3, oftBlockSize: 6, initWeights: false, name: 'f' }),
      type: OrthogonalConv2D,
      inputShape: [2, 5, 5, 2],
    },
    {
      name: 'butterflyConv2d',
      make: () => butterflyConv2d({ filters: 3, kernelSize: 1, boftBlockSize: 2, boftNButterflyFactor: 2, name: 'f' }),
      cls: () => new ButterflyConv2D({ filters: 3, kernelSize: 1, boftBlockSize: 2, boftNButterflyFactor: 2,
        name: 'f' }),
      type: ButterflyConv2D,
      inputShape: [2, 5, 5, 8],
    },
  ];
  for (const c of cases) {
    it(`${c.name}(args) is the class built from the same args (config, forward bit-identical)`, () => {
      const before = tensorsBesidesOpConstants();
      const a = c.make();
      const b = c.cls();
      expect(a).to.be.instanceOf(c.type);
      const x = tf.randomNormal(c.inputShape ?? [3, 8], 0, 1, 'float32', 7);
      tf.dispose([a.apply(x), b.apply(x)] as tf.Tensor[]);
      // Random, non-identity weights, the same in both, so the rotation path is exercised.
      a.weights.forEach((w, i) => {
        const t = tf.randomNormal(w.shape as number[], 0, 0.3, 'float32', 11 + i);
        w.write(t); b.weights[i].write(t); t.dispose();
      });
      expect(a.getConfig()).to.deep.equal(b.getConfig());
      const [ya, yb] = [a.apply(x) as tf.Tensor, b.apply(x) as tf.Tensor];
      const [da, db] = [ya.dataSync(), yb.dataSync()];
      expect(Array.from(da)).to.deep.equal(Array.from(db));
      expect(Math.max(...Array.from(da, Math.abs))).to.be.above(0.1);
      tf.dispose([x, ya, yb]);
      a.dispose(); b.dispose();
      expect(tensorsBesidesOpConstants()).to.equal(before);
    });
  }

  it('src/index exports the documented names and not internals', () => {
    const names = Object.keys(oft);
    for (const n of ['orthogonalDense', 'butterflyDense', 'OrthogonalDense', 'ButterflyDense', 'applyOft', 'applyBoft',
      'mergeAndUnload', 'saveAdapter', 'loadAdapter', 'cayleyExact', 'skewFromPacked', 'butterflyRotation']) {
      expect(names, n).to.include(n);
    }
    for (const n of ['inverseOfIMinusSkew', 'withIdentityBlocks']) expect(names, n).to.not.include(n);
  });
});
