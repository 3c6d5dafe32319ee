// Counting what trains: the report PEFT users know from print_trainable_parameters().
import type { LayersModel, LayerVariable } from '@tensorflow/tfjs-layers';

/** Trainable and total parameter counts of a model (each weight counted once). */
export interface ParameterCounts {
  trainable: number;
  total: number;
}

/**
 * Counts the elements of `model.trainableWeights` and of all `model.weights` (nested models
 * included; a shared layer counts once). These are the weights `fit` will train, as of now.
 */
export function trainableParameters(model: LayersModel): ParameterCounts {
  const size = (shape: Array<number | null>) => shape.reduce<number>((a, b) => a * (b ?? 0), 1);
  const count = (ws: LayerVariable[]) => {
    const seen = new Set<number>();
    let n = 0;
    for (const w of ws) {
      if (seen.has(w.id)) continue;
      seen.add(w.id);
      n += size(w.shape);
    }
    return n;
  };
  return { trainable: count(model.trainableWeights), total: count(model.weights) };
}

/**
 * Prints (with `console.log`) and returns
 * `trainable params: 12,345 || all params: 1,234,567 || trainable%: 1.0000`.
 */
export function printTrainableParameters(model: LayersModel): string {
  const { trainable, total } = trainableParameters(model);
  const pct = total === 0 ? 0 : (100 * trainable) / total;
  const line =
    `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${total.toLocaleString('en-US')} ` +
    `|| trainable%: ${pct.toFixed(4)}`;
  console.log(line);
  return line;
}
