// Block-diagonal rotations applied to inputs and kernels, without ever building the dense
// d × d matrix: x is viewed as r blocks of size b and each block is multiplied by its R_j.
import * as tf from '@tensorflow/tfjs-core';
import { identityConstant } from './constants';

/**
 * `x · blockdiag(R_1, …, R_r)` for `x` of shape `[..., r·b]` and `rot` of shape `[r, b, b]`,
 * or `[1, b, b]` for one block shared by all r positions.
 */
export function rotateInput(x: tf.Tensor, rot: tf.Tensor3D): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  const [stored, b] = rot.shape;
  const r = d / b;
  return tf.tidy(() => {
    if (stored === 1) {
      // Shared block: one 2-D matmul on all rows of all blocks.
      return tf.reshape(tf.matMul(tf.reshape(x, [-1, b]), tf.reshape(rot, [b, b])), x.shape);
    }
    // [M, r, b] → [r, M, b] so that the batch dimension of the matmul matches rot exactly
    // (tfjs' broadcasting matmul has a wrong gradient).
    const blocks = tf.transpose(tf.reshape(x, [-1, r, b]), [1, 0, 2]) as tf.Tensor3D;
    return tf.reshape(tf.transpose(tf.matMul(blocks, rot), [1, 0, 2]), x.shape);
  });
}

/** `blockdiag(R_1, …, R_r) · K` for a kernel `[r·b, n]` (the merge of docs/math.md §1). */
export function rotateKernel(kernel: tf.Tensor2D, rot: tf.Tensor3D): tf.Tensor2D {
  const [d, n] = kernel.shape;
  const [stored, b] = rot.shape;
  const r = d / b;
  return tf.tidy(() => {
    const blocks = tf.reshape(kernel, [r, b, n]) as tf.Tensor3D;
    const full = stored === 1 ? tf.tile(rot, [r, 1, 1]) as tf.Tensor3D : rot;
    return tf.reshape(tf.matMul(full, blocks), [d, n]) as tf.Tensor2D;
  });
}

/** The dense `d × d` block-diagonal matrix (for inspection and tests; never used in training). */
export function blockDiagonal(rot: tf.Tensor3D, r: number): tf.Tensor2D {
  const [stored, b] = rot.shape;
  return tf.tidy(() => {
    const rows: tf.Tensor[] = [];
    for (let j = 0; j < r; j++) {
      const block = tf.reshape(tf.slice(rot, [stored === 1 ? 0 : j, 0, 0], [1, b, b]), [b, b]);
      rows.push(tf.pad(block, [[0, 0], [j * b, (r - j - 1) * b]]));
    }
    return tf.concat(rows, 0) as tf.Tensor2D;
  });
}

/** `rot` (`[k, b, b]`) with the blocks at the given indices replaced by the identity (dropout). */
export function withIdentityBlocks(rot: tf.Tensor3D, indices: number[]): tf.Tensor3D {
  const [k, b] = rot.shape;
  return tf.tidy(() => {
    const keep = new Float32Array(k).fill(1);
    for (const j of indices) keep[j] = 0;
    const mask = tf.tensor3d(keep, [k, 1, 1]);
    return tf.add(tf.mul(rot, mask), tf.mul(identityConstant(b), tf.sub(1, mask))) as tf.Tensor3D;
  });
}
