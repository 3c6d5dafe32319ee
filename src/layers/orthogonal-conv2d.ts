// OrthogonalConv2D: OrthogonalDense's adapter on a Conv2D kernel (docs/math.md §10), through the shared
// Conv2D host (conv2d-host.ts).
import type { layers } from '@tensorflow/tfjs-layers';
import type { OftOptions } from './oft-options';
import type { ConvLayerArgs } from './conv2d-args';
import { withConv2DHost } from './conv2d-host';
import { OrthogonalDense, OrthogonalDenseArgs } from './orthogonal-dense';

/** Arguments of `OrthogonalConv2D`: those of `tf.layers.conv2d` (channelsLast) plus the OFT options. */
export interface OrthogonalConv2DArgs extends ConvLayerArgs, OftOptions {
  /** Whether `fit` may update the bias (default `false`). The kernel is always frozen. */
  biasTrainable?: boolean;
}

/**
 * A drop-in `Conv2D` with OFT on its kernel: computes
 * `act(conv(x, K') + c)` with `K'_flat = R · K_flat` over channel-major patches; after
 * merging, a plain `Conv2D` with `K'` computes the same. Weights as `OrthogonalDense`'s, with
 * `kernel` `[kh, kw, cin, filters]`.
 */
export class OrthogonalConv2D extends withConv2DHost(OrthogonalDense) {
  static override className = 'OrthogonalConv2D';

  constructor(args: OrthogonalConv2DArgs) {
    super(args as unknown as OrthogonalDenseArgs);
  }

  /**
   * Builds a `OrthogonalConv2D` that copies an existing built `Conv2D`'s configuration, kernel and
   * bias, with the given adapter options. The Conv2D is not modified.
   */
  static fromConv2D(conv: layers.Layer, options: Partial<OrthogonalConv2DArgs> = {}): OrthogonalConv2D {
    return OrthogonalDense.fromDense.call(OrthogonalConv2D as never, conv, options as never) as OrthogonalConv2D;
  }
}
