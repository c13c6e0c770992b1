import {
  averagePrecision,
  chooseThreshold,
  confusionMatrix,
  evaluate,
  fBeta,
  precisionRecallCurve,
  rocAuc,
  rocCurve,
} from '../../lib/ml/metrics';

const labels = (...ys: number[]) => Uint8Array.from(ys);

/** Deterministic pseudo-random data with many ties: scores on a coarse grid. */
function randomCase(n: number, seed: number, grid = 20): { y: Uint8Array; s: Float64Array } {
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  const y = new Uint8Array(n);
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = next() < 0.3 ? 1 : 0;
    // Positives score a bit higher on average, with heavy overlap and ties.
    s[i] = Math.round((next() + 0.3 * y[i]!) * grid) / grid;
  }
  return { y, s };
}

/** ROC-AUC straight from its definition: P(score of a positive > score of a negative) + ties / 2. */
function naiveRocAuc(y: Uint8Array, s: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      if (s[i]! > s[j]!) wins++;
      else if (s[i] === s[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

/** Average precision from its definition: sum over distinct thresholds of (R_t - R_prev) * P_t. */
function naiveAveragePrecision(y: Uint8Array, s: ArrayLike<number>): number {
  const thresholds = [...new Set(Array.from(s))].sort((a, b) => b - a);
  const positives = y.reduce((a, b) => a + b, 0);
  let ap = 0;
  let previousRecall = 0;
  for (const t of thresholds) {
    let tp = 0;
    let flagged = 0;
    for (let i = 0; i < y.length; i++) {
      if (s[i]! >= t) {
        flagged++;
        tp += y[i]!;
      }
    }
    const recall = tp / positives;
    ap += (recall - previousRecall) * (tp / flagged);
    previousRecall = recall;
  }
  return ap;
}

describe('rocAuc and averagePrecision', () => {
  it("match scikit-learn's documented example", () => {
    // sklearn docs: roc_auc_score -> 0.75, average_precision_score -> 0.8333...
    const y = labels(0, 0, 1, 1);
    const s = [0.1, 0.4, 0.35, 0.8];
    expect(rocAuc(y, s)).toBeCloseTo(0.75, 12);
    expect(averagePrecision(y, s)).toBeCloseTo(0.8333333333333333, 12);
  });

  it('handle ties as one step (hand-computed)', () => {
    const y = labels(1, 1, 0, 0, 1);
    const s = [0.9, 0.5, 0.5, 0.2, 0.1];
    // Pairs: 0.9 beats both negatives (2), 0.5 ties one and beats one (1.5), 0.1 beats none: 3.5 / 6.
    expect(rocAuc(y, s)).toBeCloseTo(3.5 / 6, 12);
    // Steps at 0.9 (R 1/3, P 1), 0.5 (R 2/3, P 2/3), 0.1 (R 1, P 3/5).
    expect(averagePrecision(y, s)).toBeCloseTo(1 / 3 + (1 / 3) * (2 / 3) + (1 / 3) * (3 / 5), 12);
    // All scores tied: one step at full recall with the base rate as precision.
    expect(averagePrecision(labels(1, 0, 1, 0), [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc(labels(1, 0, 1, 0), [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it('are 1 for a perfect ranking and rocAuc is 0 for a reversed one', () => {
    const y = labels(0, 1, 0, 1, 1);
    const s = [0.1, 0.9, 0.2, 0.8, 0.7];
    expect(rocAuc(y, s)).toBe(1);
    expect(averagePrecision(y, s)).toBe(1);
    expect(rocAuc(y, s.map((v) => -v))).toBe(0);
  });

  it('agree with the pairwise and per-threshold definitions on random data with ties', () => {
    for (const seed of [1, 2, 3]) {
      const { y, s } = randomCase(400, seed);
      expect(rocAuc(y, s)).toBeCloseTo(naiveRocAuc(y, s), 12);
      expect(averagePrecision(y, s)).toBeCloseTo(naiveAveragePrecision(y, s), 12);
    }
  });

  it('depend only on the ranking, and accept Float32Array scores', () => {
    const { y, s } = randomCase(300, 9);
    const monotone = Array.from(s, (v) => Math.exp(3 * v) - 7);
    expect(rocAuc(y, monotone)).toBeCloseTo(rocAuc(y, s), 12);
    expect(averagePrecision(y, monotone)).toBeCloseTo(averagePrecision(y, s), 12);
    const f32 = Float32Array.from(s);
    expect(rocAuc(y, f32)).toBeCloseTo(naiveRocAuc(y, f32), 12);
  });

  it('reject mismatched lengths, NaN scores, non-binary labels and single-class labels', () => {
    expect(() => rocAuc(labels(0, 1), [0.5])).toThrow(RangeError);
    expect(() => averagePrecision(labels(0, 1), [0.5, NaN])).toThrow(/NaN/);
    expect(() => rocAuc(labels(0, 2), [0.5, 0.6])).toThrow(RangeError);
    expect(() => rocAuc(labels(1, 1), [0.5, 0.6])).toThrow(/only one class/);
    expect(() => averagePrecision(labels(0, 0), [0.5, 0.6])).toThrow(/without positive/);
    expect(averagePrecision(labels(1, 1), [0.5, 0.6])).toBe(1);
  });
});

describe('thresholded metrics', () => {
  const y = labels(1, 1, 0, 0, 1);
  const s = [0.9, 0.5, 0.5, 0.2, 0.1];

  it('count score >= threshold as flagged', () => {
    expect(confusionMatrix(y, s, 0.5)).toEqual({ tp: 2, fp: 1, tn: 1, fn: 1 });
    expect(confusionMatrix(y, s, 0.50001)).toEqual({ tp: 1, fp: 0, tn: 2, fn: 2 });
    expect(confusionMatrix(y, s, -Infinity)).toEqual({ tp: 3, fp: 2, tn: 0, fn: 0 });
  });

  it('evaluate reports every metric at the threshold (hand-computed)', () => {
    const e = evaluate(y, s, 0.5);
    expect(e.confusion).toEqual({ tp: 2, fp: 1, tn: 1, fn: 1 });
    expect(e.precision).toBeCloseTo(2 / 3, 12);
    expect(e.recall).toBeCloseTo(2 / 3, 12);
    expect(e.f1).toBeCloseTo(2 / 3, 12);
    // F2 = 5 tp / (5 tp + 4 fn + fp) = 10 / 15
    expect(e.f2).toBeCloseTo(10 / 15, 12);
    expect(e.fpr).toBe(0.5);
    expect(e.threshold).toBe(0.5);
    expect(e.positives).toBe(3);
    expect(e.rows).toBe(5);
    expect(e.rocAuc).toBeCloseTo(3.5 / 6, 12);
    expect(e.prAuc).toBeCloseTo(averagePrecision(y, s), 15);
  });

  it('give 0 instead of 0/0 when nothing is flagged', () => {
    const e = evaluate(y, s, 2);
    expect(e.confusion).toEqual({ tp: 0, fp: 0, tn: 2, fn: 3 });
    expect([e.precision, e.recall, e.f1, e.f2, e.fpr]).toEqual([0, 0, 0, 0, 0]);
    expect(() => fBeta(e.confusion, 0)).toThrow(RangeError);
  });
});

describe('chooseThreshold', () => {
  it('max_f1 picks the score with the best F1 (hand-computed)', () => {
    const y = labels(1, 1, 0, 0, 1);
    const s = [0.9, 0.5, 0.5, 0.2, 0.1];
    // F1 by threshold: 0.9 -> 0.5, 0.5 -> 0.667, 0.2 -> 0.571, 0.1 -> 0.75
    expect(chooseThreshold(y, s)).toBe(0.1);
    expect(chooseThreshold(labels(0, 1, 1, 0, 0), [0.2, 0.8, 0.7, 0.75, 0.1])).toBe(0.7);
  });

  it('max_f1 reaches the best F1 over every possible threshold on random data', () => {
    const { y, s } = randomCase(500, 4);
    const chosen = evaluate(y, s, chooseThreshold(y, s)).f1;
    for (const t of new Set(s)) expect(chosen).toBeGreaterThanOrEqual(evaluate(y, s, t).f1);
  });

  it('cost minimizes fn * costRatio + fp, including flagging nothing', () => {
    const y = labels(1, 1, 0, 0, 1);
    const s = [0.9, 0.5, 0.5, 0.2, 0.1];
    // costRatio 10: 0.9 -> 20, 0.5 -> 11, 0.2 -> 12, 0.1 -> 2
    expect(chooseThreshold(y, s, { strategy: 'cost', costRatio: 10 })).toBe(0.1);
    // costRatio 1: 0.9 -> 2 (kept over the later ties at 2: fewer alerts)
    expect(chooseThreshold(y, s, { strategy: 'cost', costRatio: 1 })).toBe(0.9);
    // The only fraud scores lowest and misses are cheap: flag nothing.
    const none = chooseThreshold(labels(0, 1), [0.9, 0.1], { strategy: 'cost', costRatio: 0.5 });
    expect(none).toBeGreaterThan(0.9);
    expect(confusionMatrix(labels(0, 1), [0.9, 0.1], none)).toEqual({ tp: 0, fp: 0, tn: 1, fn: 1 });
  });

  it('rejects bad options and labels without positives', () => {
    expect(() => chooseThreshold(labels(0, 1), [0.1, 0.2], { strategy: 'nope' as 'cost' })).toThrow(TypeError);
    expect(() => chooseThreshold(labels(0, 1), [0.1, 0.2], { strategy: 'cost', costRatio: -1 })).toThrow(RangeError);
    expect(() => chooseThreshold(labels(0, 0), [0.1, 0.2])).toThrow(RangeError);
  });
});

describe('curves', () => {
  it('rocCurve gives every distinct threshold, from (0, 0) to (1, 1)', () => {
    const c = rocCurve(labels(1, 1, 0, 0, 1), [0.9, 0.5, 0.5, 0.2, 0.1]);
    expect(c.fpr).toEqual([0, 0, 0.5, 1, 1]);
    expect(c.tpr).toEqual([0, 1 / 3, 2 / 3, 2 / 3, 1]);
    expect(c.thresholds.slice(1)).toEqual([0.9, 0.5, 0.2, 0.1]);
    expect(c.thresholds[0]).toBeGreaterThan(0.9);
  });

  it('precisionRecallCurve starts at (recall 0, precision 1) and follows the thresholds', () => {
    const c = precisionRecallCurve(labels(1, 1, 0, 0, 1), [0.9, 0.5, 0.5, 0.2, 0.1]);
    expect(c.recall).toEqual([0, 1 / 3, 2 / 3, 2 / 3, 1]);
    expect(c.precision).toEqual([1, 1, 2 / 3, 2 / 4, 3 / 5]);
  });

  it('downsample long curves but keep the endpoints and monotonicity', () => {
    const { y, s } = randomCase(20_000, 5, 1e6);
    const roc = rocCurve(y, s, { maxPoints: 50 });
    expect(roc.fpr.length).toBeLessThanOrEqual(51);
    expect(roc.fpr.length).toBeGreaterThan(25);
    expect([roc.fpr[0], roc.tpr[0], roc.fpr.at(-1), roc.tpr.at(-1)]).toEqual([0, 0, 1, 1]);
    for (let k = 1; k < roc.fpr.length; k++) {
      expect(roc.fpr[k]).toBeGreaterThanOrEqual(roc.fpr[k - 1]!);
      expect(roc.tpr[k]).toBeGreaterThanOrEqual(roc.tpr[k - 1]!);
      expect(roc.thresholds[k]).toBeLessThan(roc.thresholds[k - 1]!);
    }
    const pr = precisionRecallCurve(y, s, { maxPoints: 50 });
    expect(pr.recall.length).toBeLessThanOrEqual(51);
    expect([pr.recall[0], pr.precision[0], pr.recall.at(-1)]).toEqual([0, 1, 1]);
    expect(() => rocCurve(y, s, { maxPoints: 1 })).toThrow(RangeError);
  });
});
