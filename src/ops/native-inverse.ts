// Batched matrix inverse by TensorFlow's own MatrixInverse kernel (LU with partial pivoting) on the
// tensorflow backend (tfjs-node, tfjs-node-gpu). tfjs has no inverse op, so the exact Cayley
// transform otherwise runs Newton–Schulz steps, two batched matmuls each; on tfjs-node every small
// kernel costs 0.1–0.3 ms, and one inverse replaces 2–22 of them (docs/tfjs-traps.md).
import * as tf from '@tensorflow/tfjs-core';

/** The tfjs kernel name under which the TensorFlow op is registered for the `tensorflow` backend. */
export const NATIVE_INVERSE_KERNEL = 'TfjsOftMatrixInverse';

/** What this file uses of tfjs-node's backend class (public methods there, absent elsewhere). */
interface TensorFlowBackend {
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.TensorInfo[]): tf.TensorInfo;
  binding: { TF_ATTR_TYPE: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
}

function isTensorFlowBackend(backend: unknown): backend is TensorFlowBackend {
  const b = backend as Partial<TensorFlowBackend>;
  return typeof b.executeSingleOutput === 'function' && b.binding != null &&
    typeof b.binding.TF_ATTR_TYPE === 'number' && typeof b.binding.TF_FLOAT === 'number';
}

const works = new WeakMap<tf.KernelBackend, boolean>();
let preferred = true;

/**
 * Whether `nativeInverseWorks` may answer true at all (default true). The benchmarks turn it off to
 * time the portable Newton–Schulz path on the same backend; not part of the public API.
 */
export function preferNativeInverse(on: boolean): void {
  preferred = on;
}

/**
 * Whether `nativeInverse` may be called: on the `tensorflow` backend, once its kernel inverts a
 * known 2 × 2 example correctly (checked once per backend instance). Elsewhere false.
 */
export function nativeInverseWorks(): boolean {
  if (!preferred || tf.getBackend() !== 'tensorflow') return false;
  const backend = tf.backend();
  let ok = works.get(backend);
  if (ok == null) {
    ok = false;
    if (isTensorFlowBackend(backend)) {
      if (tf.getKernel(NATIVE_INVERSE_KERNEL, 'tensorflow') == null) {
        tf.registerKernel({ kernelName: NATIVE_INVERSE_KERNEL, backendName: 'tensorflow', kernelFunc: inverseKernel });
      }
      try {
        const inverse = tf.tidy(() => nativeInverse(tf.tensor3d([2, 1, 0, 4], [1, 2, 2])).dataSync());
        ok = inverse.join(',') === '0.5,-0.125,0,0.25';
      } catch {
        ok = false;
      }
    }
    works.set(backend, ok);
  }
  return ok;
}

function inverseKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const tfBackend = backend as TensorFlowBackend;
  const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_FLOAT } = tfBackend.binding;
  return tfBackend.executeSingleOutput('MatrixInverse', [
    { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
    { name: 'adjoint', type: TF_ATTR_BOOL, value: false },
  ], [inputs.x as tf.TensorInfo]);
}

/**
 * `a⁻¹` for every matrix of `a` (`[k, b, b]`, float32), no gradient (callers write their own).
 * Only after `nativeInverseWorks()` returned true. TensorFlow throws "Input is not invertible" for
 * a singular or NaN block; `what` starts the error that replaces it.
 */
export function nativeInverse(a: tf.Tensor3D, what = 'nativeInverse'): tf.Tensor3D {
  try {
    return tf.engine().runKernel(NATIVE_INVERSE_KERNEL, { x: a }, {}) as tf.Tensor3D;
  } catch (e) {
    throw new Error(`${what}: TensorFlow could not invert the blocks (${String((e as Error).message ?? e)
      .replace(/\s+/g, ' ').trim()}); a block is singular or not finite (NaN parameters, e.g. after a diverged step).`);
  }
}
