// Public API of tfjs-oft: re-exports only. Importing it registers the layer classes with tfjs.
export { registerTfjsOftClasses } from './registry';
// Listed by name: helpers such as inverseOfIMinusSkew or withIdentityBlocks stay internal.
export { packedSize, blockSizeFromPacked, skewFromPacked, packedFromSkew } from './ops/skew';
export { cayleyExact, cayleyNeumann, orthogonalityError } from './ops/cayley';
export { rotateInput, rotateKernel, blockDiagonal } from './ops/block-rotation';
export { disposeOpConstants } from './ops/constants';
export { butterflyPermutations, applyButterflyFactor, applyButterfly, butterflyRotation } from './ops/butterfly';
export { orthogonalDense, butterflyDense, orthogonalConv2d, butterflyConv2d } from './layers/factories';
export { OrthogonalDense } from './layers/orthogonal-dense';
export type { OrthogonalDenseArgs } from './layers/orthogonal-dense';
export { ButterflyDense, validButterflyBlockSizes } from './layers/butterfly-dense';
export type { ButterflyDenseArgs, ButterflyDropoutRecord } from './layers/butterfly-dense';
export { OrthogonalConv2D } from './layers/orthogonal-conv2d';
export type { OrthogonalConv2DArgs } from './layers/orthogonal-conv2d';
export { ButterflyConv2D } from './layers/butterfly-conv2d';
export type { ButterflyConv2DArgs } from './layers/butterfly-conv2d';
export { OrthogonalityRegularizer } from './regularizers/orthogonality-regularizer';
export type { OrthogonalityRegularizerArgs } from './regularizers/orthogonality-regularizer';
export { ModuleDropoutSchedule } from './callbacks/module-dropout-schedule';
export type { ModuleDropoutScheduleArgs, DropoutScheduleKind } from './callbacks/module-dropout-schedule';
export { OrthogonalityMonitor } from './callbacks/orthogonality-monitor';
export type { OrthogonalityMonitorArgs } from './callbacks/orthogonality-monitor';
export { orthogonalityReport } from './callbacks/orthogonality-report';
export type { OrthogonalityReport, AdapterOrthogonality } from './callbacks/orthogonality-report';
export { ProgressBar } from './callbacks/progress-bar';
export type { ProgressBarArgs, ProgressStream } from './callbacks/progress-bar';
export { registerFileSystemRouter, fileSystem, FileSystemHandler } from './io/file-system';
export { applyOft, applyBoft } from './surgery/apply-adapters';
export type {
  OftConfig,
  BoftConfig,
  OftOptions,
  BoftOptions,
  SurgeryOptions,
  ModuleSelector,
  BiasMode,
} from './surgery/apply-adapters';
export { mergeAndUnload } from './surgery/merge-and-unload';
export { findAdapterLayers, findAdapterEntries } from './surgery/find-adapters';
export { trainableParameters, printTrainableParameters } from './surgery/trainable-parameters';
export type { ParameterCounts } from './surgery/trainable-parameters';
export { setAdaptersEnabled, withAdaptersDisabled } from './surgery/adapters-enabled';
export { inferenceModeForFrozenBatchNorm } from './surgery/frozen-batch-norm';
export {
  exportSavedModel,
  findConverter,
  ConverterNotFoundError,
  CONVERTER_PYTHON_PINS,
} from './export/export-saved-model';
export type { ExportSavedModelOptions, ExportSavedModelResult } from './export/export-saved-model';
export {
  importPeftAdapter,
  applyPeftAdapter,
  exportPeftAdapter,
  exportPeftAdapterFiles,
  loadPeftAdapterFiles,
  parsePeftAdapter,
} from './interop/peft-adapter';
export type {
  PeftNameMap,
  PeftAdapterFiles,
  ImportPeftAdapterOptions,
  ExportPeftAdapterOptions,
  PeftAdapterExport,
  ParsedPeftAdapter,
} from './interop/peft-adapter';
export type { PeftAdapterConfig } from './interop/peft-conventions';
export { readSafetensors, writeSafetensors } from './interop/safetensors';
export type { SafetensorsFile, SafetensorsTensor, SafetensorsInput, SafetensorsDtype } from './interop/safetensors';
export { saveAdapter, loadAdapter, ADAPTER_FORMAT } from './surgery/adapter-checkpoint';
export type {
  AdapterCheckpointTopology,
  AdapterCheckpointLayer,
  AdapterCheckpointWeight,
} from './surgery/adapter-checkpoint';
