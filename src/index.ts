// Public API of tfjs-oft: re-exports only. Importing it registers the layer classes with tfjs.
export { registerTfjsOftClasses } from './registry';
export * from './ops/skew';
export * from './ops/cayley';
export * from './ops/block-rotation';
export * from './ops/butterfly';
export { OrthogonalDense } from './layers/orthogonal-dense';
export type { OrthogonalDenseArgs } from './layers/orthogonal-dense';
export { ButterflyDense, validButterflyBlockSizes } from './layers/butterfly-dense';
export type { ButterflyDenseArgs, ButterflyDropoutRecord } from './layers/butterfly-dense';
export { registerFileSystemRouter, fileSystem, FileSystemHandler } from './io/file-system';
