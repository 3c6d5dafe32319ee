// What the SFT demo measures on a model: held-out perplexity (forgetting), greedy completions
// and their exact-match accuracy (learning).
import * as tf from '@tensorflow/tfjs';
import { maskedCrossEntropy } from './masked-loss';
import { SequenceSet, SftExample } from './data';
import { decode, encode, PAD_ID } from './tokenizer';

const NEWLINE = encode('\n')[0];

/** exp(mean cross-entropy over the counted targets of `set`), in batches of `batchSize`. */
export async function perplexity(model: tf.LayersModel, set: SequenceSet, batchSize = 64): Promise<number> {
  const n = set.xs.shape[0];
  let total = 0,
    count = 0;
  for (let i = 0; i < n; i += batchSize) {
    const size = Math.min(batchSize, n - i);
    const [lossT, countT] = tf.tidy(() => {
      const xb = tf.slice(set.xs, [i, 0], [size, -1]);
      const yb = tf.slice(set.ys, [i, 0, 0], [size, -1, -1]);
      const c = tf.sum(yb);
      return [tf.mul(maskedCrossEntropy(yb, model.predict(xb) as tf.Tensor), c), c];
    });
    total += (await lossT.data())[0];
    count += (await countT.data())[0];
    tf.dispose([lossT, countT]);
  }
  return Math.exp(total / count);
}

/**
 * Greedy completions of `prompts`: each step runs the model on the whole (right-padded) buffer
 * and appends the arg-max token at each row's end, until a newline or `maxLength` tokens. The
 * model is causal, so the padding after a row's end does not change its next token.
 */
export async function greedyComplete(
  model: tf.LayersModel,
  prompts: string[],
  maxLength: number,
  maxNewTokens: number,
): Promise<string[]> {
  const n = prompts.length;
  const buf = new Float32Array(n * maxLength).fill(PAD_ID);
  const length = prompts.map((p, i) => {
    const ids = encode(p);
    if (ids.length >= maxLength)
      throw new Error(`greedyComplete: prompt ${JSON.stringify(p)} leaves no room in ${maxLength} tokens`);
    buf.set(ids, i * maxLength);
    return ids.length;
  });
  const start = [...length];
  const done = new Array<boolean>(n).fill(false);
  for (let step = 0; step < maxNewTokens && done.includes(false); step++) {
    const next = tf.tidy(() =>
      tf.argMax(model.predict(tf.tensor2d(buf, [n, maxLength]), { batchSize: 256 }) as tf.Tensor, -1),
    );
    const ids = await next.data();
    next.dispose();
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const id = ids[i * maxLength + length[i] - 1];
      buf[i * maxLength + length[i]] = id;
      length[i]++;
      if (id === NEWLINE || length[i] >= maxLength) done[i] = true;
    }
  }
  return prompts.map((_, i) => decode(buf.subarray(i * maxLength + start[i], i * maxLength + length[i])));
}

/** Fraction of examples whose greedy completion is exactly the answer and its newline. */
export function exactMatch(examples: SftExample[], completions: string[]): number {
  return examples.filter((e, i) => completions[i] === `${e.answer}\n`).length / examples.length;
}
