/**
 * Trees as one `ai.onnx.ml` TreeEnsembleRegressor node (ML opset 3), shared by the boosted trees,
 * the random forest and the isolation forest.
 *
 * Every split is written with the model's own comparison (`BRANCH_LT`: `x < threshold` takes the
 * true branch; `BRANCH_LEQ`: `x <= threshold`), on the model's float32 thresholds unchanged, so a
 * float32 input takes exactly the path it takes in the model. A missing value (`NaN`) fails every
 * comparison and goes to the false branch, unless `missing_value_tracks_true` sends it to the true
 * branch; this mirrors XGBoost's `defaultLeft` when the true branch is the left child.
 */
import { OnnxExportError } from './errors';
import { attr, ML_DOMAIN, type GraphBuilder } from './graph';

/** One tree, nodes numbered `0..n-1` within it, node 0 the root, every child after its parent. */
export interface ExportTree {
  /** Split feature per node, -1 at a leaf. */
  feature: ArrayLike<number>;
  /** Split threshold per node (float32 values), ignored at a leaf. */
  threshold: ArrayLike<number>;
  /** Child taken when the comparison holds, -1 at a leaf. */
  trueChild: ArrayLike<number>;
  /** Child taken otherwise (and by a missing value, unless `missingTrue`), -1 at a leaf. */
  falseChild: ArrayLike<number>;
  /** 1 where a missing value takes the true branch; all 0 when omitted. */
  missingTrue?: ArrayLike<number>;
  /** Output contribution of a leaf, ignored at an internal node. */
  leafValue: ArrayLike<number>;
}

export interface TreeEnsembleSpec {
  /** Model kind, for error messages. */
  kind: string;
  mode: 'BRANCH_LT' | 'BRANCH_LEQ';
  numFeatures: number;
  /**
   * `'sum'`: one output column, `baseValue` plus the leaves reached (summed by the runtime in
   * float32). `'per-tree'`: one column per tree holding the value of the leaf it reached, exact,
   * for a caller that needs to sum in double precision.
   */
  output: 'sum' | 'per-tree';
  /** @default 0 */
  baseValue?: number;
}

/**
 * Adds the TreeEnsembleRegressor reading the float32 `[N, numFeatures]` value `input`; returns the
 * name of its float32 output, `[N, 1]` (`'sum'`) or `[N, trees]` (`'per-tree'`).
 * @throws OnnxExportError when a tree is malformed (a child out of range or before its parent, a
 *   split on a feature outside the input, a non-finite leaf) or there is no tree
 */
export function treeEnsembleRegressor(g: GraphBuilder, input: string, trees: readonly ExportTree[], spec: TreeEnsembleSpec): string {
  const fail = (problem: string): never => {
    throw new OnnxExportError(`${spec.kind}: ${problem}`, spec.kind);
  };
  if (trees.length === 0) fail('the model has no tree');
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
  };
  const targets = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  trees.forEach((tree, t) => {
    const n = tree.feature.length;
    if (n === 0) fail(`tree ${t} has no node`);
    for (let k = 0; k < n; k++) {
      const f = tree.feature[k]!;
      nodes.treeIds.push(t);
      nodes.nodeIds.push(k);
      if (f < 0) {
        const value = tree.leafValue[k]!;
        if (!Number.isFinite(value)) fail(`tree ${t} node ${k}: leaf value ${value} is not finite`);
        nodes.featureIds.push(0);
        nodes.modes.push('LEAF');
        nodes.values.push(0);
        nodes.trueIds.push(0);
        nodes.falseIds.push(0);
        nodes.missingTrue.push(0);
        targets.treeIds.push(t);
        targets.nodeIds.push(k);
        targets.ids.push(spec.output === 'per-tree' ? t : 0);
        targets.weights.push(value);
        continue;
      }
      const yes = tree.trueChild[k]!;
      const no = tree.falseChild[k]!;
      if (!(Number.isInteger(f) && f < spec.numFeatures)) fail(`tree ${t} node ${k} splits on feature ${f} of ${spec.numFeatures}`);
      // Children after their parent: the node links cannot form a cycle.
      if (!(yes > k && yes < n && no > k && no < n)) fail(`tree ${t} node ${k} has children ${yes}, ${no} outside the tree`);
      if (Number.isNaN(tree.threshold[k]!)) fail(`tree ${t} node ${k} has a NaN threshold`);
      nodes.featureIds.push(f);
      nodes.modes.push(spec.mode);
      nodes.values.push(tree.threshold[k]!);
      nodes.trueIds.push(yes);
      nodes.falseIds.push(no);
      nodes.missingTrue.push(tree.missingTrue?.[k] ? 1 : 0);
    }
  });
  const nTargets = spec.output === 'per-tree' ? trees.length : 1;
  const attributes = [
    attr.string('aggregate_function', 'SUM'),
    attr.string('post_transform', 'NONE'),
    attr.int('n_targets', nTargets),
    attr.ints('nodes_treeids', nodes.treeIds),
    attr.ints('nodes_nodeids', nodes.nodeIds),
    attr.ints('nodes_featureids', nodes.featureIds),
    attr.strings('nodes_modes', nodes.modes),
    attr.floats('nodes_values', nodes.values),
    attr.ints('nodes_truenodeids', nodes.trueIds),
    attr.ints('nodes_falsenodeids', nodes.falseIds),
    attr.ints('nodes_missing_value_tracks_true', nodes.missingTrue),
    attr.ints('target_treeids', targets.treeIds),
    attr.ints('target_nodeids', targets.nodeIds),
    attr.ints('target_ids', targets.ids),
    attr.floats('target_weights', targets.weights),
  ];
  if (spec.output === 'sum' && spec.baseValue) attributes.push(attr.floats('base_values', [spec.baseValue]));
  return g.node('TreeEnsembleRegressor', [input], { domain: ML_DOMAIN, attributes, hint: spec.output === 'sum' ? 'tree_sum' : 'tree_leaves' });
}
