export {
  exportOnnx,
  exportSavedModelOnnx,
  withDefaults as withOnnxExportDefaults,
  float32AtLeast,
  ONNX_INPUT_NAME,
  ONNX_OUTPUTS,
  ONNX_BATCH_DIM,
  ONNX_IR_VERSION,
  ONNX_OPSETS,
  ONNX_PRODUCER_NAME,
  ONNX_EXPORT_VERSION,
  ONNX_METADATA_KEYS,
  type OnnxExportOptions,
  type ResolvedOnnxExportOptions,
} from './export';
export { OnnxExportError } from './errors';
export { GraphBuilder, ElementType, ML_DOMAIN, attr, tensor, valueInfo, encodeModel, type Dim, type NodeOptions, type ModelProtoOptions } from './graph';
export { treeEnsembleRegressor, type ExportTree, type TreeEnsembleSpec } from './tree-ensemble';
