// A real pretrained CNN as test subject: nsfwjs's MobileNetV2 (224×224×3 → 5 classes, uint8-quantized
// weights), loaded offline from the nsfwjs devDependency. OFT on all 35 Conv2D layers: identity init, model.fit,
// mergeAndUnload, save and reload; BOFT on two of them. One model is loaded and shared by the tests, in order.
//
// Trimmed for a 2-core machine: predictions on one image, fit on two. On cpu and wasm, fit trains only the adapters
// behind the last DepthwiseConv2D (block_16_project, Conv_1): a full backward pass through the network at 224×224
// takes ~24 s per step of two images on cpu, and wasm has no gradient of DepthwiseConv2D. On tensorflow all 35
// adapters train.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyBoft, applyOft, mergeAndUnload, trainableParameters, withAdaptersDisabled } from '../src/index';
import { bits } from './helpers/model-snapshot';
import { loadNsfwMobileNetV2 } from './helpers/nsfwjs-mobilenet';
import { tensorsBesidesOpConstants } from './helpers/leak-check';

/** nsfwjs's names for its 35 Conv2D layers (its 17 DepthwiseConv2D are `*_depthwise`). */
const CONV2D = /^(Conv1|Conv_1|expanded_conv_project|block_\d+_(expand|project))$/;
/** The Conv2D layers behind the last DepthwiseConv2D: training them needs no gradient through a depthwise conv. */
const TAIL = ['block_16_project', 'Conv_1'];

const classCounts = (model: tf.LayersModel) => {
  const counts: Record<string, number> = {};
  for (const l of model.layers) counts[l.getClassName()] = (counts[l.getClassName()] ?? 0) + 1;
  return counts;
};
const maxAbs = (t: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]);
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => maxAbs(tf.sub(a, b)));
/** Every weight's values by its full name (copies). */
const weightValues = (model: tf.LayersModel) =>
  new Map(model.weights.map((w) => [w.name, (w.read().dataSync() as Float32Array).slice()]));

describe('nsfwjs MobileNetV2 (a real pretrained CNN) with OFT on its Conv2D layers', function () {
  this.timeout(300_000);
  let base: tf.LayersModel;
  let adapted: tf.LayersModel;
  let merged: tf.LayersModel;
  let image: tf.Tensor;
  let images: tf.Tensor;
  let labels: tf.Tensor;
  let baseOutput: tf.Tensor;
  const trainedOutputs: Record<'adapted' | 'merged', tf.Tensor | undefined> = { adapted: undefined, merged: undefined };
  let tensorsAtStart: number;
  let optimizer: tf.Optimizer;
  const dir = mkdtempSync(join(tmpdir(), 'oft-mobilenet-'));

  before(async () => {
    tensorsAtStart = tensorsBesidesOpConstants();
    optimizer = tf.train.adam(1e-3);
    base = await loadNsfwMobileNetV2();
    images = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 16);   // nsfwjs scales pixels to [0, 1]
    image = tf.slice(images, 0, 1);
    labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 3], 'int32'), 5));
    baseOutput = base.predict(image) as tf.Tensor;
  });

  after(() => {
    for (const m of [merged, adapted, base]) m?.dispose();
    optimizer?.dispose();   // passed as an instance, so not the model's to dispose
    tf.dispose([image, images, labels, baseOutput, trainedOutputs.adapted, trainedOutputs.merged]);
    rmSync(dir, { recursive: true, force: true });
    expect(tensorsBesidesOpConstants(), 'tensors after disposing every model').to.equal(tensorsAtStart);
  });

  it('has 35 Conv2D (Conv1 3×3 stride 2, the others 1×1), 17 DepthwiseConv2D, 3 Dense, 52 BatchNormalization', () => {
    const counts = classCounts(base);
    expect([counts.Conv2D, counts.DepthwiseConv2D, counts.Dense, counts.BatchNormalization])
      .to.deep.equal([35, 17, 3, 52]);
    const convs = base.layers.filter((l) => CONV2D.test(l.name));
    expect(convs.map((l) => l.getClassName())).to.deep.equal(Array(35).fill('Conv2D'));
    const geometry = (l: tf.layers.Layer) => {
      const { kernelSize, strides } = l.getConfig() as { kernelSize: number[]; strides: number[] };
      return `${l.name} ${kernelSize} ${strides}`;
    };
    expect(convs.map(geometry))
      .to.deep.equal(convs.map((l) => (l.name === 'Conv1' ? 'Conv1 3,3 2,2' : `${l.name} 1,1 1,1`)));
    expect(base.inputs[0].shape).to.deep.equal([null, 224, 224, 3]);
  });

  it('naming a DepthwiseConv2D layer throws an error that names it, and creates no tensor', () => {
    const before = tensorsBesidesOpConstants();
    expect(() => applyOft(base, { targetModules: ['block_1_expand', 'block_1_depthwise'], oftBlockSize: 8 }))
      .to.throw(/'block_1_depthwise' of class DepthwiseConv2D, not Dense or Conv2D/);
    expect(tensorsBesidesOpConstants()).to.equal(before);
  });

  it('applyOft on the 35 Conv2D layers leaves the others alone and computes the base model bit for bit', () => {
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    try {
      adapted = applyOft(base, { targetModules: CONV2D, oftBlockSize: 8 });
    } finally {
      console.warn = warn;
    }
    // Conv1's 3×3 kernel over 3 channels has d = 27 rows: block size 8 becomes its nearest divisor, 9.
    expect(warnings).to.have.length(1);
    expect(warnings[0])
      .to.match(/'Conv1': oftBlockSize=8 does not divide the input dimension 27; using oftBlockSize=9/);
    const counts = classCounts(adapted);
    expect([counts.OrthogonalConv2D, counts.Conv2D, counts.DepthwiseConv2D, counts.Dense])
      .to.deep.equal([35, undefined, 17, 3]);
    const r = (name: string) => adapted.getLayer(name).weights.find((w) => w.originalName.endsWith('oft_r'))!.shape;
    expect([r('Conv1'), r('Conv_1')]).to.deep.equal([[3, 36], [40, 28]]);   // d/b blocks of b(b−1)/2
    // d/b blocks of b(b−1)/2 parameters per layer, d = cin·kh·kw from the base kernels (the README's figures).
    const adapterParameters = base.layers.filter((l) => CONV2D.test(l.name)).reduce((sum, l) => {
      const [kh, kw, cin] = l.getWeights()[0].shape;
      const b = l.name === 'Conv1' ? 9 : 8;
      return sum + ((cin * kh * kw) / b) * ((b * (b - 1)) / 2);
    }, 0);
    expect(trainableParameters(adapted)).to.deep.equal({ trainable: adapterParameters,
      total: base.countParams() + adapterParameters });
    expect([adapterParameters, base.countParams() + adapterParameters]).to.deep.equal([30_348, 2_649_809]);
    for (const layer of base.layers.filter((l) => !CONV2D.test(l.name))) {
      const other = adapted.getLayer(layer.name);
      expect(other.getClassName(), layer.name).to.equal(layer.getClassName());
      expect(other.getWeights().map((w) => bits(w)), layer.name).to.deep.equal(layer.getWeights().map((w) => bits(w)));
    }
    // At identity init R = I exactly, so R·K = K exactly and each layer runs the base convolution on it.
    const y = adapted.predict(image) as tf.Tensor;
    expect(bits(y)).to.deep.equal(bits(baseOutput));
    y.dispose();
  });

  it('trains with model.fit: finite loss, the trained adapters change, every frozen weight stays', async () => {
    const trainAll = tf.getBackend() === 'tensorflow';
    const trained = adapted.layers.filter((l) => CONV2D.test(l.name) && (trainAll || TAIL.includes(l.name)));
    for (const layer of adapted.layers) if (CONV2D.test(layer.name)) layer.trainable = trained.includes(layer);
    expect(adapted.trainableWeights.map((w) => w.originalName))
      .to.deep.equal(trained.map((l) => `${l.name}/oft_r`));
    // Frozen BatchNormalization layers included: they run in inference mode in fit (their moving statistics stay).
    const frozen = adapted.nonTrainableWeights;
    const before = weightValues(adapted);
    adapted.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const first = await adapted.fit(images, labels, { batchSize: 2, epochs: 1, verbose: 0 });
    const tensors = tensorsBesidesOpConstants();                            // Adam's slots exist from here on
    const next = await adapted.fit(images, labels, { batchSize: 2, epochs: 1, verbose: 0 });
    expect(tensorsBesidesOpConstants(), 'after one more step').to.equal(tensors);
    const losses = [...first.history.loss, ...next.history.loss] as number[];
    expect(losses.every(Number.isFinite), `losses ${losses}`).to.equal(true);
    const after = weightValues(adapted);
    for (const w of adapted.trainableWeights) {
      expect(maxAbs(w.read()), `${w.name} moved from the identity`).to.be.greaterThan(0);
    }
    const unchanged = (w: tf.LayerVariable) =>
      Buffer.from(after.get(w.name)!.buffer).equals(Buffer.from(before.get(w.name)!.buffer));
    for (const w of frozen) expect(unchanged(w), w.name).to.equal(true);
    const yBase = withAdaptersDisabled(adapted, () => adapted.predict(image) as tf.Tensor);
    expect(bits(yBase), 'adapters switched off').to.deep.equal(bits(baseOutput));
    yBase.dispose();
  });

  it('mergeAndUnload gives 35 plain Conv2D layers matching the trained model within 1e-5 of max |y|', () => {
    merged = mergeAndUnload(adapted);
    const counts = classCounts(merged);
    expect([counts.OrthogonalConv2D, counts.Conv2D, counts.DepthwiseConv2D, counts.Dense])
      .to.deep.equal([undefined, 35, 17, 3]);
    const [y, yMerged] = [adapted.predict(image) as tf.Tensor, merged.predict(image) as tf.Tensor];
    expect(maxAbsDiff(y, baseOutput), 'training moved the output').to.be.greaterThan(1e-4);
    expect(maxAbsDiff(yMerged, y) / maxAbs(y)).to.be.at.most(1e-5);
    [trainedOutputs.adapted, trainedOutputs.merged] = [y, yMerged];
  });

  it('the adapted and the merged model save to file:// and reload bit for bit', async () => {
    for (const [name, model] of [['adapted', adapted], ['merged', merged]] as const) {
      await model.save(`file://${join(dir, name)}`);
      const reloaded = await tf.loadLayersModel(`file://${join(dir, name, 'model.json')}`);
      const yReloaded = reloaded.predict(image) as tf.Tensor;
      expect(bits(yReloaded), name).to.deep.equal(bits(trainedOutputs[name]!));
      expect(classCounts(reloaded), name).to.deep.equal(classCounts(model));
      yReloaded.dispose();
      reloaded.dispose();
    }
  });

  it('BOFT on block_16_project and Conv_1 (d = 960, 320): identity init equals the base, merged matches', () => {
    const boft = applyBoft(base, { targetModules: TAIL, boftBlockSize: 8, boftNButterflyFactor: 2 });
    expect(classCounts(boft).ButterflyConv2D).to.equal(2);
    const y0 = boft.predict(image) as tf.Tensor;
    expect(bits(y0)).to.deep.equal(bits(baseOutput));
    // A random rotation and scale: merging must carry them, not only the identity.
    for (const w of boft.trainableWeights) {
      tf.tidy(() => {
        const isScale = w.originalName.endsWith('boft_s');
        const noise = tf.randomNormal(w.shape as number[], 0, isScale ? 0.1 : 0.05, 'float32', 3);
        w.write(isScale ? tf.add(1, noise) : noise);
      });
    }
    const boftMerged = mergeAndUnload(boft);
    const [y, yMerged] = [boft.predict(image) as tf.Tensor, boftMerged.predict(image) as tf.Tensor];
    expect(maxAbsDiff(y, baseOutput)).to.be.greaterThan(1e-4);
    expect(maxAbsDiff(yMerged, y) / maxAbs(y)).to.be.at.most(1e-5);
    tf.dispose([y0, y, yMerged]);
    boft.dispose();
    boftMerged.dispose();
  });
});
