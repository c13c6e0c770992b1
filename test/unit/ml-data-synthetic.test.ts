import { averagePrecision } from '../../lib/ml/metrics';
import { CREDIT_CARD_FEATURES, FRAUD_PATTERNS, MAX_TIME, generateTransactions, generateTransactionsWithPatterns } from '../../lib/ml/data/synthetic';
import type { Dataset } from '../../lib/ml/types';

function bytes(a: Float32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
function column(d: Dataset, name: string, rows?: (i: number) => boolean): Float64Array {
  const j = d.featureNames.indexOf(name);
  const out = new Float64Array(d.numRows);
  let n = 0;
  for (let i = 0; i < d.numRows; i++) if (!rows || rows(i)) out[n++] = d.features[i * d.numFeatures + j]!;
  return out.subarray(0, n);
}
const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: Float64Array) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};
const median = (xs: Float64Array) => Float64Array.from(xs).sort()[Math.floor(xs.length / 2)]!;

describe('generateTransactions', () => {
  // The full default size once: the shape and fraud count of the public data.
  const full = generateTransactionsWithPatterns();
  const d = full.dataset;
  const fraud = (i: number) => d.labels[i] === 1;
  const legit = (i: number) => d.labels[i] === 0;

  it('has the shape and fraud rate of the public data by default', () => {
    expect(d.numRows).toBe(284_807);
    expect(d.numFeatures).toBe(30);
    expect(d.featureNames).toEqual([...CREDIT_CARD_FEATURES]);
    expect(d.featureNames[0]).toBe('Time');
    expect(d.featureNames[29]).toBe('Amount');
    expect(d.features).toBeInstanceOf(Float32Array);
    expect(d.features).toHaveLength(284_807 * 30);
    expect(d.labels.reduce((a, b) => a + b, 0)).toBe(Math.round(284_807 * 0.00172));
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const a = generateTransactions({ rows: 5000, seed: 3 });
    const b = generateTransactions({ rows: 5000, seed: 3 });
    const c = generateTransactions({ rows: 5000, seed: 4 });
    expect(bytes(a.features).equals(bytes(b.features))).toBe(true);
    expect(bytes(a.labels).equals(bytes(b.labels))).toBe(true);
    expect(bytes(a.features).equals(bytes(c.features))).toBe(false);
    // The default seed is 42, and generateTransactions is the dataset of the detailed variant.
    const small = generateTransactions({ rows: 2000 });
    expect(bytes(small.features).equals(bytes(generateTransactions({ rows: 2000, seed: 42 }).features))).toBe(true);
    expect(bytes(small.features).equals(bytes(generateTransactionsWithPatterns({ rows: 2000 }).dataset.features))).toBe(true);
  });

  it('honours rows and fraudRate exactly', () => {
    const small = generateTransactions({ rows: 10_000, seed: 1, fraudRate: 0.05 });
    expect(small.numRows).toBe(10_000);
    expect(small.labels.reduce((a, b) => a + b, 0)).toBe(500);
    expect(generateTransactions({ rows: 100, fraudRate: 0 }).labels.every((y) => y === 0)).toBe(true);
  });

  it('sorts rows by integer Time over two days with a daily cycle', () => {
    const time = column(d, 'Time');
    let unsorted = 0;
    for (let i = 1; i < time.length; i++) if (time[i]! < time[i - 1]!) unsorted++;
    expect(unsorted).toBe(0);
    expect(time.every((t) => Number.isInteger(t) && t >= 0 && t <= MAX_TIME)).toBe(true);
    expect(time.at(-1)).toBeGreaterThan(MAX_TIME - 600);
    const hour = (t: number) => Math.floor((t % 86_400) / 3600);
    const night = time.filter((t) => hour(t) >= 2 && hour(t) < 6).length;
    const afternoon = time.filter((t) => hour(t) >= 14 && hour(t) < 18).length;
    expect(afternoon / night).toBeGreaterThan(4);
  });

  it('draws heavy-tailed amounts in cents, clipped at 25,000', () => {
    const amount = column(d, 'Amount');
    expect(amount.every((a) => a >= 0 && a <= 25_000)).toBe(true);
    // Whole cents, up to float32 rounding.
    expect(amount.every((a) => Math.fround(Math.round(a * 100) / 100) === a)).toBe(true);
    const legitAmount = column(d, 'Amount', legit);
    expect(median(legitAmount)).toBeGreaterThan(10);
    expect(median(legitAmount)).toBeLessThan(40);
    // Heavy right tail: mean well above median, some very large amounts.
    expect(mean(legitAmount)).toBeGreaterThan(2.5 * median(legitAmount));
    expect(legitAmount.reduce((a, b) => Math.max(a, b))).toBeGreaterThan(5000);
  });

  it('makes V1..V28 centred components of decreasing spread', () => {
    const sds = Array.from({ length: 28 }, (_, k) => sd(column(d, `V${k + 1}`, legit)));
    for (let k = 0; k < 28; k++) expect(Math.abs(mean(column(d, `V${k + 1}`, legit)))).toBeLessThan(0.05);
    expect(sds[0]).toBeGreaterThan(1.8);
    expect(sds[27]).toBeLessThan(0.45);
    expect(sds[0]!).toBeGreaterThan(sds[13]!);
    expect(sds[13]!).toBeGreaterThan(sds[27]!);
  });

  it('mixes all fraud patterns, shifting V14 and V17 on average as the public data does', () => {
    const counts = FRAUD_PATTERNS.map((_, k) => full.patterns.filter((p) => p === k + 1).length);
    expect(counts.every((c) => c > 30)).toBe(true);
    expect(full.patterns.every((p, i) => (p === 0) === (d.labels[i] === 0))).toBe(true);
    expect(mean(column(d, 'V14', fraud))).toBeLessThan(-1.5);
    expect(mean(column(d, 'V17', fraud))).toBeLessThan(-0.8);
  });

  it('is not separable by any single feature (fraud overlaps legitimate traffic)', () => {
    // Best single-feature ranking, each feature in the direction where fraud lies on average:
    // informative but far from perfect.
    let best = 0;
    for (const name of d.featureNames) {
      const values = column(d, name);
      const direction = Math.sign(mean(column(d, name, fraud)) - mean(column(d, name, legit))) || 1;
      best = Math.max(best, averagePrecision(d.labels, direction > 0 ? values : values.map((v) => -v)));
    }
    expect(best).toBeGreaterThan(0.05);
    expect(best).toBeLessThan(0.6);
    // The "hard" frauds look like legitimate rows: their V14 is close to the legitimate mean.
    const hard = 1 + FRAUD_PATTERNS.indexOf('hard');
    expect(Math.abs(mean(column(d, 'V14', (i) => full.patterns[i] === hard)))).toBeLessThan(0.8);
  });

  it('rejects invalid options', () => {
    expect(() => generateTransactions({ rows: 0 })).toThrow(RangeError);
    expect(() => generateTransactions({ rows: 1.5 })).toThrow(RangeError);
    expect(() => generateTransactions({ fraudRate: 1.2 })).toThrow(RangeError);
    expect(() => generateTransactions({ fraudRate: NaN })).toThrow(RangeError);
    expect(() => generateTransactions({ seed: 0.5 })).toThrow(TypeError);
  });
});
