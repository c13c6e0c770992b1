/**
 * XGBoost and the random forest (XGBoost's forest mode) as ONNX: the trees of the saved model
 * (read through `trees.ts`, the project's engine-independent form, so both engines' formats work)
 * as one TreeEnsembleRegressor with `BRANCH_LT`, `defaultLeft` as `missing_value_tracks_true` and
 * `baseMargin` as `base_values`, then `Sigmoid`: exactly XGBoost's `binary:logistic` prediction.
 * The runtime sums the leaves in float32 like XGBoost; only the summation order may differ
 * (about 1e-7 on the probability, measured in the tests).
 */
import { ModelFormatError } from '../ml/errors';
import type { SavedModel } from '../ml/types';
import { decodeBase64 } from '../ml/xgboost/booster';
import { NATIVE_MODEL_FORMAT } from '../ml/xgboost/native-engine';
import { extractTrees, type TreeEnsemble } from '../ml/xgboost/trees';
import { WASM_MODEL_FORMAT } from '../ml/xgboost/wasm-engine';
import { OnnxExportError } from './errors';
import { ElementType, type GraphBuilder } from './graph';
import { treeEnsembleRegressor } from './tree-ensemble';

/** The trees of a saved `xgboost` or `random_forest` model (its `modelFormat` and base64 `model`). */
export function savedEnsemble(saved: SavedModel): TreeEnsemble {
  const { modelFormat, model } = saved as { modelFormat?: unknown; model?: unknown };
  if (modelFormat !== NATIVE_MODEL_FORMAT && modelFormat !== WASM_MODEL_FORMAT) {
    throw new OnnxExportError(`${saved.kind}: model format ${String(modelFormat)} is not ${NATIVE_MODEL_FORMAT} or ${WASM_MODEL_FORMAT}`, saved.kind);
  }
  try {
    return extractTrees(decodeBase64(model, `${saved.name}.model`), modelFormat);
  } catch (error) {
    if (error instanceof ModelFormatError) throw new OnnxExportError(`${saved.kind}: ${error.message}`, saved.kind, { cause: error });
    throw error;
  }
}

/** Adds the nodes from the raw `input` to the float32 `[N]` fraud probability; returns its name. */
export function boostedTreesProbability(g: GraphBuilder, input: string, saved: SavedModel): { probability: string; summary: string } {
  const ensemble = savedEnsemble(saved);
  if (ensemble.numFeatures !== saved.featureNames.length) {
    throw new OnnxExportError(`${saved.kind}: the trees use ${ensemble.numFeatures} features, featureNames lists ${saved.featureNames.length}`, saved.kind);
  }
  const trees = ensemble.trees.map((tree) => ({
    feature: tree.feature,
    threshold: tree.threshold,
    trueChild: tree.left,
    falseChild: tree.right,
    missingTrue: tree.defaultLeft,
    leafValue: tree.leafValue,
  }));
  const margin = treeEnsembleRegressor(g, input, trees, {
    kind: saved.kind,
    mode: 'BRANCH_LT',
    numFeatures: ensemble.numFeatures,
    output: 'sum',
    baseValue: ensemble.baseMargin,
  });
  const probability = g.node('Sigmoid', [margin], { hint: 'probability_2d' });
  const squeezed = g.node('Squeeze', [probability, g.constant('axis_1', ElementType.INT64, [1], [1])], { hint: 'tree_probability' });
  const nodes = trees.reduce((sum, tree) => sum + tree.feature.length, 0);
  return {
    probability: squeezed,
    summary: `${trees.length} trees (${nodes} nodes), margin = ${ensemble.baseMargin} + sum of leaves, probability = sigmoid(margin)`,
  };
}
