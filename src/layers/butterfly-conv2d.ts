// ButterflyConv2D: ButterflyDense's adapter on a Conv2D kernel (docs/math.md §10), through the shared
// Conv2D host (conv2d-host.ts).
import type { layers } from '@tensorflow/tfjs-layers';
import type { BoftOptions } from './boft-options';
import type { ConvLayerArgs } from './conv2d-args';
import { withConv2DHost } from './conv2d-host';
import { ButterflyDense, ButterflyDenseArgs } from './butterfly-dense';

/** Arguments of `ButterflyConv2D`: those of `tf.layers.conv2d` (channelsLast) plus the BOFT options. */
export interface ButterflyConv2DArgs extends ConvLayerArgs, BoftOptions {
  /** Whether `fit` may update the bias (default `false`). The kernel is always frozen. */
  biasTrainable?: boolean;
}

/**
 * A drop-in `Conv2D` with BOFT on its kernel: computes
 * `act(conv(x, K') + c)` with `K'_flat = B · K_flat · diag(s)` over channel-major patches; after
 * merging, a plain `Conv2D` with `K'` computes the same. Weights as `ButterflyDense`'s, with
 * `kernel` `[kh, kw, cin, filters]`.
 */
export class ButterflyConv2D extends withConv2DHost(ButterflyDense) {
  static override className = 'ButterflyConv2D';

  constructor(args: ButterflyConv2DArgs) {
    super(args as unknown as ButterflyDenseArgs);
  }

  /**
   * Builds a `ButterflyConv2D` that copies an existing built `Conv2D`'s configuration, kernel and
   * bias, with the given adapter options. The Conv2D is not modified.
   */
  static fromConv2D(conv: layers.Layer, options: Partial<ButterflyConv2DArgs> = {}): ButterflyConv2D {
    return ButterflyDense.fromDense.call(ButterflyConv2D as never, conv, options as never) as ButterflyConv2D;
  }
}
