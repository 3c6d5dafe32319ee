// Resolution of the Dense arguments shared by every adapter layer. tfjs-layers does not export
// its initializer/regularizer/activation deserializers, so a private template `Dense` built
// from the same arguments resolves them with exactly tfjs' own rules (identifiers, config
// dicts, instances), and its getConfig() serializes them the way a Dense would.
import type { Tensor } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { DenseLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/core';
import type { Initializer } from '@tensorflow/tfjs-layers/dist/initializers';
import type { Regularizer } from '@tensorflow/tfjs-layers/dist/regularizers';
import type { Constraint } from '@tensorflow/tfjs-layers/dist/constraints';

export type { DenseLayerArgs };

/** What a template Dense holds once it has resolved its arguments (private fields in tfjs). */
export interface ResolvedDenseArgs {
  units: number;
  useBias: boolean;
  activation: { apply(x: Tensor): Tensor; getClassName(): string };
  kernelInitializer: Initializer;
  biasInitializer: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
  kernelConstraint?: Constraint;
  biasConstraint?: Constraint;
}

/** Keys of a serialized Dense config that describe the computation (not the layer's identity). */
const DENSE_KEYS = ['units', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer',
  'kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint',
  'biasConstraint'] as const;

/**
 * Name of the private template layers. A fixed name keeps them from drawing on tfjs' automatic
 * layer names, so a user's next `dense` is named as if they did not exist.
 */
const TEMPLATE_NAME = 'tfjs_oft_template';

/** Builds the template Dense for `args`; throws tfjs' own error for invalid Dense arguments. */
export function denseTemplate(args: DenseLayerArgs): { template: layers.Layer; resolved: ResolvedDenseArgs } {
  const template = layers.dense({
    name: TEMPLATE_NAME,
    units: args.units, activation: args.activation, useBias: args.useBias,
    kernelInitializer: args.kernelInitializer, biasInitializer: args.biasInitializer,
    kernelRegularizer: args.kernelRegularizer, biasRegularizer: args.biasRegularizer,
    activityRegularizer: args.activityRegularizer, kernelConstraint: args.kernelConstraint,
    biasConstraint: args.biasConstraint,
  });
  return { template, resolved: template as unknown as ResolvedDenseArgs };
}

/** The Dense-specific part of the template's config (camelCase keys; tfjs snake-cases them on save). */
export function denseConfigOf(template: layers.Layer): Record<string, unknown> {
  const full = template.getConfig() as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of DENSE_KEYS) if (full[key] !== undefined) out[key] = full[key];
  return out;
}

/** Resolves a regularizer identifier, config dict or instance the way tfjs-layers does. */
export function resolveRegularizer(reg: unknown): Regularizer | undefined {
  if (reg == null) return undefined;
  const kernelRegularizer = reg as DenseLayerArgs['kernelRegularizer'];
  const t = layers.dense({ name: TEMPLATE_NAME, units: 1, kernelRegularizer });
  return (t as unknown as ResolvedDenseArgs).kernelRegularizer;
}

/** Serializes a regularizer as tfjs-layers does in layer configs (`{className, config}`). */
export function serializeRegularizer(reg: Regularizer | undefined): Record<string, unknown> | null {
  if (reg == null) return null;
  return { className: reg.getClassName(), config: reg.getConfig() };
}
