/**
 * Maps of an anomaly score to a fraud probability, fitted on a labelled split (the validation
 * split: the forest itself never sees labels).
 *
 * - Platt scaling: `p = 1 / (1 + exp(-(slope * s + intercept)))`, fitted by Newton's method on the
 *   log-loss with Platt's smoothed targets (`(P + 1) / (P + 2)` and `1 / (N + 2)`), which keep the
 *   fit finite when the classes are separable. Two parameters: stable with the few dozen fraud
 *   rows a validation split holds, and strictly monotone, so the calibrated probabilities rank
 *   rows exactly as the anomaly scores do (PR-AUC unchanged).
 * - Isotonic regression: the pool-adjacent-violators fit of a non-decreasing step function,
 *   interpolated linearly between steps as scikit-learn's `IsotonicRegression` does. It follows
 *   any monotone shape, but rows inside one step get the same probability: those ties lose ranking
 *   information, and with few frauds the steps are few and wide.
 */
import { ModelFormatError } from '../errors';

export interface PlattCalibrationJSON {
  method: 'platt';
  slope: number;
  intercept: number;
}

export interface IsotonicCalibrationJSON {
  method: 'isotonic';
  /** Increasing scores; between two of them the probability is interpolated linearly, outside it is clipped. */
  scores: number[];
  probabilities: number[];
}

export type CalibrationJSON = PlattCalibrationJSON | IsotonicCalibrationJSON;

export interface ScoreCalibrator {
  probability(score: number): number;
  toJSON(): CalibrationJSON;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** `log(1 + e^z)` without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export class PlattCalibrator implements ScoreCalibrator {
  constructor(
    readonly slope: number,
    readonly intercept: number,
  ) {}

  static fit(scores: ArrayLike<number>, labels: Uint8Array): PlattCalibrator {
    const n = labels.length;
    let positives = 0;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      positives += labels[i]!;
      mean += scores[i]!;
    }
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (scores[i]! - mean) ** 2;
    // Fit on the standardised score: the raw anomaly scores span a narrow band (about 0.3-0.8),
    // which would make the Hessian badly conditioned.
    const std = Math.sqrt(variance / n) || 1;
    const hi = (positives + 1) / (positives + 2);
    const lo = 1 / (n - positives + 2);
    const z = new Float64Array(n);
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      z[i] = (scores[i]! - mean) / std;
      target[i] = labels[i] === 1 ? hi : lo;
    }
    const loss = (a: number, b: number): number => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const f = a * z[i]! + b;
        sum += softplus(f) - target[i]! * f;
      }
      return sum;
    };
    let a = 0;
    let b = Math.log((positives + 1) / (n - positives + 1));
    let current = loss(a, b);
    for (let iteration = 0; iteration < 100; iteration++) {
      let ga = 0;
      let gb = 0;
      let haa = 1e-12;
      let hab = 0;
      let hbb = 1e-12;
      for (let i = 0; i < n; i++) {
        const p = sigmoid(a * z[i]! + b);
        const residual = p - target[i]!;
        const w = p * (1 - p);
        ga += residual * z[i]!;
        gb += residual;
        haa += w * z[i]! * z[i]!;
        hab += w * z[i]!;
        hbb += w;
      }
      const det = haa * hbb - hab * hab;
      const da = -(hbb * ga - hab * gb) / det;
      const db = -(haa * gb - hab * ga) / det;
      // Backtracking: a full Newton step can overshoot on the flat tails of the log-loss.
      let step = 1;
      let next = loss(a + da, b + db);
      while (next > current && step > 1e-10) {
        step /= 2;
        next = loss(a + step * da, b + step * db);
      }
      if (!(next <= current)) break;
      a += step * da;
      b += step * db;
      const improvement = current - next;
      current = next;
      if (improvement < 1e-12 * Math.max(1, current)) break;
    }
    return new PlattCalibrator(a / std, b - (a * mean) / std);
  }

  probability(score: number): number {
    return sigmoid(this.slope * score + this.intercept);
  }

  toJSON(): PlattCalibrationJSON {
    return { method: 'platt', slope: this.slope, intercept: this.intercept };
  }
}

export class IsotonicCalibrator implements ScoreCalibrator {
  constructor(
    readonly scores: Float64Array,
    readonly probabilities: Float64Array,
  ) {}

  static fit(scores: ArrayLike<number>, labels: Uint8Array): IsotonicCalibrator {
    const n = labels.length;
    // Sort by score (a native sort of packed keys would lose the label, so sort indices once).
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[i]! - scores[j]!);
    // Blocks of the pool-adjacent-violators algorithm: equal scores start in one block.
    const sum: number[] = [];
    const count: number[] = [];
    const first: number[] = [];
    const last: number[] = [];
    for (const i of order) {
      const s = scores[i]!;
      const top = sum.length - 1;
      if (top >= 0 && last[top] === s) {
        sum[top]! += labels[i]!;
        count[top]!++;
      } else {
        sum.push(labels[i]!);
        count.push(1);
        first.push(s);
        last.push(s);
      }
      // Merge while the newest block's mean is not above its predecessor's. Equal means merge too:
      // the fitted function is the same, and the thousands of all-legitimate low scores become one step.
      while (sum.length > 1) {
        const k = sum.length - 1;
        if (sum[k - 1]! / count[k - 1]! < sum[k]! / count[k]!) break;
        sum[k - 1]! += sum[k]!;
        count[k - 1]! += count[k]!;
        last[k - 1] = last[k]!;
        sum.pop();
        count.pop();
        first.pop();
        last.pop();
      }
    }
    // Each block contributes its first and last score at its mean (one point when they coincide).
    const xs: number[] = [];
    const ys: number[] = [];
    for (let k = 0; k < sum.length; k++) {
      const mean = sum[k]! / count[k]!;
      xs.push(first[k]!);
      ys.push(mean);
      if (last[k] !== first[k]) {
        xs.push(last[k]!);
        ys.push(mean);
      }
    }
    return new IsotonicCalibrator(Float64Array.from(xs), Float64Array.from(ys));
  }

  probability(score: number): number {
    const xs = this.scores;
    const ys = this.probabilities;
    const n = xs.length;
    if (score <= xs[0]!) return ys[0]!;
    if (score >= xs[n - 1]!) return ys[n - 1]!;
    // Binary search for the last point at or below the score.
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (xs[mid]! <= score) lo = mid;
      else hi = mid;
    }
    const x0 = xs[lo]!;
    const x1 = xs[hi]!;
    return ys[lo]! + ((ys[hi]! - ys[lo]!) * (score - x0)) / (x1 - x0);
  }

  toJSON(): IsotonicCalibrationJSON {
    return { method: 'isotonic', scores: Array.from(this.scores), probabilities: Array.from(this.probabilities) };
  }
}

export function loadCalibration(json: CalibrationJSON): ScoreCalibrator {
  if (json?.method === 'platt') {
    if (!Number.isFinite(json.slope) || !Number.isFinite(json.intercept)) throw new ModelFormatError('Platt calibration: slope and intercept must be finite numbers');
    return new PlattCalibrator(json.slope, json.intercept);
  }
  if (json?.method === 'isotonic') {
    const { scores, probabilities } = json;
    if (!Array.isArray(scores) || !Array.isArray(probabilities) || scores.length === 0 || scores.length !== probabilities.length) {
      throw new ModelFormatError('isotonic calibration: scores and probabilities must be non-empty arrays of one length');
    }
    for (let k = 1; k < scores.length; k++) {
      if (!(scores[k]! > scores[k - 1]!) || !(probabilities[k]! >= probabilities[k - 1]!)) {
        throw new ModelFormatError('isotonic calibration: scores must increase and probabilities must not decrease');
      }
    }
    return new IsotonicCalibrator(Float64Array.from(scores), Float64Array.from(probabilities));
  }
  throw new ModelFormatError(`unknown calibration method: ${String((json as { method?: unknown } | undefined)?.method)}`);
}
