// tfjs-style factories beside the classes, as `tf.layers.dense(args)` is beside `Dense`.
import { ButterflyDense, type ButterflyDenseArgs } from './butterfly-dense';
import { OrthogonalDense, type OrthogonalDenseArgs } from './orthogonal-dense';

/** A new {@link OrthogonalDense} layer (OFT / OFTv2): same as `new OrthogonalDense(args)`. */
export function orthogonalDense(args: OrthogonalDenseArgs): OrthogonalDense {
  return new OrthogonalDense(args);
}

/** A new {@link ButterflyDense} layer (BOFT): same as `new ButterflyDense(args)`. */
export function butterflyDense(args: ButterflyDenseArgs): ButterflyDense {
  return new ButterflyDense(args);
}
