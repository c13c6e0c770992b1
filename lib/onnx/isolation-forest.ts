/**
 * The isolation forest as ONNX:
 * 1. a TreeEnsembleRegressor with `BRANCH_LEQ` (the forest sends `x <= threshold` left, a missing
 *    value right) whose leaves hold their path length `depth + c(leaf size)`, one output column per
 *    tree, so each column is that tree's leaf value exactly;
 * 2. in float64 from there on, as `anomalyScores` computes: the sum over trees, times
 *    `-1 / (trees * c(sampleSize))`, as a power of 2: the anomaly score `2^(-E[h] / c(ψ))`;
 * 3. the calibration, in float64:
 *    - Platt: `sigmoid(slope * score + intercept)`;
 *    - isotonic, points `(x_k, y_k)`: `y_0 + sum_k dy_k * (min(max(score, x_k), x_{k+1}) - x_k) / dx_k`
 *      over the segments that rise (`dy_k > 0`). Below `x_0` every term is 0 (`y_0`); above the
 *      last point every term is full (`y_last`); inside segment k the terms before it add up to
 *      `y_k` and segment k interpolates linearly, which is the model's clamped interpolation.
 * 4. the probability rounded to float32, as `predictProba` returns it.
 * Float64 matters here: isotonic segments can be very steep (adjacent validation scores), so a
 * float32 score error of 1e-8 could move the probability by more than 1e-5.
 */
import { ModelFormatError } from '../ml/errors';
import { loadCalibration, type CalibrationJSON } from '../ml/isolation-forest/calibration';
import { averagePathLength, type FlatForest } from '../ml/isolation-forest/forest';
import { parseForest as readSavedForest, type IsolationForestModelJSON } from '../ml/isolation-forest/model';
import type { SavedModel } from '../ml/types';
import { OnnxExportError } from './errors';
import { attr, ElementType, type GraphBuilder } from './graph';
import { treeEnsembleRegressor, type ExportTree } from './tree-ensemble';

const KIND = 'isolation_forest';

function fail(problem: string, cause?: unknown): never {
  throw new OnnxExportError(`${KIND}: ${problem}`, KIND, cause === undefined ? undefined : { cause });
}

interface Forest {
  numTrees: number;
  sampleSize: number;
  trees: ExportTree[];
}

/**
 * The trees of the saved flat node arrays, each renumbered from 0 in pre-order (left first).
 * In the saved layout the right child of node k is `left[k] + 1`, and children come after their
 * parent (checked, so the walk terminates).
 */
function parseForest(saved: SavedModel): Forest {
  let flat: FlatForest;
  try {
    // The model's own reader checks the arrays (lengths, roots, feature range, children after parents).
    flat = readSavedForest((saved as Partial<IsolationForestModelJSON>).forest, saved.featureNames.length);
  } catch (error) {
    if (error instanceof ModelFormatError) fail(`forest: ${error.message}`, error);
    throw error;
  }
  const { numTrees, sampleSize, roots, feature, threshold, left } = flat;
  const trees = Array.from(roots, (root): ExportTree => {
    const order: number[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const k = stack.pop()!;
      order.push(k);
      if (feature[k]! === -1) continue;
      stack.push(left[k]! + 1, left[k]!);
    }
    const local = new Map<number, number>();
    order.forEach((k, i) => local.set(k, i));
    const n = order.length;
    const tree = {
      feature: new Int32Array(n),
      threshold: new Float32Array(n),
      trueChild: new Int32Array(n),
      falseChild: new Int32Array(n),
      leafValue: new Float32Array(n),
    };
    order.forEach((k, i) => {
      const f = feature[k]!;
      tree.feature[i] = f;
      if (f === -1) {
        tree.leafValue[i] = threshold[k]!;
        tree.trueChild[i] = tree.falseChild[i] = -1;
      } else {
        tree.threshold[i] = threshold[k]!;
        tree.trueChild[i] = local.get(left[k]!)!;
        tree.falseChild[i] = local.get(left[k]! + 1)!;
      }
    });
    return tree;
  });
  return { numTrees, sampleSize, trees };
}

function parseCalibration(saved: SavedModel): CalibrationJSON {
  try {
    // loadCalibration checks the numbers (finite, isotonic points increasing); its JSON is what it checked.
    return loadCalibration((saved as Partial<IsolationForestModelJSON>).calibration!).toJSON();
  } catch (error) {
    if (error instanceof ModelFormatError) fail(`calibration: ${error.message}`, error);
    throw error;
  }
}

/** Adds the nodes from the raw `input` to the float32 `[N]` fraud probability; returns its name. */
export function isolationForestProbability(g: GraphBuilder, input: string, saved: SavedModel): { probability: string; summary: string } {
  const forest = parseForest(saved);
  const calibration = parseCalibration(saved);
  const d = saved.featureNames.length;
  const { DOUBLE, FLOAT, INT64 } = ElementType;
  const toDouble = [attr.int('to', DOUBLE)];
  const axis1 = g.constant('axis_1', INT64, [1], [1]);

  // 1-2. Path lengths per tree, their sum in float64, the anomaly score.
  const leaves = treeEnsembleRegressor(g, input, forest.trees, { kind: KIND, mode: 'BRANCH_LEQ', numFeatures: d, output: 'per-tree' });
  const pathSum = g.node('ReduceSum', [g.node('Cast', [leaves], { attributes: toDouble, hint: 'path_lengths' }), axis1], {
    attributes: [attr.int('keepdims', 0)],
    hint: 'path_length_sum',
  });
  const exponent = g.node('Mul', [pathSum, g.scalar('score_scale', DOUBLE, -1 / (forest.numTrees * averagePathLength(forest.sampleSize)))], { hint: 'score_exponent' });
  const score = g.node('Pow', [g.scalar('two', DOUBLE, 2), exponent], { hint: 'anomaly_score' });

  // 3. Calibration.
  let probability: string;
  let method: string;
  if (calibration.method === 'platt') {
    const affine = g.node('Add', [g.node('Mul', [score, g.scalar('platt_slope', DOUBLE, calibration.slope)]), g.scalar('platt_intercept', DOUBLE, calibration.intercept)], { hint: 'platt_logit' });
    probability = g.node('Sigmoid', [affine], { hint: 'calibrated' });
    method = `Platt sigmoid(${calibration.slope} * score + ${calibration.intercept})`;
  } else {
    const { scores: xs, probabilities: ys } = calibration;
    const rising = xs.slice(0, -1).flatMap((x, k) => (ys[k + 1]! > ys[k]! ? [{ lo: x, hi: xs[k + 1]!, dy: ys[k + 1]! - ys[k]! }] : []));
    const y0 = g.scalar('isotonic_y0', DOUBLE, ys[0]!);
    if (rising.length === 0) {
      // A constant map; `score * 0` keeps the [N] shape.
      probability = g.node('Add', [g.node('Mul', [score, g.scalar('zero', DOUBLE, 0)]), y0], { hint: 'calibrated' });
    } else {
      const k = rising.length;
      const lo = g.constant('isotonic_lo', DOUBLE, [k], rising.map((s) => s.lo));
      const column = g.node('Unsqueeze', [score, axis1], { hint: 'score_column' });
      const clamped = g.node('Min', [g.node('Max', [column, lo]), g.constant('isotonic_hi', DOUBLE, [k], rising.map((s) => s.hi))], { hint: 'clamped' });
      // dy * (clamped - lo) / dx: the model's own order of operations inside the active segment.
      const rise = g.node('Mul', [g.node('Sub', [clamped, lo]), g.constant('isotonic_dy', DOUBLE, [k], rising.map((s) => s.dy))]);
      const terms = g.node('Div', [rise, g.constant('isotonic_dx', DOUBLE, [k], rising.map((s) => s.hi - s.lo))], { hint: 'segment_terms' });
      const total = g.node('ReduceSum', [terms, axis1], { attributes: [attr.int('keepdims', 0)], hint: 'segment_sum' });
      probability = g.node('Add', [total, y0], { hint: 'calibrated' });
    }
    method = `isotonic, ${xs.length} points (${rising.length} rising segments), clamped at the ends`;
  }

  // 4. Rounded to float32.
  return {
    probability: g.node('Cast', [probability], { attributes: [attr.int('to', FLOAT)], hint: 'forest_probability' }),
    summary: `${forest.numTrees} isolation trees (sample size ${forest.sampleSize}), score = 2^(-mean path length / c(${forest.sampleSize})), calibration: ${method}`,
  };
}
