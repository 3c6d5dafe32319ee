// Registers every serializable class of tfjs-oft with the tfjs serialization registry, so that
// tf.loadLayersModel can rebuild saved models. Importing the package runs this; registering a
// class twice only overwrites the entry with the same class, so it is harmless. This is the only
// place classes are registered, so package.json lists this file in "sideEffects": bundling from
// source (the browser demo) would otherwise drop the call below.
import { serialization } from '@tensorflow/tfjs-core';
import { adapterClasses } from './methods/adapter-methods';
import { OrthogonalityRegularizer } from './regularizers/orthogonality-regularizer';
import { registerFileSystemRouter } from './io/file-system';

type Serializable = serialization.SerializableConstructor<serialization.Serializable>;

/** Registers every adapter layer class of every method and the regularizer (the one place that does). */
export function registerTfjsOftClasses(): void {
  for (const cls of [...adapterClasses(), OrthogonalityRegularizer]) {
    serialization.registerClass(cls as unknown as Serializable);
  }
}

registerTfjsOftClasses();
registerFileSystemRouter();
