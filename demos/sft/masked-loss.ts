// The completion-only loss of the SFT demo (what TRL's completion-only collator gives): mean
// cross-entropy over the target tokens that count, none over prompt or padding. The mask rides
// in the targets, so model.fit takes it as an ordinary loss: a counted position holds the
// one-hot next token, a masked position holds all zeros.
import * as tf from '@tensorflow/tfjs';

/**
 * `−Σ yTrue · log softmax(logits) / (number of counted positions)` over the whole batch.
 * yTrue `[batch, tokens, vocab]`: one-hot rows where the loss counts, zero rows elsewhere.
 */
export function maskedCrossEntropy(yTrue: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const total = tf.neg(tf.sum(tf.mul(yTrue, tf.logSoftmax(logits))));
    return tf.div(total, tf.maximum(tf.sum(yTrue), 1)) as tf.Scalar;
  });
}

/** The targets {@link maskedCrossEntropy} reads: `ids` one-hot where `mask` is 1, zeros elsewhere. */
export function maskedTargets(
  ids: Int32Array,
  mask: Float32Array,
  shape: [number, number],
  vocab: number,
): tf.Tensor3D {
  const [rows, tokens] = shape;
  if (ids.length !== rows * tokens || mask.length !== rows * tokens) {
    throw new Error(
      `maskedTargets: ids (${ids.length}) and mask (${mask.length}) must both hold ${rows}×${tokens} values`,
    );
  }
  const buf = new Float32Array(rows * tokens * vocab);
  for (let i = 0; i < ids.length; i++) if (mask[i] !== 0) buf[i * vocab + ids[i]] = 1;
  return tf.tensor3d(buf, [rows, tokens, vocab]);
}
