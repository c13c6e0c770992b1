/**
 * The project's own, engine-independent form of a tree ensemble, and a pure TypeScript scorer.
 * TreeSHAP, ONNX export and the checks of the engines read this form, never an engine's bytes.
 *
 * Format (one {@link Tree} per tree, struct-of-arrays, one entry per node):
 * - node 0 is the root; nodes are numbered in depth-first pre-order, so a child always has a
 *   larger index than its parent. Nodes XGBoost pruned away are dropped.
 * - an internal node has `left`/`right` child indices, a split `feature` (column index into the
 *   row-major features) and a `threshold`: a row goes **left when `x < threshold`**, right
 *   otherwise, and to the `defaultLeft` side when `x` is missing (`NaN`).
 * - a leaf has `left = right = feature = -1` and its contribution to the margin in `leafValue`.
 * - `gain` (loss reduction of the split, 0 at leaves) and `cover` (sum of training hessians
 *   reaching the node: the weighted row count TreeSHAP needs) at every node.
 *
 * The ensemble's margin of a row is `baseMargin + sum of the leaf values it reaches`, summed in
 * float32 in tree order as XGBoost does; for `binary:logistic` the probability is
 * `1 / (1 + exp(-margin))`.
 */
import { ModelFormatError } from '../errors';
import { isDeleted, parseBinaryModel, type BinaryModel, type BinaryTree } from './binary-model';
import { parseJsonModel } from './json-model';
import { NATIVE_MODEL_FORMAT } from './native-engine';

export interface Tree {
  /** Split feature per node, -1 at a leaf. */
  feature: Int32Array;
  /** Split threshold per node (`x < threshold` goes left), 0 at a leaf. */
  threshold: Float32Array;
  /** Child indices, -1 at a leaf. */
  left: Int32Array;
  right: Int32Array;
  /** 1 when a missing value goes left. */
  defaultLeft: Uint8Array;
  /** Margin contribution at a leaf, 0 at an internal node. */
  leafValue: Float32Array;
  gain: Float32Array;
  cover: Float32Array;
}

export interface TreeEnsemble {
  /** Only `binary:logistic` is produced: probability = sigmoid(margin). */
  objective: 'binary:logistic';
  baseMargin: number;
  numFeatures: number;
  trees: Tree[];
}

function compactTree(source: BinaryTree, numFeatures: number, index: number): Tree {
  // Pre-order walk from the root with an explicit stack; `order` maps new index -> old id.
  const order: number[] = [];
  const stack = [0];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node < 0 || node >= source.numNodes || isDeleted(source, node)) {
      throw new ModelFormatError(`tree ${index}: node ${node} is out of range or deleted but reachable`);
    }
    if (order.length >= source.numNodes) throw new ModelFormatError(`tree ${index}: its node links form a cycle`);
    order.push(node);
    if (source.left[node] !== -1) stack.push(source.right[node]!, source.left[node]!);
  }
  const n = order.length;
  const newIndex = new Map<number, number>();
  order.forEach((old, k) => newIndex.set(old, k));
  const tree: Tree = {
    feature: new Int32Array(n),
    threshold: new Float32Array(n),
    left: new Int32Array(n),
    right: new Int32Array(n),
    defaultLeft: new Uint8Array(n),
    leafValue: new Float32Array(n),
    gain: new Float32Array(n),
    cover: new Float32Array(n),
  };
  order.forEach((old, k) => {
    tree.cover[k] = source.cover[old]!;
    if (source.left[old] === -1) {
      tree.feature[k] = tree.left[k] = tree.right[k] = -1;
      tree.leafValue[k] = source.value[old]!;
      return;
    }
    const feature = source.splitIndex[old]! & 0x7fffffff;
    if (feature >= numFeatures) throw new ModelFormatError(`tree ${index}: split on feature ${feature} of ${numFeatures}`);
    tree.feature[k] = feature;
    tree.defaultLeft[k] = source.splitIndex[old]! >>> 31;
    tree.threshold[k] = source.value[old]!;
    tree.left[k] = newIndex.get(source.left[old]!)!;
    tree.right[k] = newIndex.get(source.right[old]!)!;
    tree.gain[k] = source.gain[old]!;
  });
  return tree;
}

/** The trees of a parsed XGBoost model (binary, or JSON read into the same node arrays) in the project's format. */
export function ensembleFromBinaryModel(model: Pick<BinaryModel, 'objective' | 'numOutputGroups' | 'baseMargin' | 'numFeatures' | 'trees'>): TreeEnsemble {
  if (model.objective !== 'binary:logistic') throw new ModelFormatError(`only binary:logistic models are supported, got ${model.objective}`);
  if (model.numOutputGroups !== 1) throw new ModelFormatError(`expected one output group, got ${model.numOutputGroups}`);
  return {
    objective: 'binary:logistic',
    baseMargin: model.baseMargin + 0, // XGBoost stores -0 for base_score 0.5; keep +0
    numFeatures: model.numFeatures,
    trees: model.trees.map((tree, t) => compactTree(tree, model.numFeatures, t)),
  };
}

/**
 * The trees of a model saved by an engine: `xgboost-json` (native engine) or, by default,
 * `xgboost-0.7-binary` (wasm engine).
 * @throws ModelFormatError when the bytes are not a `binary:logistic` gbtree model of that format
 */
export function extractTrees(modelBytes: Uint8Array, modelFormat?: string): TreeEnsemble {
  if (modelFormat === NATIVE_MODEL_FORMAT) return ensembleFromBinaryModel(parseJsonModel(modelBytes));
  return ensembleFromBinaryModel(parseBinaryModel(modelBytes));
}

/** Index of the leaf row `base` of `features` reaches in `tree`. */
export function leafIndex(tree: Tree, features: ArrayLike<number>, base: number): number {
  let node = 0;
  while (tree.left[node] !== -1) {
    const x = features[base + tree.feature[node]!]!;
    if (Number.isNaN(x)) node = tree.defaultLeft[node] === 1 ? tree.left[node]! : tree.right[node]!;
    else node = x < tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

function checkShape(ensemble: TreeEnsemble, features: Float32Array, numRows: number): void {
  if (features.length !== numRows * ensemble.numFeatures) {
    throw new RangeError(`expected ${numRows}×${ensemble.numFeatures} values, got ${features.length}`);
  }
}

/** Margin (log-odds) per row, summed in float32 like XGBoost's predictor. */
export function predictMargins(ensemble: TreeEnsemble, features: Float32Array, numRows: number): Float32Array {
  checkShape(ensemble, features, numRows);
  const d = ensemble.numFeatures;
  const out = new Float32Array(numRows);
  for (let i = 0; i < numRows; i++) {
    let sum = 0;
    for (const tree of ensemble.trees) sum = Math.fround(sum + tree.leafValue[leafIndex(tree, features, i * d)]!);
    out[i] = ensemble.baseMargin + sum;
  }
  return out;
}

/** Fraud probability per row: `sigmoid(margin)`. */
export function predictProbabilities(ensemble: TreeEnsemble, features: Float32Array, numRows: number): Float32Array {
  const margins = predictMargins(ensemble, features, numRows);
  for (let i = 0; i < numRows; i++) margins[i] = 1 / (1 + Math.exp(-margins[i]!));
  return margins;
}

/**
 * XGBoost's importance types: `weight` = number of splits on the feature, `gain` / `cover` = mean
 * gain / cover of those splits, `total_gain` / `total_cover` = their sums.
 */
export type ImportanceType = 'weight' | 'gain' | 'cover' | 'total_gain' | 'total_cover';

/** Importance per feature index (0 for a feature never split on). */
export function featureImportance(ensemble: TreeEnsemble, type: ImportanceType = 'gain'): Float64Array {
  const d = ensemble.numFeatures;
  const count = new Float64Array(d);
  const gain = new Float64Array(d);
  const cover = new Float64Array(d);
  for (const tree of ensemble.trees) {
    for (let k = 0; k < tree.feature.length; k++) {
      const f = tree.feature[k]!;
      if (f < 0) continue;
      count[f]!++;
      gain[f]! += tree.gain[k]!;
      cover[f]! += tree.cover[k]!;
    }
  }
  const mean = (sums: Float64Array) => sums.map((s, f) => (count[f]! > 0 ? s / count[f]! : 0));
  switch (type) {
    case 'weight':
      return count;
    case 'gain':
      return mean(gain);
    case 'cover':
      return mean(cover);
    case 'total_gain':
      return gain;
    case 'total_cover':
      return cover;
  }
}

/** Named importances, largest first (ties keep feature order). */
export function rankFeatures(importance: Float64Array, featureNames: readonly string[]): { feature: string; importance: number }[] {
  return Array.from(importance, (value, j) => ({ feature: featureNames[j] ?? `f${j}`, importance: value })).sort((a, b) => b.importance - a.importance);
}
