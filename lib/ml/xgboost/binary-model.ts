/**
 * Reader and writer of XGBoost's legacy binary model format as the 0.7x releases write it (the
 * format of the wasm engine, `xgboost-0.7-binary`). Little-endian, C structs written as is:
 *
 * ```
 * LearnerModelParam  136 B  f32 base_score (already a margin), u32 num_feature, i32 num_class,
 *                           i32 contain_extra_attrs, i32 contain_eval_metrics, i32 reserved[29]
 * string objective          u64 length + bytes, e.g. "binary:logistic"
 * string booster            "gbtree"
 * GBTreeModelParam   160 B  i32 num_trees, num_roots, num_feature, pad, i64 num_pbuffer,
 *                           i32 num_output_group, size_leaf_vector, reserved[32]
 * num_trees × RegTree:
 *   TreeParam        148 B  i32 num_roots, num_nodes, num_deleted, max_depth, num_feature,
 *                           size_leaf_vector, reserved[31]
 *   num_nodes × Node  20 B  i32 parent (top bit: is left child), i32 left, i32 right (-1 at a leaf),
 *                           u32 split index (top bit: default left), f32 split threshold or leaf value
 *   num_nodes × Stat  16 B  f32 loss_chg (gain), f32 sum_hess (cover), f32 base_weight, i32 leaf_child_cnt
 *   [leaf vector]           only when size_leaf_vector != 0: u64 count + f32s
 * i32 tree_info[num_trees]  output group of each tree
 * trailer                   attributes / eval metrics when flagged (kept as opaque bytes)
 * ```
 *
 * The writer only rearranges whole trees (keep the first n, concatenate the trees of several
 * models), which is all the models need: truncating at the best round of early stopping and
 * merging sub-forests into one forest.
 */
import { ModelFormatError } from '../errors';

const LEARNER_PARAM_BYTES = 136;
const GBTREE_PARAM_BYTES = 160;
const TREE_PARAM_BYTES = 148;
const NODE_BYTES = 20;
const STAT_BYTES = 16;
/** `sindex_` of a node removed by pruning. */
const DELETED = 0xffffffff;

/** One tree as stored, node arrays indexed by XGBoost's node id (deleted nodes included). */
export interface BinaryTree {
  numNodes: number;
  /** Left child id, -1 at a leaf. */
  left: Int32Array;
  right: Int32Array;
  /** Raw `sindex_`: feature index in the low 31 bits, default-left in the top bit. */
  splitIndex: Uint32Array;
  /** Split threshold at an internal node, leaf value (margin) at a leaf. */
  value: Float32Array;
  /** Loss change of the split (its gain). */
  gain: Float32Array;
  /** Sum of the hessians of the training rows reaching the node. */
  cover: Float32Array;
  /** The tree's bytes, for the writer. */
  bytes: Uint8Array;
}

export interface BinaryModel {
  /** Margin every prediction starts from (XGBoost stores `base_score` already transformed). */
  baseMargin: number;
  numFeatures: number;
  objective: string;
  booster: string;
  numOutputGroups: number;
  trees: BinaryTree[];
  /** Output group of each tree. */
  treeInfo: Int32Array;
  /** Bytes before GBTreeModelParam, GBTreeModelParam itself, and after tree_info; for the writer. */
  head: Uint8Array;
  gbtreeParam: Uint8Array;
  trailer: Uint8Array;
}

class Reader {
  private readonly view: DataView;
  offset = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(size: number, what: string): void {
    if (this.offset + size > this.bytes.length) {
      throw new ModelFormatError(`XGBoost binary model truncated: ${what} needs ${size} bytes at offset ${this.offset}, ${this.bytes.length} in total`);
    }
  }
  i32(): number {
    this.need(4, 'int');
    const value = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return value;
  }
  f32(): number {
    this.need(4, 'float');
    const value = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return value;
  }
  u64(): number {
    this.need(8, 'length');
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    if (value > BigInt(this.bytes.length)) throw new ModelFormatError(`XGBoost binary model: length ${value} exceeds the model size`);
    return Number(value);
  }
  string(): string {
    const length = this.u64();
    this.need(length, 'string');
    const text = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }
  skip(size: number, what: string): void {
    this.need(size, what);
    this.offset += size;
  }
}

function readTree(r: Reader, index: number): BinaryTree {
  const start = r.offset;
  r.skip(4, 'TreeParam'); // num_roots
  const numNodes = r.i32();
  r.skip(12, 'TreeParam'); // num_deleted, max_depth, num_feature
  const sizeLeafVector = r.i32();
  r.skip(TREE_PARAM_BYTES - 24, 'TreeParam');
  if (numNodes < 1) throw new ModelFormatError(`XGBoost binary model: tree ${index} has ${numNodes} nodes`);
  r.need(numNodes * (NODE_BYTES + STAT_BYTES), `tree ${index}`);
  const left = new Int32Array(numNodes);
  const right = new Int32Array(numNodes);
  const splitIndex = new Uint32Array(numNodes);
  const value = new Float32Array(numNodes);
  const gain = new Float32Array(numNodes);
  const cover = new Float32Array(numNodes);
  for (let k = 0; k < numNodes; k++) {
    r.i32(); // parent
    left[k] = r.i32();
    right[k] = r.i32();
    splitIndex[k] = r.i32() >>> 0;
    value[k] = r.f32();
  }
  for (let k = 0; k < numNodes; k++) {
    gain[k] = r.f32();
    cover[k] = r.f32();
    r.skip(8, 'node stat'); // base_weight, leaf_child_cnt
  }
  if (sizeLeafVector !== 0) r.skip(4 * r.u64(), 'leaf vector');
  return { numNodes, left, right, splitIndex, value, gain, cover, bytes: r.bytes.subarray(start, r.offset) };
}

/** Parses a model saved by an XGBoost 0.7x `gbtree` booster; throws `ModelFormatError` on anything else. */
export function parseBinaryModel(bytes: Uint8Array): BinaryModel {
  const r = new Reader(bytes);
  const baseMargin = r.f32();
  const numFeatures = r.i32();
  r.skip(4, 'LearnerModelParam'); // num_class
  const containsAttributes = r.i32();
  const containsMetrics = r.i32();
  r.skip(LEARNER_PARAM_BYTES - 20, 'LearnerModelParam');
  const objective = r.string();
  const booster = r.string();
  if (booster !== 'gbtree') throw new ModelFormatError(`XGBoost binary model: booster "${booster}" is not gbtree`);
  const headEnd = r.offset;
  const numTrees = r.i32();
  r.skip(20, 'GBTreeModelParam'); // num_roots, num_feature, pad, num_pbuffer
  const numOutputGroups = r.i32();
  r.skip(GBTREE_PARAM_BYTES - 28, 'GBTreeModelParam'); // size_leaf_vector, reserved
  if (numTrees < 0) throw new ModelFormatError(`XGBoost binary model: ${numTrees} trees`);
  const trees: BinaryTree[] = [];
  for (let t = 0; t < numTrees; t++) trees.push(readTree(r, t));
  const treeInfo = new Int32Array(numTrees);
  for (let t = 0; t < numTrees; t++) treeInfo[t] = r.i32();
  const trailer = bytes.subarray(r.offset);
  if (trailer.length > 0 && containsAttributes === 0 && containsMetrics === 0 && objective !== 'count:poisson') {
    throw new ModelFormatError(`XGBoost binary model: ${trailer.length} unexpected bytes after the trees`);
  }
  return {
    baseMargin,
    numFeatures,
    objective,
    booster,
    numOutputGroups,
    trees,
    treeInfo,
    head: bytes.subarray(0, headEnd),
    gbtreeParam: bytes.subarray(headEnd, headEnd + GBTREE_PARAM_BYTES),
    trailer,
  };
}

/** Serializes `base` (its header, parameters and trailer) with the given trees instead of its own. */
export function writeBinaryModel(base: BinaryModel, trees: readonly { tree: BinaryTree; group: number }[]): Uint8Array {
  const treeBytes = trees.reduce((sum, { tree }) => sum + tree.bytes.length, 0);
  const out = new Uint8Array(base.head.length + GBTREE_PARAM_BYTES + treeBytes + 4 * trees.length + base.trailer.length);
  const view = new DataView(out.buffer);
  let offset = 0;
  out.set(base.head, offset);
  offset += base.head.length;
  out.set(base.gbtreeParam, offset);
  view.setInt32(offset, trees.length, true);
  offset += GBTREE_PARAM_BYTES;
  for (const { tree } of trees) {
    out.set(tree.bytes, offset);
    offset += tree.bytes.length;
  }
  for (const { group } of trees) {
    view.setInt32(offset, group, true);
    offset += 4;
  }
  out.set(base.trailer, offset);
  return out;
}

/** The model with only its first `count` trees (early stopping keeps the trees up to the best round). */
export function truncateTrees(bytes: Uint8Array, count: number): Uint8Array {
  const model = parseBinaryModel(bytes);
  if (!Number.isInteger(count) || count < 0 || count > model.trees.length) throw new RangeError(`cannot keep ${count} of ${model.trees.length} trees`);
  return writeBinaryModel(
    model,
    model.trees.slice(0, count).map((tree, t) => ({ tree, group: model.treeInfo[t]! })),
  );
}

/**
 * One model holding the trees of all `models`, in order, with the header of the first. Their
 * predictions add up: used to join sub-forests whose leaf values were already scaled to their
 * share of the whole forest. All must share objective, base margin and feature count.
 */
export function concatenateTrees(models: readonly Uint8Array[]): Uint8Array {
  const parsed = models.map(parseBinaryModel);
  const first = parsed[0];
  if (!first) throw new RangeError('concatenateTrees needs at least one model');
  for (const other of parsed) {
    if (other.objective !== first.objective || other.baseMargin !== first.baseMargin || other.numFeatures !== first.numFeatures) {
      throw new ModelFormatError('concatenateTrees: the models differ in objective, base margin or feature count');
    }
  }
  return writeBinaryModel(
    first,
    parsed.flatMap((model) => model.trees.map((tree, t) => ({ tree, group: model.treeInfo[t]! }))),
  );
}

export function isDeleted(tree: BinaryTree, node: number): boolean {
  return tree.splitIndex[node] === DELETED;
}
