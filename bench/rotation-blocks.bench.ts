// `npx tsx bench/rotation-blocks.bench.ts [--backend cpu|wasm|tensorflow] [--repeats N]`: the part of a
// training step that turns the trainable packed parameters into the `[k, b, b]` rotation blocks and
// their gradient back (cayleyFromPacked, forward and backward), for the blocks of the OFT and BOFT
// cases of `npm run bench`, as a fraction of the plain-ops frozen step timed in the same run, with
// its kernels. The parameters sit where ~40 Adam steps of 1e-3 leave them (entries ~0.02). On
// tensorflow the exact transform is TensorFlow's inverse; the "Newton–Schulz" rows time the portable
// solve that the other backends run, in the same run.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../scripts/tfjs-backend';
import { cayleyFromPacked } from '../src/ops/cayley';
import { preferNativeInverse } from '../src/ops/native-inverse';
import { packedSize } from '../src/ops/skew';
import { BenchCase, flag, printTable, runCases, settle } from './harness';

/**
 * v → blocks → a fixed linear loss, gradient to v. `portable`: the exact Cayley by Newton–Schulz even
 * where TensorFlow's own inverse is available (tensorflow backend), for comparison.
 */
function blocksStep(name: string, k: number, b: number, terms: number | null, portable = false): BenchCase {
  const v = tf.variable(tf.randomNormal([k, packedSize(b)], 0, 0.02, 'float32', 1)) as tf.Variable<tf.Rank.R2>;
  const w = tf.randomNormal([k, b, b], 0, 1, 'float32', 2);
  return {
    name,
    step: () => {
      preferNativeInverse(!portable);
      try {
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => tf.sum(tf.mul(cayleyFromPacked(v, b, terms), w)) as tf.Scalar, [v]);
          settle(grads[v.name]);
        });
      } finally {
        preferNativeInverse(true);
      }
    },
    dispose: () => tf.dispose([v, w]),
  };
}

/** The plain-ops frozen step of bench/oft.bench.ts (x·K + c on 256 rows, 1024 → 1024, gradient to x). */
function frozenStep(): BenchCase {
  const x = tf.variable(tf.randomNormal([256, 1024]), true);
  const k = tf.randomNormal([1024, 1024], 0, 1 / 32);
  const c = tf.zeros([1024]);
  return {
    name: 'frozen x·K+c (plain ops)',
    step: () => tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.add(tf.matMul(x, k), c))) as tf.Scalar, [x]);
      settle(grads[x.name]);
    }),
    dispose: () => tf.dispose([x, k, c]),
  };
}

await useBackend(flag('backend', 'tensorflow'));
const cases = [
  frozenStep(),
  blocksStep('OFT b=32 Neumann: 32 blocks', 32, 32, 5),
  blocksStep('OFT b=32 exact: 32 blocks', 32, 32, null),
  blocksStep('BOFT m=2 b=8 exact: 256 blocks', 256, 8, null),
  blocksStep('BOFT m=4 b=8 exact: 512 blocks', 512, 8, null),
  // On tensorflow the exact rows above use TensorFlow's inverse; these time the portable solve.
  ...(tf.getBackend() === 'tensorflow' ? [
    blocksStep('OFT b=32 exact, Newton–Schulz', 32, 32, null, true),
    blocksStep('BOFT m=2 b=8 exact, Newton–Schulz', 256, 8, null, true),
    blocksStep('BOFT m=4 b=8 exact, Newton–Schulz', 512, 8, null, true),
  ] : []),
];
const results = await runCases(cases, Number(flag('repeats', '30')));
printTable(`packed parameters → rotation blocks, forward and backward, backend ${tf.getBackend()}`, results,
  ['frozen x·K+c (plain ops)']);
for (const c of cases) c.dispose?.();
