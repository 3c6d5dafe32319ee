// Orthogonality figures of adapter layers: how far each block rotation is from orthogonal and
// how large its skew-symmetric generator is. Used by OrthogonalityMonitor; usable on its own.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterDense } from '../layers/adapter-dense';
import { orthogonalityErrorTensor } from '../ops/cayley';
import { packedBlockSquaredNorms } from '../ops/skew';
import { findAdapterLayers } from '../surgery/find-adapters';

/** Figures of one adapter layer. */
export interface AdapterOrthogonality {
  /** Layer name. */
  layer: string;
  /** Whether the layer uses the Cayley–Neumann series (only then can it leave orthogonality). */
  cayleyNeumann: boolean;
  /** Largest `|RᵀR − I|` entry over the layer's block rotations. */
  orthogonalityError: number;
  /** Largest block `‖Q_j‖_F` over the layer's packed parameters. */
  maxQNorm: number;
}

/** Figures of a whole model (largest values over all its adapter layers). */
export interface OrthogonalityReport {
  /** Largest `|RᵀR − I|` entry over all blocks of all adapters (0 without adapters). */
  orthogonalityError: number;
  /** Largest block `‖Q_j‖_F` over all adapters (0 without adapters). */
  maxQNorm: number;
  /** Per-layer figures, in layer order. */
  layers: AdapterOrthogonality[];
}

/** Figures of one adapter layer (null before it is built). */
export async function adapterOrthogonality(layer: AdapterDense): Promise<AdapterOrthogonality | null> {
  if (!layer.built) return null;
  const figures = tf.tidy(() => {
    const err = orthogonalityErrorTensor(layer.blockRotations());
    const qNorm = tf.sqrt(tf.max(packedBlockSquaredNorms(layer.packedParameters.read())));
    return tf.stack([err, qNorm]);
  });
  const [orthogonalityError, maxQNorm] = await figures.data();
  figures.dispose();
  return { layer: layer.name, cayleyNeumann: layer.useCayleyNeumann, orthogonalityError, maxQNorm };
}

/**
 * Orthogonality figures of every adapter layer of `model` (nested models included), or of
 * the given layers: the largest `|RᵀR − I|` entry and the largest block `‖Q‖_F`.
 *
 * ```ts
 * const { orthogonalityError, maxQNorm } = await orthogonalityReport(model);
 * ```
 */
export async function orthogonalityReport(model: LayersModel | AdapterDense[]): Promise<OrthogonalityReport> {
  const adapters = Array.isArray(model) ? model : findAdapterLayers(model);
  const perLayer: AdapterOrthogonality[] = [];
  for (const layer of adapters) {
    const figures = await adapterOrthogonality(layer);
    if (figures != null) perLayer.push(figures);
  }
  return {
    orthogonalityError: Math.max(0, ...perLayer.map((f) => f.orthogonalityError)),
    maxQNorm: Math.max(0, ...perLayer.map((f) => f.maxQNorm)),
    layers: perLayer,
  };
}
