// The runtime base class of tfjs-layers regularizers. tfjs-layers does not export it (there is
// no `tf.Regularizer`), but a regularizer must be an instance of it: `getRegularizer` passes
// instances through only when `instanceof` that class holds, and treats anything else as a
// config dict. Taking the prototype of a built-in regularizer's class yields the very class
// of the user's tfjs-layers instance.
import { regularizers } from '@tensorflow/tfjs-layers';
import type { Regularizer } from '@tensorflow/tfjs-layers/dist/regularizers';

/** `Regularizer` of the tfjs-layers instance in use, as a value to subclass. */
export const RegularizerBase = Object.getPrototypeOf(regularizers.l1l2().constructor) as typeof Regularizer;
