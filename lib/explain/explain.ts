/**
 * One door to explain a single scored row of any model kind, cheap enough for an API request:
 * - XGBoost and random forest: exact TreeSHAP on the model's trees, in log-odds (margin) space.
 * - neural network: Kernel SHAP on its probability through the logit link, so contributions are
 *   in log-odds too (the link keeps contributions of a saturated probability meaningful).
 * - isolation forest: Kernel SHAP on its calibrated probability (the calibration is a step
 *   function for isotonic, where log-odds would be infinite at its 0/1 plateaus).
 * Kernel SHAP needs background rows (e.g. a sample of the training split) to stand in for absent
 * features; TreeSHAP reads the training distribution from the trees' cover and ignores them.
 * A tree-kind model without a `trees()` accessor (a wrapper around another runtime) falls back to
 * Kernel SHAP in log-odds, like the network.
 */
import type { FraudModel } from '../ml/types';
import { predictMargins, type TreeEnsemble } from '../ml/xgboost/trees';
import { ExplainError } from './errors';
import { kernelShap } from './kernel-shap';
import { treeShap } from './tree-shap';

export interface ExplainOptions {
  /** Row-major rows standing in for absent features; required by Kernel SHAP, unused by TreeSHAP. */
  background?: { features: Float32Array; numRows: number };
  /** Length of `top`. @default 10 */
  topK?: number;
  /** Seed of Kernel SHAP's coalition sampling. @default 42 */
  seed?: number;
  /** Coalitions Kernel SHAP evaluates, each on every background row. @default 2 * numFeatures + 2048 */
  nSamples?: number;
}

export interface FeatureContribution {
  feature: string;
  /** The row's raw value of the feature (`NaN` = missing). */
  value: number;
  /** Its SHAP value in `outputSpace`. */
  contribution: number;
}

export interface Explanation {
  method: 'tree_shap' | 'kernel_shap';
  /** Space of `bias`, `output` and the contributions: `bias + Σ contribution = output`. */
  outputSpace: 'log_odds' | 'probability';
  /** Expected output: TreeSHAP's cover-weighted expectation, or Kernel SHAP's over the background. */
  bias: number;
  /** The model's output for the row in `outputSpace`. */
  output: number;
  /** Every feature, in feature order. */
  contributions: FeatureContribution[];
  /** The `topK` largest contributions by absolute value, largest first. */
  top: FeatureContribution[];
}

interface TreeModel extends FraudModel {
  trees(): TreeEnsemble;
}

function hasTrees(model: FraudModel): model is TreeModel {
  return (model.kind === 'xgboost' || model.kind === 'random_forest') && typeof (model as Partial<TreeModel>).trees === 'function';
}

/**
 * Explains `row` (raw features, in the model's feature order) of `model`.
 * @throws ExplainError `NO_BACKGROUND` when the model needs Kernel SHAP and `options.background` is missing or empty,
 *   `UNSUPPORTED_MODEL` for a model of an unknown kind
 * @throws RangeError when `row` or the background rows do not have one value per feature
 * @throws TypeError for a `topK` that is not a positive integer, or invalid Kernel SHAP options
 */
export function explainModel(model: FraudModel, row: Float32Array, options: ExplainOptions = {}): Explanation {
  const { background, topK = 10, seed, nSamples } = options;
  const names = model.featureNames;
  const d = names.length;
  if (!(row instanceof Float32Array) || row.length !== d) throw new RangeError(`row must be a Float32Array of ${d} values (one per feature)`);
  if (!Number.isSafeInteger(topK) || topK < 1) throw new TypeError(`topK must be a positive integer, got ${topK}`);

  let method: Explanation['method'];
  let outputSpace: Explanation['outputSpace'];
  let bias: number;
  let output: number;
  let values: Float64Array;
  if (hasTrees(model)) {
    const ensemble = model.trees();
    const shap = treeShap(ensemble, row, 1);
    method = 'tree_shap';
    outputSpace = 'log_odds';
    bias = shap.bias;
    output = predictMargins(ensemble, row, 1)[0]!;
    values = shap.contributions;
  } else {
    let link: 'identity' | 'logit';
    if (model.kind === 'isolation_forest') link = 'identity';
    else if (model.kind === 'neural_network' || model.kind === 'xgboost' || model.kind === 'random_forest') link = 'logit';
    else throw new ExplainError('UNSUPPORTED_MODEL', `cannot explain a model of kind ${String(model.kind)}`);
    if (!background || background.numRows < 1) {
      throw new ExplainError('NO_BACKGROUND', `explaining a ${model.kind} model uses Kernel SHAP, which needs background rows`);
    }
    const predict = (rows: Float32Array, n: number) => model.predictProba(rows, n);
    const shap = kernelShap(predict, row, background.features, background.numRows, d, { seed, nSamples, link });
    method = 'kernel_shap';
    outputSpace = link === 'logit' ? 'log_odds' : 'probability';
    bias = shap.bias;
    output = shap.output;
    values = shap.contributions;
  }

  const contributions = Array.from(values, (contribution, j) => ({ feature: names[j]!, value: row[j]!, contribution }));
  const top = [...contributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, topK);
  return { method, outputSpace, bias, output, contributions, top };
}
