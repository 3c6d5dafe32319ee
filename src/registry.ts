// Registers every serializable class of tfjs-oft with the tfjs serialization registry, so that
// tf.loadLayersModel can rebuild saved models. Importing the package runs this; registering a
// class twice only overwrites the entry with the same class, so it is harmless.
import { serialization } from '@tensorflow/tfjs-core';
import { OrthogonalDense } from './layers/orthogonal-dense';
import { ButterflyDense } from './layers/butterfly-dense';
import { OrthogonalityRegularizer } from './regularizers/orthogonality-regularizer';
import { registerFileSystemRouter } from './io/file-system';

const SERIALIZABLES = [OrthogonalDense, ButterflyDense, OrthogonalityRegularizer];

export function registerTfjsOftClasses(): void {
  for (const cls of SERIALIZABLES) serialization.registerClass(cls as unknown as serialization.SerializableConstructor<serialization.Serializable>);
}

registerTfjsOftClasses();
registerFileSystemRouter();
