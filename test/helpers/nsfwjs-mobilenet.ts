// nsfwjs's MobileNetV2 (a devDependency) as a real pretrained CNN, loaded offline: the package ships the
// tfjs layers model as two JS modules, the model.json object and the uint8-quantized weights as base64.
// nsfwjs's own `load()` is not used: it wants its `buffer` peer and logs; the model files are all we need.
import * as tf from '@tensorflow/tfjs';
import { MobileNetV2Model } from 'nsfwjs/models/mobilenet_v2';

/** Loads nsfwjs's MobileNetV2 (224×224×3 in, 5 softmax classes out) without any network access. */
export async function loadNsfwMobileNetV2(): Promise<tf.LayersModel> {
  const json = (await MobileNetV2Model.modelJson()).default;
  const manifest = json.weightsManifest;
  const shardCount = MobileNetV2Model.numOfWeightBundles;
  if (manifest.length !== 1 || manifest[0].paths.length !== shardCount) {
    throw new Error(`nsfwjs MobileNetV2: expected ${shardCount} weight shard(s), ` +
      `the manifest lists ${JSON.stringify(manifest.map((g) => g.paths))}`);
  }
  const shards = await Promise.all(MobileNetV2Model.weightBundles.map(async (bundle) =>
    Buffer.from((await bundle()).default, 'base64')));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology,
    weightSpecs: manifest[0].weights, weightData }));
}
