// tfjs-style factories beside the classes, as `tf.layers.dense(args)` is beside `Dense`.
import { ButterflyDense, type ButterflyDenseArgs } from './butterfly-dense';
import { OrthogonalDense, type OrthogonalDenseArgs } from './orthogonal-dense';
import { ButterflyConv2D, type ButterflyConv2DArgs } from './butterfly-conv2d';
import { OrthogonalConv2D, type OrthogonalConv2DArgs } from './orthogonal-conv2d';

/** A new {@link OrthogonalDense} layer (OFT / OFTv2): same as `new OrthogonalDense(args)`. */
export function orthogonalDense(args: OrthogonalDenseArgs): OrthogonalDense {
  return new OrthogonalDense(args);
}

/** A new {@link ButterflyDense} layer (BOFT): same as `new ButterflyDense(args)`. */
export function butterflyDense(args: ButterflyDenseArgs): ButterflyDense {
  return new ButterflyDense(args);
}

/** A new {@link OrthogonalConv2D} layer (OFT on a Conv2D kernel): same as `new OrthogonalConv2D(args)`. */
export function orthogonalConv2d(args: OrthogonalConv2DArgs): OrthogonalConv2D {
  return new OrthogonalConv2D(args);
}

/** A new {@link ButterflyConv2D} layer (BOFT on a Conv2D kernel): same as `new ButterflyConv2D(args)`. */
export function butterflyConv2d(args: ButterflyConv2DArgs): ButterflyConv2D {
  return new ButterflyConv2D(args);
}
