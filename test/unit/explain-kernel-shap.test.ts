import { applyLink, ExplainError, kernelShap, type Link, type PredictFunction } from '../../lib/explain';
import { createRandom } from '../../lib/ml/data/random';

function normalRows(seed: number, numRows: number, numFeatures: number): Float32Array {
  const rng = createRandom(seed);
  return Float32Array.from({ length: numRows * numFeatures }, () => rng.normal());
}

/** A row-wise model from a function of one row. */
function model(f: (row: Float32Array) => number, numFeatures: number): PredictFunction {
  return (rows, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f(rows.subarray(i * numFeatures, (i + 1) * numFeatures));
    return out;
  };
}

function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

/**
 * Exact interventional Shapley values by enumeration: v(S) = link(mean over background rows b of
 * f(x on S, b elsewhere)), all 2^M coalitions.
 */
function bruteForceShapley(predict: PredictFunction, x: Float32Array, background: Float32Array, numBackground: number, m: number, link: Link): { phi: number[]; bias: number } {
  const value = new Float64Array(1 << m);
  for (let s = 0; s < 1 << m; s++) {
    const rows = background.slice();
    for (let b = 0; b < numBackground; b++) for (let j = 0; j < m; j++) if ((s >> j) & 1) rows[b * m + j] = x[j]!;
    const out = predict(rows, numBackground);
    value[s] = applyLink(link, out.reduce((a, v) => a + v, 0) / numBackground);
  }
  const phi = new Array<number>(m).fill(0);
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < 1 << m; s++) {
      if ((s >> i) & 1) continue;
      let size = 0;
      for (let j = 0; j < m; j++) size += (s >> j) & 1;
      phi[i]! += ((factorial(size) * factorial(m - size - 1)) / factorial(m)) * (value[s | (1 << i)]! - value[s]!);
    }
  }
  return { phi, bias: value[0]! };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

describe('kernelShap on a linear model', () => {
  it.each([
    ['5 features, all coalitions enumerated', 5, undefined],
    ['30 features, default sampling budget', 30, undefined],
    ['30 features, 300 sampled coalitions', 30, 300],
    ['12 features, 40 sampled coalitions', 12, 40],
  ])('equals w_j (x_j − mean_j) with %s', (_, d, nSamples) => {
    const rng = createRandom(d);
    const w = Array.from({ length: d }, () => rng.normal() * 0.5);
    const linear = model((row) => {
      let s = 0.3;
      for (let j = 0; j < d; j++) s += w[j]! * row[j]!;
      return s;
    }, d);
    const numBackground = 25;
    const background = normalRows(d + 1, numBackground, d);
    const x = normalRows(d + 2, 1, d);
    const result = kernelShap(linear, x, background, numBackground, d, { nSamples, seed: 3 });
    for (let j = 0; j < d; j++) {
      let mean = 0;
      for (let b = 0; b < numBackground; b++) mean += background[b * d + j]!;
      mean /= numBackground;
      expect(result.contributions[j]).toBeCloseTo(w[j]! * (x[j]! - mean), 6);
    }
    expect(result.output - result.bias).toBeCloseTo(sum(result.contributions), 10);
  });
});

describe('kernelShap on a nonlinear model of 8 features', () => {
  const d = 8;
  // Interactions, a max, a product and a threshold: far from additive.
  const f = (r: Float32Array): number => {
    const z = 1.5 * r[0]! * r[1]! + Math.sin(2 * r[2]!) + Math.max(r[3]!, r[4]!) + r[5]! * r[5]! * r[6]! - (r[7]! > 0.3 ? 1 : 0) - 1;
    return 1 / (1 + Math.exp(-z));
  };
  const predict = model(f, d);
  const numBackground = 20;
  const background = normalRows(81, numBackground, d);
  const rows = normalRows(82, 5, d);

  it.each<Link>(['identity', 'logit'])('equals brute-force Shapley values when every coalition fits the budget (link %s)', (link) => {
    for (let i = 0; i < 5; i++) {
      const x = rows.slice(i * d, (i + 1) * d);
      const reference = bruteForceShapley(predict, x, background, numBackground, d, link);
      const result = kernelShap(predict, x, background, numBackground, d, { link });
      expect(result.exact).toBe(true);
      expect(result.coalitions).toBe(2 ** d - 2);
      expect(result.bias).toBeCloseTo(reference.bias, 12);
      for (let j = 0; j < d; j++) expect(result.contributions[j]).toBeCloseTo(reference.phi[j]!, 6);
    }
  });

  it('estimates them within a tolerance from 120 sampled coalitions, and sums exactly', () => {
    let worst = 0;
    let scale = 0;
    let totalError = 0;
    for (let i = 0; i < 5; i++) {
      const x = rows.slice(i * d, (i + 1) * d);
      const reference = bruteForceShapley(predict, x, background, numBackground, d, 'logit');
      const result = kernelShap(predict, x, background, numBackground, d, { link: 'logit', nSamples: 120, seed: i });
      expect(result.exact).toBe(false);
      expect(result.coalitions).toBeLessThanOrEqual(120);
      expect(sum(result.contributions)).toBeCloseTo(result.output - result.bias, 10);
      expect(result.output).toBeCloseTo(applyLink('logit', Math.fround(f(x))), 9);
      for (let j = 0; j < d; j++) {
        worst = Math.max(worst, Math.abs(result.contributions[j]! - reference.phi[j]!));
        totalError += Math.abs(result.contributions[j]! - reference.phi[j]!);
        scale = Math.max(scale, Math.abs(reference.phi[j]!));
      }
    }
    if (process.env.EXPLAIN_REPORT) console.log(`sampled Kernel SHAP: worst error ${worst}, mean ${totalError / (5 * d)} of scale ${scale}`);
    expect(worst).toBeLessThan(0.2 * scale);
    expect(totalError / (5 * d)).toBeLessThan(0.04 * scale);
  });

  it('is deterministic for a seed and varies with it when sampling', () => {
    const x = rows.slice(0, d);
    const a = kernelShap(predict, x, background, numBackground, d, { nSamples: 60, seed: 1 });
    const b = kernelShap(predict, x, background, numBackground, d, { nSamples: 60, seed: 1 });
    const c = kernelShap(predict, x, background, numBackground, d, { nSamples: 60, seed: 2 });
    expect(b.contributions).toEqual(a.contributions);
    expect(c.contributions).not.toEqual(a.contributions);
  });

  it('gives the same values whatever the batch size of the model calls', () => {
    const x = rows.slice(d, 2 * d);
    const calls: number[] = [];
    const counting: PredictFunction = (r, n) => {
      calls.push(n);
      return predict(r, n);
    };
    const whole = kernelShap(predict, x, background, numBackground, d);
    const batched = kernelShap(counting, x, background, numBackground, d, { batchRows: 100 });
    expect(batched.contributions).toEqual(whole.contributions);
    expect(Math.max(...calls)).toBeLessThanOrEqual(100);
  });
});

describe('kernelShap edge cases', () => {
  const d = 4;
  const predict = model((r) => r[0]! * r[1]! + r[2]! + 2 * r[3]!, d);

  it('gives exactly 0 to a feature equal to it in every background row', () => {
    const background = normalRows(5, 10, d);
    for (let b = 0; b < 10; b++) background[b * d + 2] = 7;
    const x = Float32Array.of(1, 2, 7, -1);
    const result = kernelShap(predict, x, background, 10, d);
    expect(result.contributions[2]).toBe(0);
    expect(sum(result.contributions)).toBeCloseTo(result.output - result.bias, 10);
  });

  it('gives the whole difference to the only feature that varies, and nothing when none does', () => {
    const background = new Float32Array(3 * d).fill(1);
    background[1 * d + 3] = 0;
    const one = kernelShap(predict, Float32Array.of(1, 1, 1, 1), background, 3, d);
    expect(Array.from(one.contributions)).toEqual([0, 0, 0, expect.closeTo(one.output - one.bias, 10)]);
    expect(one.output - one.bias).toBeCloseTo(4 - (4 + 4 + 2) / 3, 5);
    const none = kernelShap(predict, Float32Array.of(1, 1, 1, 1), new Float32Array(2 * d).fill(1), 2, d);
    expect(Array.from(none.contributions)).toEqual([0, 0, 0, 0]);
    expect(none.output).toBe(none.bias);
  });

  it('keeps the logit of a saturated probability finite', () => {
    const saturated: PredictFunction = (_, n) => new Float32Array(n).fill(1);
    const result = kernelShap(saturated, Float32Array.of(1, 2, 3, 4), normalRows(6, 5, d), 5, d, { link: 'logit' });
    expect(Number.isFinite(result.output)).toBe(true);
    for (const c of result.contributions) expect(Number.isFinite(c)).toBe(true);
  });

  it('needs background rows: ExplainError NO_BACKGROUND', () => {
    expect(() => kernelShap(predict, new Float32Array(d), new Float32Array(0), 0, d)).toThrow(ExplainError);
    try {
      kernelShap(predict, new Float32Array(d), new Float32Array(0), 0, d);
    } catch (error) {
      expect((error as ExplainError).reason).toBe('NO_BACKGROUND');
    }
  });

  it('rejects wrong shapes and bad options', () => {
    const background = normalRows(7, 3, d);
    expect(() => kernelShap(predict, new Float32Array(d - 1), background, 3, d)).toThrow(RangeError);
    expect(() => kernelShap(predict, new Float32Array(d), background, 4, d)).toThrow(RangeError);
    expect(() => kernelShap(() => new Float32Array(1), new Float32Array(d), background, 3, d)).toThrow(RangeError);
    expect(() => kernelShap(predict, new Float32Array(d), background, 3, d, { nSamples: 0 })).toThrow(TypeError);
    expect(() => kernelShap(predict, new Float32Array(d), background, 3, d, { seed: 0.5 })).toThrow(TypeError);
    expect(() => kernelShap(predict, new Float32Array(d), background, 3, d, { link: 'probit' as Link })).toThrow(TypeError);
  });
});
