/**
 * Binary-classification metrics for fraud scores, defined exactly as scikit-learn defines them
 * (checked against sklearn 1.9 to 1e-6 by test/integration/ml-metrics-sklearn.test.ts).
 *
 * Conventions shared by every function here:
 * - `labels` are 0/1 (1 = fraud), `scores` are any real numbers (higher = more suspicious); both
 *   have the same length. A `NaN` score is a bug upstream and throws a `RangeError`.
 * - A row is flagged when `score >= threshold` (the convention of sklearn's `roc_curve` and
 *   `precision_recall_curve`), so every distinct score is a possible threshold.
 * - Ranking metrics sort once: O(n log n) with native typed-array sorts, no comparator callbacks,
 *   which keeps 285k rows in the tens of milliseconds.
 */

/** Counts of a thresholded prediction. */
export interface ConfusionMatrix {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Everything the pipeline logs about a model on one split, at one decision threshold. */
export interface Evaluation {
  /** Area under the ROC curve (threshold-free). */
  rocAuc: number;
  /** Average precision (sklearn's `average_precision_score`), the PR-AUC (threshold-free). */
  prAuc: number;
  precision: number;
  recall: number;
  f1: number;
  /** F-beta with beta = 2: recall weighs four times as much as precision. */
  f2: number;
  /** False-positive rate, `fp / (fp + tn)`: the share of legitimate transactions flagged. */
  fpr: number;
  /** Rows with `score >= threshold` are flagged. */
  threshold: number;
  confusion: ConfusionMatrix;
  /** Number of rows with label 1. */
  positives: number;
  rows: number;
}

/** How `chooseThreshold` picks the decision threshold. */
export interface ThresholdOptions {
  /**
   * `max_f1`: the threshold with the highest F1. `cost`: the threshold with the lowest
   * `fn * costRatio + fp` (a missed fraud costs `costRatio` false alarms).
   * @default 'max_f1'
   */
  strategy?: 'max_f1' | 'cost';
  /** Cost of one missed fraud in units of one false alarm; only for `strategy: 'cost'`. @default 10 */
  costRatio?: number;
}

/** Points of a curve for plots, in order of decreasing threshold. */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** `thresholds[i]` gives point `i`; the first point (0, 0) has a threshold above every score. */
  thresholds: number[];
}

export interface PrecisionRecallCurve {
  precision: number[];
  recall: number[];
  /** `thresholds[i]` gives point `i`; the first point (recall 0, precision 1) has a threshold above every score. */
  thresholds: number[];
}

export interface CurveOptions {
  /** Keep at most about this many points (evenly spread along the curve); endpoints are always kept. @default 1000 */
  maxPoints?: number;
}

/**
 * The ranking of scores condensed to one entry per distinct score, in decreasing score order:
 * flagging every row with `score >= thresholds[k]` gives `tps[k]` true and `fps[k]` false positives.
 */
interface Ranking {
  thresholds: Float64Array;
  tps: Float64Array;
  fps: Float64Array;
  /** Number of distinct scores (the arrays above may be longer). */
  count: number;
  positives: number;
  negatives: number;
}

// In a `vm` context (jest) every global lookup such as `Math` or `Number` is slow: the per-row
// loops below avoid them.
const { max } = Math;

function checkInputs(labels: Uint8Array, scores: ArrayLike<number>): void {
  if (!(labels instanceof Uint8Array)) throw new TypeError('labels must be a Uint8Array of 0/1');
  if (scores == null || typeof scores.length !== 'number') throw new TypeError('scores must be an array of numbers');
  if (labels.length !== scores.length) {
    throw new RangeError(`labels and scores differ in length: ${labels.length} vs ${scores.length}`);
  }
}

/**
 * Sorts the scores of each class separately (a plain numeric sort of a Float64Array is native and
 * far faster than sorting an index array with a comparator), then merges them from the top.
 */
function rank(labels: Uint8Array, scores: ArrayLike<number>): Ranking {
  checkInputs(labels, scores);
  const n = labels.length;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (y > 1) throw new RangeError(`labels must be 0 or 1; row ${i} has ${y}`);
    positives += y;
  }
  const negatives = n - positives;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const s = +scores[i]!;
    if (s !== s) throw new RangeError(`score of row ${i} is NaN`);
    if (labels[i] === 1) pos[p++] = s;
    else neg[q++] = s;
  }
  pos.sort();
  neg.sort();

  const thresholds = new Float64Array(n);
  const tps = new Float64Array(n);
  const fps = new Float64Array(n);
  let count = 0;
  let tp = 0;
  let fp = 0;
  // Walk both ascending arrays from their ends (largest first).
  p = positives - 1;
  q = negatives - 1;
  while (p >= 0 || q >= 0) {
    const t = p < 0 ? neg[q]! : q < 0 ? pos[p]! : max(pos[p]!, neg[q]!);
    while (p >= 0 && pos[p] === t) {
      tp++;
      p--;
    }
    while (q >= 0 && neg[q] === t) {
      fp++;
      q--;
    }
    thresholds[count] = t;
    tps[count] = tp;
    fps[count] = fp;
    count++;
  }
  return { thresholds, tps, fps, count, positives, negatives };
}

function requireBothClasses(r: Ranking, metric: string): void {
  if (r.positives === 0 || r.negatives === 0) {
    throw new RangeError(`${metric} is undefined when labels contain only one class (${r.positives} positives of ${r.positives + r.negatives} rows)`);
  }
}

/** The smallest double above `x`: a threshold that flags nothing when `x` is the top score. */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/**
 * Area under the ROC curve, as sklearn's `roc_auc_score`: the trapezoidal area, so tied scores
 * count half (the Mann-Whitney statistic). Throws a `RangeError` when only one class is present.
 */
export function rocAuc(labels: Uint8Array, scores: ArrayLike<number>): number {
  return rocAucOf(rank(labels, scores));
}

function rocAucOf(r: Ranking): number {
  requireBothClasses(r, 'ROC-AUC');
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < r.count; k++) {
    const tp = r.tps[k]!;
    const fp = r.fps[k]!;
    area += (fp - prevFp) * (tp + prevTp);
    prevTp = tp;
    prevFp = fp;
  }
  return area / (2 * r.positives * r.negatives);
}

/**
 * Average precision, as sklearn's `average_precision_score`: `sum_k (R_k - R_{k-1}) * P_k` over
 * the distinct scores in decreasing order, a step function with no interpolation. Tied scores form
 * one step. This is the PR-AUC the pipeline reports. Throws a `RangeError` when there is no
 * positive (it would be undefined; sklearn warns and returns a meaningless value).
 */
export function averagePrecision(labels: Uint8Array, scores: ArrayLike<number>): number {
  return averagePrecisionOf(rank(labels, scores));
}

function averagePrecisionOf(r: Ranking): number {
  if (r.positives === 0) throw new RangeError(`average precision is undefined without positive labels (${r.negatives} rows, all 0)`);
  let ap = 0;
  let prevTp = 0;
  for (let k = 0; k < r.count; k++) {
    const tp = r.tps[k]!;
    if (tp !== prevTp) {
      ap += ((tp - prevTp) / r.positives) * (tp / (tp + r.fps[k]!));
      prevTp = tp;
    }
  }
  return ap;
}

/** Alias of {@link averagePrecision}, under the name the pipeline logs it as. */
export const prAuc = averagePrecision;

/** The confusion matrix when rows with `score >= threshold` are flagged. */
export function confusionMatrix(labels: Uint8Array, scores: ArrayLike<number>, threshold: number): ConfusionMatrix {
  checkInputs(labels, scores);
  if (Number.isNaN(threshold)) throw new RangeError('threshold is NaN');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = +scores[i]!;
    if (s !== s) throw new RangeError(`score of row ${i} is NaN`);
    const y = labels[i]!;
    if (y > 1) throw new RangeError(`labels must be 0 or 1; row ${i} has ${y}`);
    if (s >= threshold) {
      if (y === 1) tp++;
      else fp++;
    } else if (y === 1) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

/** `tp / (tp + fp)`, 0 when nothing is flagged (sklearn's `zero_division` result). */
export function precision(c: ConfusionMatrix): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

/** `tp / (tp + fn)`, 0 when there is no positive. */
export function recall(c: ConfusionMatrix): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

/** `fp / (fp + tn)`, 0 when there is no negative. */
export function falsePositiveRate(c: ConfusionMatrix): number {
  return c.fp + c.tn === 0 ? 0 : c.fp / (c.fp + c.tn);
}

/**
 * F-beta, `(1 + b²) tp / ((1 + b²) tp + b² fn + fp)`, the form sklearn computes (equal to the
 * harmonic-mean definition, without its 0/0 cases); 0 when `tp = 0`.
 */
export function fBeta(c: ConfusionMatrix, beta: number): number {
  if (!(beta > 0) || !Number.isFinite(beta)) throw new RangeError(`beta must be a positive number, got ${beta}`);
  const b2 = beta * beta;
  const denominator = (1 + b2) * c.tp + b2 * c.fn + c.fp;
  return denominator === 0 ? 0 : ((1 + b2) * c.tp) / denominator;
}

export function f1Score(c: ConfusionMatrix): number {
  return fBeta(c, 1);
}

/** Threshold-free and thresholded metrics of `scores` in one call (one sort for both areas). */
export function evaluate(labels: Uint8Array, scores: ArrayLike<number>, threshold: number): Evaluation {
  const ranking = rank(labels, scores);
  const confusion = confusionMatrix(labels, scores, threshold);
  return {
    rocAuc: rocAucOf(ranking),
    prAuc: averagePrecisionOf(ranking),
    precision: precision(confusion),
    recall: recall(confusion),
    f1: fBeta(confusion, 1),
    f2: fBeta(confusion, 2),
    fpr: falsePositiveRate(confusion),
    threshold,
    confusion,
    positives: confusion.tp + confusion.fn,
    rows: labels.length,
  };
}

/**
 * Picks the decision threshold on the validation split (never on test: the test metrics would be
 * optimistic). Candidates are the distinct scores (flag `score >= t`), plus "flag nothing" for the
 * cost strategy, returned as the smallest number above the top score. Ties keep the higher
 * threshold (fewer alerts for the same value). Throws a `RangeError` when there is no positive.
 */
export function chooseThreshold(labels: Uint8Array, scores: ArrayLike<number>, options: ThresholdOptions = {}): number {
  const { strategy = 'max_f1', costRatio = 10 } = options;
  if (strategy !== 'max_f1' && strategy !== 'cost') throw new TypeError(`unknown threshold strategy: ${String(strategy)}`);
  if (!(costRatio > 0) || !Number.isFinite(costRatio)) throw new RangeError(`costRatio must be a positive number, got ${costRatio}`);
  const r = rank(labels, scores);
  if (r.positives === 0) throw new RangeError('cannot choose a threshold without positive labels');
  if (strategy === 'max_f1') {
    let best = -1;
    let bestK = 0;
    for (let k = 0; k < r.count; k++) {
      const tp = r.tps[k]!;
      const f1 = (2 * tp) / (tp + r.fps[k]! + r.positives);
      if (f1 > best) {
        best = f1;
        bestK = k;
      }
    }
    return r.thresholds[bestK]!;
  }
  // Flag nothing: every fraud is missed.
  let bestCost = r.positives * costRatio;
  let bestK = -1;
  for (let k = 0; k < r.count; k++) {
    const cost = (r.positives - r.tps[k]!) * costRatio + r.fps[k]!;
    if (cost < bestCost) {
      bestCost = cost;
      bestK = k;
    }
  }
  return bestK < 0 ? nextUp(r.thresholds[0]!) : r.thresholds[bestK]!;
}

/** Indices `0..count-1` to keep so a monotone `progress` (0..1 along the curve) is sampled evenly. */
function downsample(count: number, progress: (k: number) => number, maxPoints: number): number[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  if (count <= maxPoints) return Array.from({ length: count }, (_, k) => k);
  const step = 1 / (maxPoints - 1);
  const kept = [0];
  let last = progress(0);
  for (let k = 1; k < count - 1; k++) {
    const at = progress(k);
    if (at - last >= step) {
      kept.push(k);
      last = at;
    }
  }
  kept.push(count - 1);
  return kept;
}

/** ROC curve points (as sklearn's `roc_curve`, starting at (0, 0)), downsampled for plots. */
export function rocCurve(labels: Uint8Array, scores: ArrayLike<number>, options: CurveOptions = {}): RocCurve {
  const { maxPoints = 1000 } = options;
  const r = rank(labels, scores);
  requireBothClasses(r, 'ROC curve');
  // Point 0 is "flag nothing"; point k + 1 is distinct score k.
  const fpr = (k: number) => (k === 0 ? 0 : r.fps[k - 1]! / r.negatives);
  const tpr = (k: number) => (k === 0 ? 0 : r.tps[k - 1]! / r.positives);
  const kept = downsample(r.count + 1, (k) => (fpr(k) + tpr(k)) / 2, maxPoints);
  return {
    fpr: kept.map(fpr),
    tpr: kept.map(tpr),
    thresholds: kept.map((k) => (k === 0 ? nextUp(r.thresholds[0]!) : r.thresholds[k - 1]!)),
  };
}

/** Precision-recall curve points (as sklearn's `precision_recall_curve`, plus the (0, 1) start), downsampled for plots. */
export function precisionRecallCurve(labels: Uint8Array, scores: ArrayLike<number>, options: CurveOptions = {}): PrecisionRecallCurve {
  const { maxPoints = 1000 } = options;
  const r = rank(labels, scores);
  if (r.positives === 0) throw new RangeError('precision-recall curve is undefined without positive labels');
  const prec = (k: number) => (k === 0 ? 1 : r.tps[k - 1]! / (r.tps[k - 1]! + r.fps[k - 1]!));
  const rec = (k: number) => (k === 0 ? 0 : r.tps[k - 1]! / r.positives);
  // Progress mixes recall with the share of rows flagged, so the long low-precision tail after
  // full recall is still sampled.
  const n = r.positives + r.negatives;
  const flagged = (k: number) => (k === 0 ? 0 : (r.tps[k - 1]! + r.fps[k - 1]!) / n);
  const kept = downsample(r.count + 1, (k) => (rec(k) + flagged(k)) / 2, maxPoints);
  return {
    precision: kept.map(prec),
    recall: kept.map(rec),
    thresholds: kept.map((k) => (k === 0 ? nextUp(r.thresholds[0]!) : r.thresholds[k - 1]!)),
  };
}
