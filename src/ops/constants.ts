// Constant tensors that the ops use on every call (index maps, signs, identities), made once per
// key and backend instead of being uploaded each training step.
import * as tf from '@tensorflow/tfjs-core';

const cache = new Map<string, tf.Tensor>();
/** The backend instance the cached constants live on (a reset engine or a re-registered backend is a new one). */
let cacheBackend: tf.KernelBackend | null = null;

/**
 * The constant named `key` on the current backend, made by `make` on first use. It lives outside
 * every `tidy` and counts in `tf.memory()` from then on (a few KB per block size). Switching the
 * backend disposes the constants of the previous one and makes them anew; so does a constant that
 * was disposed behind the cache's back (e.g. by a stray `tf.dispose`).
 */
export function opConstant<T extends tf.Tensor>(key: string, make: () => T): T {
  if (cacheBackend !== tf.backend()) {
    disposeOpConstants();
    cacheBackend = tf.backend();
  }
  let t = cache.get(key);
  if (t == null || t.isDisposed) {
    t = tf.keep(tf.tidy(make));
    cache.set(key, t);
  }
  return t as T;
}

/**
 * Frees every constant the ops keep (they are made again on next use): for leak checks that start
 * from an empty `tf.memory()`, or to release a backend's memory before dropping it.
 */
export function disposeOpConstants(): void {
  for (const t of cache.values()) if (disposable(t)) t.dispose();
  cache.clear();
  cacheBackend = null;
}

/**
 * Whether `t` can still be disposed: `tf.engine().reset()` forgets every tensor, and
 * `tf.removeBackend` tears down the storage of that backend's tensors (disposing one then throws).
 */
function disposable(t: tf.Tensor): boolean {
  if (t.isDisposed) return false;
  const engine = tf.engine();
  const info = engine.state.tensorInfo.get(t.dataId);
  return info != null && Object.values(engine.registry).includes(info.backend);
}

/** Number of constants held now (for tests). */
export function opConstantCount(): number {
  return cache.size;
}

/** The identity `[b, b]`, kept. */
export function identityConstant(b: number): tf.Tensor2D {
  return opConstant(`eye ${b}`, () => tf.eye(b));
}
