// Block-diagonal rotations applied to inputs and kernels, without ever building the dense
// d × d matrix: x is viewed as r blocks of size b and each block is multiplied by its R_j.
import * as tf from '@tensorflow/tfjs-core';

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
      return tf.matMul(x.reshape([-1, b]), rot.reshape([b, b])).reshape(x.shape);
    }
    // [M, r, b] → [r, M, b] so that the batch dimension of the matmul matches rot exactly
    // (tfjs' broadcasting matmul has a wrong gradient).
    const blocks = x.reshape([-1, r, b]).transpose([1, 0, 2]) as tf.Tensor3D;
    return tf.matMul(blocks, rot).transpose([1, 0, 2]).reshape(x.shape);
  });
}

/** `blockdiag(R_1, …, R_r) · K` for a kernel `[r·b, n]` (the merge of SPEC §0). */
export function rotateKernel(kernel: tf.Tensor2D, rot: tf.Tensor3D): tf.Tensor2D {
  const [d, n] = kernel.shape;
  const [stored, b] = rot.shape;
  const r = d / b;
  return tf.tidy(() => {
    const blocks = kernel.reshape([r, b, n]) as tf.Tensor3D;
    const full = stored === 1 ? rot.tile([r, 1, 1]) as tf.Tensor3D : rot;
    return tf.matMul(full, blocks).reshape([d, n]) as tf.Tensor2D;
  });
}

/** The dense `d × d` block-diagonal matrix (for inspection and tests; never used in training). */
export function blockDiagonal(rot: tf.Tensor3D, r: number): tf.Tensor2D {
  const [stored, b] = rot.shape;
  return tf.tidy(() => {
    const rows: tf.Tensor[] = [];
    for (let j = 0; j < r; j++) {
      const block = rot.slice([stored === 1 ? 0 : j, 0, 0], [1, b, b]).reshape([b, b]);
      rows.push(tf.pad(block, [[0, 0], [j * b, (r - j - 1) * b]]));
    }
    return tf.concat(rows, 0) as tf.Tensor2D;
  });
}
