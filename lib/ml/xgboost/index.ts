export { XGBoostModel, type XGBoostModelJSON, type XGBoostTrainingSummary } from './model';
export { withDefaults, toBoosterParams, TREE_METHODS, type XGBoostOptions, type ResolvedXGBoostOptions, type TreeMethod } from './options';
export { BoosterModel } from './booster';
export type { XGBoostEngine, EngineSession, EngineBooster, EngineMatrix, MatrixInput, BoosterParams, PredictOptions } from './engine';
export { wasmEngine, WASM_MODEL_FORMAT } from './wasm-engine';
export { loadNativeEngine, findNativeLibrary, NATIVE_MODEL_FORMAT, type NativeEngine, type NativeLibraryLookup, type NativeLibraryLocation } from './native-engine';
export { engineSelection, defaultEngine, engineForFormat, treeScorerEngine, type EngineSelection } from './engines';
export { parseJsonModel, truncateJsonTrees, concatenateJsonTrees, type JsonModel } from './json-model';
export { XGBoostEngineError } from './errors';
export {
  extractTrees,
  ensembleFromBinaryModel,
  predictMargins,
  predictProbabilities,
  leafIndex,
  featureImportance,
  rankFeatures,
  type Tree,
  type TreeEnsemble,
  type ImportanceType,
} from './trees';
export { parseBinaryModel, truncateTrees, concatenateTrees, type BinaryModel, type BinaryTree } from './binary-model';
