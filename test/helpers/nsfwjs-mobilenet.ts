// nsfwjs's MobileNetV2 (a devDependency) as a real pretrained CNN, loaded offline: the package ships the
// tfjs layers model as two JS modules, the model.json object and the uint8-quantized weights as base64.
// nsfwjs's own `load()` is not used: it needs its `buffer` peer and logs; the model files are all we need.
import * as tf from '@tensorflow/tfjs';
import { MobileNetV2Model } from 'nsfwjs/models/mobilenet_v2';

/** The model.json object of nsfwjs's MobileNetV2 (model topology and weights manifest). */
interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** A CommonJS module imported from ESM: its `module.exports` is `default`. */
const exportsOf = <T>(module: unknown): T => (module as { default: T }).default;

/** Loads nsfwjs's MobileNetV2 (224×224×3 in, 5 softmax classes out) without any network access. */
export async function loadNsfwMobileNetV2(): Promise<tf.LayersModel> {
  const json = exportsOf<ModelJson>(await MobileNetV2Model.modelJson());
  const shardCount = MobileNetV2Model.numOfWeightBundles;
  if (json.weightsManifest.length !== 1 || json.weightsManifest[0].paths.length !== shardCount) {
    throw new Error(`nsfwjs MobileNetV2: expected ${shardCount} weight shard(s), ` +
      `the manifest lists ${JSON.stringify(json.weightsManifest.map((g) => g.paths))}`);
  }
  const shards = await Promise.all(MobileNetV2Model.weightBundles.map(async (bundle) =>
    Buffer.from(exportsOf<string>(await bundle()), 'base64')));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights, weightData }));
}
