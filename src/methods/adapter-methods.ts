// One description per adapter method (OFT, BOFT): its layer classes, its option names, its
// bias word and how its options cross to PEFT. Surgery, adapter checkpoints, the class
// registry and PEFT interchange read these; a new layer class of a method (a Conv2D one, say)
// is one more entry in `layerClasses`, with the same option list.
import type { layers } from '@tensorflow/tfjs-layers';
import type { AdapterDense } from '../layers/adapter-dense';
import { BOFT_OPTIONS, OFT_OPTIONS } from '../layers/adapter-options';
import { ButterflyDense } from '../layers/butterfly-dense';
import { OrthogonalDense } from '../layers/orthogonal-dense';

/** An adapter layer class, as surgery and the tfjs class registry use it. */
export type AdapterClass = (new (args: never) => AdapterDense) & { className: string };

/** One option as PEFT's `adapter_config.json` spells it, with the default PEFT assumes. */
export interface PeftOption {
  /** Our option key (camelCase). */
  key: string;
  /** PEFT's config key. */
  peftKey: string;
  /** PEFT's default when its config lacks the key. */
  peftDefault: number | boolean;
  /** On export the value comes from the weight shapes (it may differ per layer), not from one option value. */
  fromShapes?: true;
}

/** Everything the package knows about one adapter method, in one place. */
export interface AdapterMethod {
  /** Short name of the method. */
  id: 'oft' | 'boft';
  /** The surgery function that applies it (for messages). */
  caller: 'applyOft' | 'applyBoft';
  /** Its option keys (the names of its table in adapter-options.ts), shared by all its layer classes. */
  optionKeys: readonly string[];
  /** The `bias` word that trains the biases of the adapted layers only. */
  layerBias: 'oft_only' | 'boft_only';
  /** The adapter class for each class of base layer it adapts, by that class's name (`Dense`). */
  layerClasses: Readonly<Record<string, AdapterClass>>;
  /** PEFT's `peft_type` and the options whose values cross unchanged in name only. */
  peft: { type: 'OFT' | 'BOFT'; options: readonly PeftOption[] };
}

const asAdapterClass = (cls: unknown) => cls as AdapterClass;

export const OFT: AdapterMethod = {
  id: 'oft',
  caller: 'applyOft',
  optionKeys: Object.keys(OFT_OPTIONS),
  layerBias: 'oft_only',
  layerClasses: { Dense: asAdapterClass(OrthogonalDense) },
  peft: {
    type: 'OFT',
    options: [
      { key: 'oftBlockSize', peftKey: 'oft_block_size', peftDefault: 32, fromShapes: true },
      { key: 'r', peftKey: 'r', peftDefault: 0, fromShapes: true },
      { key: 'useCayleyNeumann', peftKey: 'use_cayley_neumann', peftDefault: true },
      // Converted both ways: PEFT's T terms are our T + 1 (peft-conventions.ts).
      { key: 'numCayleyNeumannTerms', peftKey: 'num_cayley_neumann_terms', peftDefault: 5 },
      { key: 'coft', peftKey: 'coft', peftDefault: false },
      { key: 'eps', peftKey: 'eps', peftDefault: 6e-5 },
      { key: 'blockShare', peftKey: 'block_share', peftDefault: false },
      { key: 'moduleDropout', peftKey: 'module_dropout', peftDefault: 0 },
    ],
  },
};

export const BOFT: AdapterMethod = {
  id: 'boft',
  caller: 'applyBoft',
  optionKeys: Object.keys(BOFT_OPTIONS),
  layerBias: 'boft_only',
  layerClasses: { Dense: asAdapterClass(ButterflyDense) },
  peft: {
    type: 'BOFT',
    options: [
      { key: 'boftBlockSize', peftKey: 'boft_block_size', peftDefault: 4, fromShapes: true },
      { key: 'boftBlockNum', peftKey: 'boft_block_num', peftDefault: 0, fromShapes: true },
      { key: 'boftNButterflyFactor', peftKey: 'boft_n_butterfly_factor', peftDefault: 1 },
      { key: 'boftDropout', peftKey: 'boft_dropout', peftDefault: 0 },
    ],
  },
};

/** Every method, in the order messages list them. */
export const ADAPTER_METHODS: readonly AdapterMethod[] = [OFT, BOFT];

/** Every adapter layer class of every method. */
export function adapterClasses(): AdapterClass[] {
  return ADAPTER_METHODS.flatMap((m) => Object.values(m.layerClasses));
}

/** The adapter class registered under `className` (as in layer configs and checkpoints), or undefined. */
export function adapterClassNamed(className: string): AdapterClass | undefined {
  return adapterClasses().find((cls) => cls.className === className);
}

/** The method a layer belongs to, or undefined for a layer that is no adapter. */
export function methodOfLayer(layer: layers.Layer): AdapterMethod | undefined {
  return ADAPTER_METHODS.find((m) => Object.values(m.layerClasses).some((cls) => layer instanceof cls));
}

/** The names of the base layer classes that some method adapts (`Dense`). */
export function adaptableClassNames(method?: AdapterMethod): string[] {
  return [...new Set((method == null ? ADAPTER_METHODS : [method]).flatMap((m) => Object.keys(m.layerClasses)))];
}

/** The name of the base layer class that the adapter class `className` replaces (`Dense`), or undefined. */
export function baseClassNameOf(className: string): string | undefined {
  for (const m of ADAPTER_METHODS) {
    for (const [base, cls] of Object.entries(m.layerClasses)) if (cls.className === className) return base;
  }
  return undefined;
}
