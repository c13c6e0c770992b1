export { explainModel, type ExplainOptions, type Explanation, type FeatureContribution } from './explain';
export { treeShap, expectedMargin, treeExpectation, type ShapValues } from './tree-shap';
export { kernelShap, applyLink, withDefaults as withKernelShapDefaults, type KernelShapOptions, type KernelShapResult, type Link, type PredictFunction } from './kernel-shap';
export { ExplainError, type ExplainErrorReason } from './errors';
