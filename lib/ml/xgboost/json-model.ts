/**
 * Reader and (tree-rearranging) writer of XGBoost's JSON model, the format of the native engine
 * (`xgboost-json`, as `XGBoosterSaveModelToBuffer` writes it with `{"format":"json"}`):
 *
 * ```
 * { version: [3, 2, 0],
 *   learner: {
 *     objective: { name: 'binary:logistic', ... },
 *     learner_model_param: { base_score: '[5E-1]' | '5E-1', num_feature: '30', num_class: '0', num_target: '1', ... },
 *     gradient_booster: { name: 'gbtree', model: {
 *       gbtree_model_param: { num_trees: '200', num_parallel_tree: '1' },
 *       iteration_indptr: [0, 1, 2, ...],      // trees of round r: [indptr[r], indptr[r + 1])
 *       tree_info: [0, 0, ...],                  // output group per tree
 *       trees: [{ id, left_children, right_children, split_indices, split_conditions, default_left,
 *                 loss_changes, sum_hessian, base_weights, split_type, tree_param: { num_nodes } }] } } } }
 * ```
 *
 * Node arrays are indexed by node id; a leaf has `left_children = -1` and its value in
 * `split_conditions`. `base_score` is a probability for `binary:logistic` (XGBoost ≥ 2 keeps it
 * untransformed, 3.x writes it as a one-element vector); the margin every prediction starts from
 * is `logit(base_score)`, computed in float32 as XGBoost does.
 */
import { ModelFormatError } from '../errors';
import type { BinaryTree } from './binary-model';

/** The parts of a parsed JSON model the project reads; trees as node arrays in the binary reader's shape. */
export interface JsonModel {
  objective: string;
  baseMargin: number;
  numFeatures: number;
  numOutputGroups: number;
  trees: BinaryTree[];
  /** The whole parsed document, for the writer. */
  document: JsonDocument;
}

interface JsonTree {
  id: number;
  left_children: number[];
  right_children: number[];
  split_indices: number[];
  split_conditions: number[];
  default_left: number[];
  loss_changes: number[];
  sum_hessian: number[];
  split_type?: number[];
  tree_param: { num_nodes: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface JsonDocument {
  learner: {
    objective: { name: string };
    learner_model_param: { base_score: string; num_feature: string; num_class?: string; num_target?: string };
    gradient_booster: {
      name: string;
      model: {
        gbtree_model_param: { num_trees: string; num_parallel_tree: string; [key: string]: unknown };
        iteration_indptr?: number[];
        tree_info: number[];
        trees: JsonTree[];
        [key: string]: unknown;
      };
    };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function fail(message: string): never {
  throw new ModelFormatError(`XGBoost JSON model: ${message}`);
}

function numberArray(value: unknown, length: number, what: string): number[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number')) fail(`${what} is not an array of ${length} numbers`);
  return value as number[];
}

/** `'[5E-1]'`, `'5E-1'` or `0.5` as a number. */
function parseBaseScore(value: unknown): number {
  const text = String(value).trim().replace(/^\[/, '').replace(/\]$/, '');
  const score = Number(text);
  if (text === '' || !Number.isFinite(score)) fail(`base_score ${String(value)} is not one number`);
  return score;
}

/** `logit(p)` the way XGBoost computes it (`-logf(1.0f / p - 1.0f)`). */
export function logitFloat32(p: number): number {
  if (!(p > 0 && p < 1)) fail(`base_score ${p} is not a probability in (0, 1)`);
  const f = Math.fround;
  return f(-Math.log(f(f(1 / f(p)) - 1)));
}

function readTree(raw: JsonTree, numFeatures: number, index: number): BinaryTree {
  const numNodes = Number(raw?.tree_param?.num_nodes);
  if (!Number.isSafeInteger(numNodes) || numNodes < 1) fail(`tree ${index} has ${String(raw?.tree_param?.num_nodes)} nodes`);
  const left = Int32Array.from(numberArray(raw.left_children, numNodes, `tree ${index} left_children`));
  const right = Int32Array.from(numberArray(raw.right_children, numNodes, `tree ${index} right_children`));
  const features = numberArray(raw.split_indices, numNodes, `tree ${index} split_indices`);
  const defaultLeft = numberArray(raw.default_left, numNodes, `tree ${index} default_left`);
  const value = Float32Array.from(numberArray(raw.split_conditions, numNodes, `tree ${index} split_conditions`));
  const gain = Float32Array.from(numberArray(raw.loss_changes, numNodes, `tree ${index} loss_changes`));
  const cover = Float32Array.from(numberArray(raw.sum_hessian, numNodes, `tree ${index} sum_hessian`));
  if (raw.split_type && raw.split_type.some((t) => t !== 0)) fail(`tree ${index} has categorical splits, which the project does not score`);
  const splitIndex = new Uint32Array(numNodes);
  for (let k = 0; k < numNodes; k++) {
    const feature = features[k]!;
    if (left[k] !== -1 && (!Number.isInteger(feature) || feature < 0 || feature >= numFeatures)) fail(`tree ${index}: split on feature ${feature} of ${numFeatures}`);
    // The binary reader's packing: feature in the low 31 bits, default-left in the top bit.
    splitIndex[k] = ((feature & 0x7fffffff) | (defaultLeft[k] ? 0x80000000 : 0)) >>> 0;
  }
  return { numNodes, left, right, splitIndex, value, gain, cover, bytes: new Uint8Array(0) };
}

function parseDocument(bytes: Uint8Array): JsonDocument {
  let document: JsonDocument;
  try {
    document = JSON.parse(decoder.decode(bytes)) as JsonDocument;
  } catch (error) {
    throw new ModelFormatError(`XGBoost JSON model: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const learner = document?.learner;
  if (!learner?.learner_model_param || !learner.objective || !learner.gradient_booster) fail('no learner');
  if (learner.gradient_booster.name !== 'gbtree') fail(`booster "${String(learner.gradient_booster.name)}" is not gbtree`);
  const model = learner.gradient_booster.model;
  if (!model || !Array.isArray(model.trees) || !Array.isArray(model.tree_info) || model.tree_info.length !== model.trees.length) fail('no gbtree trees');
  return document;
}

/** Parses a model saved by libxgboost ≥ 2 as JSON; throws `ModelFormatError` on anything else. */
export function parseJsonModel(bytes: Uint8Array): JsonModel {
  const document = parseDocument(bytes);
  const { learner } = document;
  const param = learner.learner_model_param;
  const numFeatures = Number(param.num_feature);
  if (!Number.isSafeInteger(numFeatures) || numFeatures < 1) fail(`num_feature ${String(param.num_feature)}`);
  const objective = String(learner.objective.name);
  const baseScore = parseBaseScore(param.base_score);
  const numOutputGroups = Math.max(1, Number(param.num_class ?? 0), Number(param.num_target ?? 1));
  const trees = learner.gradient_booster.model.trees.map((tree, t) => readTree(tree, numFeatures, t));
  return {
    objective,
    // Only binary:logistic is turned into a margin; other objectives are refused by the tree extractor.
    baseMargin: objective === 'binary:logistic' ? logitFloat32(baseScore) : baseScore,
    numFeatures,
    numOutputGroups,
    trees,
    document,
  };
}

/** Tree fields XGBoost reads as floats: it refuses an integer literal there (`Invalid cast, from Integer to Number`). */
const FLOAT_ARRAYS = new Set(['split_conditions', 'loss_changes', 'sum_hessian', 'base_weights']);

function floatLiteral(value: number): string {
  const text = JSON.stringify(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** `JSON.stringify` except that the float arrays keep a decimal point on whole numbers, as XGBoost wrote them. */
function write(value: unknown, floats = false): string {
  if (Array.isArray(value)) return `[${value.map((item) => (floats && typeof item === 'number' ? floatLiteral(item) : write(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${write(item, FLOAT_ARRAYS.has(key))}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function serialize(document: JsonDocument): Uint8Array {
  return encoder.encode(write(document));
}

/** The model with only its first `count` trees (early stopping keeps the trees up to the best round). */
export function truncateJsonTrees(bytes: Uint8Array, count: number): Uint8Array {
  const document = parseDocument(bytes);
  const model = document.learner.gradient_booster.model;
  if (!Number.isInteger(count) || count < 0 || count > model.trees.length) throw new RangeError(`cannot keep ${count} of ${model.trees.length} trees`);
  const indptr = model.iteration_indptr;
  if (indptr && !indptr.includes(count)) throw new RangeError(`${count} trees is not a whole number of rounds`);
  model.trees = model.trees.slice(0, count);
  model.tree_info = model.tree_info.slice(0, count);
  if (indptr) model.iteration_indptr = indptr.filter((end) => end <= count);
  model.gbtree_model_param.num_trees = String(count);
  return serialize(document);
}

/**
 * One model holding the trees of all `models`, in order, as a single round of parallel trees (a
 * forest), with the header of the first. Their predictions add up beyond the common base margin:
 * used to join sub-forests whose leaves were already scaled to their share of the whole forest.
 */
export function concatenateJsonTrees(models: readonly Uint8Array[]): Uint8Array {
  const documents = models.map(parseDocument);
  const first = documents[0];
  if (!first) throw new RangeError('concatenateJsonTrees needs at least one model');
  const head = first.learner.learner_model_param;
  for (const other of documents) {
    const param = other.learner.learner_model_param;
    if (other.learner.objective.name !== first.learner.objective.name || parseBaseScore(param.base_score) !== parseBaseScore(head.base_score) || param.num_feature !== head.num_feature) {
      throw new ModelFormatError('concatenateJsonTrees: the models differ in objective, base score or feature count');
    }
  }
  const trees = documents.flatMap((doc) => doc.learner.gradient_booster.model.trees).map((tree, id) => ({ ...tree, id }));
  const model = first.learner.gradient_booster.model;
  model.trees = trees;
  model.tree_info = documents.flatMap((doc) => doc.learner.gradient_booster.model.tree_info);
  model.iteration_indptr = [0, trees.length];
  model.gbtree_model_param.num_trees = String(trees.length);
  model.gbtree_model_param.num_parallel_tree = String(trees.length);
  return serialize(first);
}
