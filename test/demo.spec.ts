// The digits demo's pipeline (demos/digits/pipeline.ts) on a tiny slice, so `npm run demo`
// cannot rot: every method runs, starts from the same pretrained model, trains what it says,
// the report files are written, and the merged model computes what the adapter model computes.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../demos/digits/pipeline';
import { ReportFiles, writeReport } from '../demos/digits/report-files';
import { accAWhenBReached, DemoResult, METHODS } from '../demos/digits/results';
import { loadAllDigits, makeTasks, disposeTasks, rotate90 } from '../demos/digits/data';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

const VIT = { patchSize: 7, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpSize: 32, seed: 3 };
const SPLIT = { aTrain: 120, aTest: 60, bTrain: 60, bTest: 60 };

describe('digits demo pipeline (tiny slice)', () => {
  let dir: string;
  let first: DemoResult;
  let firstFiles: ReportFiles;
  let second: DemoResult;
  let tensorsBefore = 0;
  let tensorsAfter = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tfjs-oft-demo-'));
    const opts = { backend: tf.getBackend(), epochs: 1, pretrainEpochs: 1, batchSize: 30, split: SPLIT, vit: VIT,
                   cacheDir: join(dir, 'cache'), quiet: true };
    first = await runDemo({ ...opts, outDir: join(dir, 'out1') });
    firstFiles = writeReport(first, first.options.outDir);
    tensorsBefore = tensorsBesidesOpConstants();
    second = await runDemo({ ...opts, outDir: join(dir, 'out2') });
    tensorsAfter = tensorsBesidesOpConstants();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the real digits of the mnist package, and rotates task B by 90° clockwise', () => {
    const all = loadAllDigits();
    expect(all.length).to.equal(10000);
    const img = new Float32Array(784);
    img[0 * 28 + 5] = 1; // row 0, column 5 goes to row 5, column 27
    const rot = rotate90(img);
    expect(rot[5 * 28 + 27]).to.equal(1);
    expect(rot.reduce((a, b) => a + b, 0)).to.equal(1);
    const t = makeTasks(SPLIT, 1);
    // Class-balanced and the B images are rotations of real digits (same ink).
    const counts = new Array(10).fill(0);
    t.aTrain.labels.forEach((l) => counts[l]++);
    expect(counts).to.deep.equal(new Array(10).fill(12));
    const inkA = t.aTest.xs.sum().dataSync()[0] / SPLIT.aTest, inkB = t.bTest.xs.sum().dataSync()[0] / SPLIT.bTest;
    expect(inkB / inkA).to.be.within(0.8, 1.25);
    disposeTasks(t);
  });

  it('runs every method and reports accuracies in [0, 1], from the same pretrained start', () => {
    expect(first.methods.map((m) => m.method)).to.deep.equal([...METHODS]);
    for (const m of first.methods) {
      for (const a of [m.accA, m.accB, ...m.accAByEpoch, ...m.accBByEpoch]) expect(a).to.be.within(0, 1);
      expect(m.accAByEpoch).to.have.length(2);
      // Epoch 0 is the untouched pretrained model for every method (a fresh copy each time).
      expect(m.accAByEpoch[0]).to.equal(first.pretrain.accA);
      expect(m.accBByEpoch[0]).to.equal(first.pretrain.accB);
      expect(m.forgetting).to.be.closeTo(first.pretrain.accA - m.accA, 1e-12);
      expect(m.batchLoss).to.have.length(2);
      for (const l of m.batchLoss) expect(l).to.be.a('number').and.satisfy(Number.isFinite);
      expect(m.secondsPerEpoch).to.be.greaterThan(0);
      expect(m.peakBytes).to.be.greaterThan(0);
    }
  });

  it('trains exactly the parameters each method claims (counts from docs/math.md formulas)', () => {
    const by = Object.fromEntries(first.methods.map((m) => [m.method, m]));
    const d = VIT.hiddenSize, f = VIT.mlpSize, p2 = VIT.patchSize ** 2;
    const head = d * 10 + 10;
    const dense = (i: number, o: number) => i * o + o;
    const base = dense(p2, d) + 4 * dense(d, d) + dense(d, f) + dense(f, d) + head +
      /* cls + positions */ d + 17 * d + /* 3 layer norms */ 3 * 2 * d;
    expect(by.full.trainableParams).to.equal(base);
    expect(by.full.totalParams).to.equal(base);
    expect(by.head.trainableParams).to.equal(head);
    // OFT, b = 8 on every Dense but the head; the 49-wide patch projection gets b = 7.
    const oftLayer = (din: number, b: number) => (din / b) * (b * (b - 1)) / 2;
    expect(by.oft.trainableParams).to.equal(
      oftLayer(p2, 7) + 4 * oftLayer(d, 8) + oftLayer(d, 8) + oftLayer(f, 8) + head,
    );
    // BOFT, b = 4, m = 2 on the six DINOv2 targets: m·(din/b)·b(b−1)/2 + s (n) + bias (n).
    const boftLayer = (din: number, n: number) => 2 * (din / 4) * 6 + n + n;
    expect(by.boft.trainableParams).to.equal(4 * boftLayer(d, d) + boftLayer(d, f) + boftLayer(f, d) + head);
    // LoRA on the same layers as OFT: r·(din + n) each, r chosen near OFT's count.
    const perRank = (p2 + d) + 4 * (d + d) + (d + f) + (f + d);
    const loraAdapter = by.lora.trainableParams - head;
    expect(loraAdapter % perRank).to.equal(0);
    const rank = loraAdapter / perRank;
    const oftAdapter = by.oft.trainableParams - head;
    for (const other of [rank - 1, rank + 1].filter((r) => r >= 1)) {
      expect(Math.abs(other * perRank - oftAdapter)).to.be.at.least(Math.abs(rank * perRank - oftAdapter));
    }
  });

  it('merges the best orthogonal adapter into plain Dense layers with the same predictions', () => {
    const m = first.merge!;
    expect(m).to.not.equal(null);
    expect(['oft', 'boft']).to.include(m.method);
    expect(m.relDiff).to.be.at.most(1e-5);
    expect(m.sameArgmax).to.equal(true);
    expect(m.reloadMaxAbsDiff).to.equal(0);
    expect(m.layerClassesAfter).to.include('Dense');
    expect(m.layerClassesAfter).to.not.include('OrthogonalDense');
    expect(m.layerClassesAfter).to.not.include('ButterflyDense');
  });

  it('writes the table as Markdown and JSON and the chart as SVG', () => {
    const json = JSON.parse(readFileSync(firstFiles.json, 'utf8')) as DemoResult;
    expect(json.methods.map((m) => m.method)).to.deep.equal([...METHODS]);
    expect(json.methods.map((m) => m.accB)).to.deep.equal(first.methods.map((m) => m.accB));
    const md = readFileSync(firstFiles.markdown, 'utf8');
    for (const m of first.methods) expect(md).to.contain(`| ${m.label} |`);
    const svg = readFileSync(firstFiles.svg, 'utf8');
    expect(svg.startsWith('<svg')).to.equal(true);
    expect(svg.trim().endsWith('</svg>')).to.equal(true);
    expect((svg.match(/<polyline/g) ?? []).length).to.be.at.least(3 * METHODS.length);
  });

  it('reads task-A accuracy at equal task-B accuracy by interpolating between epochs', () => {
    const r = { accBByEpoch: [0.1, 0.3, 0.5, 0.7], accAByEpoch: [0.9, 0.8, 0.6, 0.5] };
    expect(accAWhenBReached(r, 0.4)).to.be.closeTo(0.7, 1e-12); // halfway from epoch 1 to 2
    expect(accAWhenBReached(r, 0.7)).to.be.closeTo(0.5, 1e-12);
    expect(accAWhenBReached(r, 0.05)).to.equal(0.9);
    expect(accAWhenBReached(r, 0.8)).to.equal(null);
    const lvl = first.matchedAccB;
    expect(lvl).to.equal(Math.min(...first.methods.filter((m) => m.method !== 'head').map((m) => m.accB)));
    for (const m of first.methods.filter((x) => x.method !== 'head')) expect(m.accAAtMatchedB).to.be.within(0, 1);
  });

  it('frees every tensor it creates', () => {
    expect(tensorsAfter).to.equal(tensorsBefore);
  });

  it('is repeatable: a second run loads the cached pretrained model and measures the same numbers', () => {
    expect(first.pretrain.cached).to.equal(false);
    expect(second.pretrain.cached).to.equal(true);
    expect(second.pretrain.accA).to.equal(first.pretrain.accA);
    const strip = (r: DemoResult) => r.methods.map((m) => [m.method, m.trainableParams, m.accA, m.accB, m.batchLoss]);
    expect(strip(second)).to.deep.equal(strip(first));
  });
});
