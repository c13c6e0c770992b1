/**
 * Isolation trees (Liu, Ting and Zhou, 2008) grown and scored on flat typed arrays.
 *
 * Every node of every tree lives in three parallel arrays, trees one after another:
 * - `feature[k]`: the split feature, or -1 for a leaf;
 * - `threshold[k]`: rows with `x[feature] <= threshold` go to `left[k]`, the others to
 *   `left[k] + 1` (children are allocated in pairs); for a leaf, its path length
 *   `depth + c(leaf size)`;
 * - `left[k]`: index of the left child.
 *
 * The growing rule is scikit-learn's (`IsolationForest` = extra trees with one random feature
 * per split): a random feature that is not constant in the node, a threshold uniform between its
 * minimum and maximum there, growth until the node has one row or the depth reaches
 * `ceil(log2(sampleSize))`. The score is the paper's `s = 2^(-E[h(x)] / c(sampleSize))` (sklearn's
 * `score_samples` is `-s`): near 1 for anomalies, below 0.5 for ordinary rows.
 */
import type { SeededRandom } from '../data/random';

/** The trees of a forest; see the module comment for the layout. */
export interface FlatForest {
  numTrees: number;
  numFeatures: number;
  /** Rows each tree was grown on (`min(maxSamples, rows)`): the `ψ` of `c(ψ)`. */
  sampleSize: number;
  /** Index of each tree's root node. */
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float32Array;
  left: Int32Array;
}

const EULER_GAMMA = 0.5772156649015329;

/**
 * `c(n)`: the average path length of an unsuccessful search in a binary search tree of `n` keys,
 * the expected depth still to go in a leaf that holds `n` rows (scikit-learn's `_average_path_length`).
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** The largest float32 that is <= x. For float32 inputs, `v <= x` and `v <= floorToFloat32(x)` agree. */
function floorToFloat32(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  // f is the float32 just above x: step one ulp towards -Infinity (up in magnitude for negatives, -0 included).
  const bits = new Float32Array([f]);
  const view = new Int32Array(bits.buffer);
  view[0] = f > 0 ? view[0]! - 1 : view[0]! + 1;
  return bits[0]!;
}

/** Grows forests tree by tree so the caller can report progress and stop between trees. */
export class ForestBuilder {
  readonly sampleSize: number;
  private readonly heightLimit: number;
  private readonly featuresPerTree: number;
  private readonly pool: Uint32Array;
  private readonly featurePool: Int32Array;
  private readonly sample: Uint32Array;
  private readonly roots: Int32Array;
  private readonly feature: Int32Array;
  private readonly threshold: Float32Array;
  private readonly left: Int32Array;
  private nodes = 0;
  private trees = 0;

  constructor(
    private readonly x: Float32Array,
    private readonly numRows: number,
    private readonly numFeatures: number,
    private readonly numTrees: number,
    maxSamples: number,
    maxFeatures: number,
    private readonly rng: SeededRandom,
  ) {
    this.sampleSize = Math.min(maxSamples, numRows);
    this.heightLimit = Math.ceil(Math.log2(Math.max(this.sampleSize, 2)));
    this.featuresPerTree = Math.max(1, Math.floor(maxFeatures * numFeatures));
    this.pool = new Uint32Array(numRows);
    for (let i = 0; i < numRows; i++) this.pool[i] = i;
    this.featurePool = new Int32Array(numFeatures);
    for (let j = 0; j < numFeatures; j++) this.featurePool[j] = j;
    this.sample = new Uint32Array(this.sampleSize);
    const maxNodes = numTrees * (2 * this.sampleSize - 1);
    this.roots = new Int32Array(numTrees);
    this.feature = new Int32Array(maxNodes);
    this.threshold = new Float32Array(maxNodes);
    this.left = new Int32Array(maxNodes);
  }

  /** Grows the next tree. */
  growTree(): void {
    const { rng, pool, sample, featurePool } = this;
    // Rows without replacement: a partial Fisher-Yates shuffle of a pool that stays shuffled.
    for (let i = 0; i < this.sampleSize; i++) {
      const j = i + rng.int(this.numRows - i);
      const t = pool[j]!;
      pool[j] = pool[i]!;
      pool[i] = t;
      sample[i] = t;
    }
    // The features of this tree: the first `featuresPerTree` of a partial shuffle (all when maxFeatures = 1).
    for (let i = 0; i < this.featuresPerTree && this.featuresPerTree < this.numFeatures; i++) {
      const j = i + rng.int(this.numFeatures - i);
      const t = featurePool[j]!;
      featurePool[j] = featurePool[i]!;
      featurePool[i] = t;
    }
    this.roots[this.trees++] = this.grow();
  }

  private allocate(count: number): number {
    const first = this.nodes;
    this.nodes += count;
    return first;
  }

  private grow(): number {
    const { x, numFeatures: d, sample, rng } = this;
    const candidates = new Int32Array(this.featuresPerTree);
    const root = this.allocate(1);
    // Explicit stack of [node, start, end, depth]: rows sample[start..end) reached `node`.
    const stack: number[] = [root, 0, this.sampleSize, 0];
    while (stack.length > 0) {
      const depth = stack.pop()!;
      const end = stack.pop()!;
      const start = stack.pop()!;
      const node = stack.pop()!;
      const size = end - start;
      let split = -1;
      let lo = 0;
      let hi = 0;
      if (size > 1 && depth < this.heightLimit) {
        // Draw features without replacement until one varies in this node (sklearn skips constant ones too).
        candidates.set(this.featurePool.subarray(0, this.featuresPerTree));
        for (let remaining = candidates.length; remaining > 0 && split < 0; remaining--) {
          const r = rng.int(remaining);
          const f = candidates[r]!;
          candidates[r] = candidates[remaining - 1]!;
          lo = Infinity;
          hi = -Infinity;
          for (let i = start; i < end; i++) {
            const v = x[sample[i]! * d + f]!;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          if (hi > lo) split = f;
        }
      }
      if (split < 0) {
        this.feature[node] = -1;
        this.threshold[node] = depth + averagePathLength(size);
        continue;
      }
      let t = lo + rng.next() * (hi - lo);
      if (!(t < hi)) t = lo; // rounding reached the maximum: the right side would be empty
      const threshold = floorToFloat32(t);
      // Partition sample[start..end): rows with x <= threshold first.
      let i = start;
      let j = end - 1;
      while (i <= j) {
        if (x[sample[i]! * d + split]! <= threshold) i++;
        else {
          const tmp = sample[i]!;
          sample[i] = sample[j]!;
          sample[j] = tmp;
          j--;
        }
      }
      const leftChild = this.allocate(2);
      this.feature[node] = split;
      this.threshold[node] = threshold;
      this.left[node] = leftChild;
      stack.push(leftChild, start, i, depth + 1, leftChild + 1, i, end, depth + 1);
    }
    return root;
  }

  /** The grown trees, trimmed to the nodes used. */
  finish(): FlatForest {
    return {
      numTrees: this.trees,
      numFeatures: this.numFeatures,
      sampleSize: this.sampleSize,
      roots: this.roots.slice(0, this.trees),
      feature: this.feature.slice(0, this.nodes),
      threshold: this.threshold.slice(0, this.nodes),
      left: this.left.slice(0, this.nodes),
    };
  }
}

/** Rows scored together tree by tree: their values (60 KB at 30 features) stay in cache while each tree is walked. */
const SCORE_BLOCK = 512;

/**
 * Anomaly score `2^(-E[h(x)] / c(ψ))` of each row of row-major `x`: higher is more anomalous.
 * Blocks of rows walk one tree after another: the walk is a chain of dependent loads, and
 * keeping one small tree and one block of rows hot makes those loads cache hits; rows of a block
 * are independent, so their walks overlap in the CPU. Every row sums its trees in tree order, so
 * the result does not depend on the block size.
 */
export function anomalyScores(forest: FlatForest, x: Float32Array, numRows: number): Float64Array {
  const { roots, feature, threshold, left, numTrees, numFeatures: d } = forest;
  const scale = -1 / (numTrees * averagePathLength(forest.sampleSize));
  const out = new Float64Array(numRows);
  for (let start = 0; start < numRows; start += SCORE_BLOCK) {
    const end = Math.min(numRows, start + SCORE_BLOCK);
    for (let t = 0; t < numTrees; t++) {
      const root = roots[t]!;
      for (let r = start; r < end; r++) {
        const base = r * d;
        let node = root;
        let f = feature[node]!;
        while (f >= 0) {
          node = x[base + f]! <= threshold[node]! ? left[node]! : left[node]! + 1;
          f = feature[node]!;
        }
        out[r]! += threshold[node]!;
      }
    }
    for (let r = start; r < end; r++) out[r] = Math.pow(2, out[r]! * scale);
  }
  return out;
}
