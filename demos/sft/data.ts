// The SFT demo's data: Brown text windows for pretraining and for held-out perplexity, and the
// supervised task, in a format the base model has never seen (Brown has no '#'):
// `### Question: reverse cat\n### Answer: tac\n`, the loss on the answer tokens only.
import * as tf from '@tensorflow/tfjs';
import { mulberry32, shuffleInPlace } from '../digits/rng';
import { brownFiles, brownText } from './corpus';
import { maskedTargets } from './masked-loss';
import { encode, PAD_ID, VOCAB_SIZE } from './tokenizer';

/** Inputs and masked targets of a set of sequences (targets as {@link maskedTargets} makes them). */
export interface SequenceSet {
  xs: tf.Tensor2D;
  ys: tf.Tensor3D;
}

/** The Brown files held out for perplexity: every tenth (one in ten of each genre's run). */
export function splitBrownFiles(): { train: string[]; heldOut: string[] } {
  const files = brownFiles();
  return { train: files.filter((_, i) => i % 10 !== 9), heldOut: files.filter((_, i) => i % 10 === 9) };
}

/** Consecutive windows of `tokens + 1` ids from the start of each file, at most `perFile` per file. */
export function brownWindows(files: string[], tokens: number, perFile: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (const f of files) {
    const ids = encode(brownText(f));
    for (let w = 0; w < perFile && (w + 1) * tokens + 1 <= ids.length; w++) {
      out.push(Int32Array.from(ids.slice(w * tokens, (w + 1) * tokens + 1)));
    }
  }
  return out;
}

/** Language-model tensors of windows: input the first `tokens` ids, every next id a target. */
export function windowTensors(windows: Int32Array[]): SequenceSet {
  const tokens = windows[0].length - 1;
  const x = new Float32Array(windows.length * tokens),
    y = new Int32Array(windows.length * tokens);
  windows.forEach((w, i) => {
    for (let t = 0; t < tokens; t++) {
      x[i * tokens + t] = w[t];
      y[i * tokens + t] = w[t + 1];
    }
  });
  const mask = new Float32Array(y.length).fill(1);
  return {
    xs: tf.tensor2d(x, [windows.length, tokens]),
    ys: maskedTargets(y, mask, [windows.length, tokens], VOCAB_SIZE),
  };
}

/** One supervised example. */
export interface SftExample {
  /** Everything up to and including `### Answer: `. */
  prompt: string;
  /** The expected completion, without its closing newline. */
  answer: string;
}

/** The string edits the model is taught. */
export const SFT_OPERATIONS = ['reverse', 'upper'] as const;

function answerOf(op: (typeof SFT_OPERATIONS)[number], word: string): string {
  return op === 'reverse' ? [...word].reverse().join('') : word.toUpperCase();
}

/** The text a model sees for an example: prompt, answer, newline. */
export function exampleText(e: SftExample): string {
  return `${e.prompt}${e.answer}\n`;
}

/**
 * Train and held-out examples on disjoint word sets: lower-case Brown words of 3–5 letters, each
 * with each operation. Seeded.
 */
export function makeSftExamples(
  trainCount: number,
  testCount: number,
  seed: number,
): { train: SftExample[]; test: SftExample[] } {
  const words = new Set<string>();
  for (const f of brownFiles().slice(0, 100)) {
    for (const w of brownText(f).split(/[^A-Za-z]+/)) if (/^[a-z]{3,5}$/.test(w)) words.add(w);
  }
  const rand = mulberry32(seed);
  const pool = shuffleInPlace([...words].sort(), rand);
  const examples = (list: string[]) =>
    list.flatMap((w) =>
      SFT_OPERATIONS.map((op) => ({
        prompt: `### Question: ${op} ${w}\n### Answer: `,
        answer: answerOf(op, w),
      })),
    );
  const testWords = Math.ceil(testCount / SFT_OPERATIONS.length),
    trainWords = Math.ceil(trainCount / SFT_OPERATIONS.length);
  if (testWords + trainWords > pool.length) {
    throw new Error(
      `makeSftExamples: ${trainCount} + ${testCount} examples need ${trainWords + testWords} words; ` +
        `Brown gives ${pool.length}`,
    );
  }
  const test = shuffleInPlace(examples(pool.slice(0, testWords)), rand).slice(0, testCount);
  const train = shuffleInPlace(examples(pool.slice(testWords, testWords + trainWords)), rand).slice(0, trainCount);
  return { train, test };
}

/**
 * SFT tensors padded to `tokens`: targets count only where the next token belongs to the answer
 * (its characters and the closing newline), as a completion-only collator does.
 */
export function sftTensors(examples: SftExample[], tokens: number): SequenceSet {
  const n = examples.length;
  const x = new Float32Array(n * tokens).fill(PAD_ID),
    y = new Int32Array(n * tokens),
    mask = new Float32Array(n * tokens);
  examples.forEach((e, i) => {
    const ids = encode(exampleText(e));
    if (ids.length > tokens + 1)
      throw new Error(`sftTensors: example ${JSON.stringify(exampleText(e))} is longer than ${tokens + 1} tokens`);
    const promptLength = e.prompt.length;
    for (let t = 0; t + 1 < ids.length; t++) {
      x[i * tokens + t] = ids[t];
      y[i * tokens + t] = ids[t + 1];
      // Position t predicts token t + 1: counted when that token is part of the answer.
      if (t + 1 >= promptLength) mask[i * tokens + t] = 1;
    }
  });
  return { xs: tf.tensor2d(x, [n, tokens]), ys: maskedTargets(y, mask, [n, tokens], VOCAB_SIZE) };
}

export function disposeSet(s: SequenceSet): void {
  tf.dispose([s.xs, s.ys]);
}
