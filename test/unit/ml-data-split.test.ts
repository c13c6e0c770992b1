import { InvalidHyperparameterError } from '../../lib/ml/errors';
import { DatasetError } from '../../lib/ml/data/errors';
import { datasetDigest, stratifiedSplit, subsetRows } from '../../lib/ml/data/split';
import { checkDataset } from '../../lib/ml/data/validate';
import type { Dataset } from '../../lib/ml/types';

/** Rows carry their own index in feature 0, so parts can be traced back to the input. */
function indexed(numRows: number, isPositive: (i: number) => boolean): Dataset {
  const numFeatures = 2;
  const features = new Float32Array(numRows * numFeatures);
  const labels = new Uint8Array(numRows);
  for (let i = 0; i < numRows; i++) {
    features[i * numFeatures] = i;
    features[i * numFeatures + 1] = i % 7;
    labels[i] = isPositive(i) ? 1 : 0;
  }
  return { features, labels, numRows, numFeatures, featureNames: ['id', 'x'] };
}
const ids = (d: Dataset) => Array.from({ length: d.numRows }, (_, r) => d.features[r * d.numFeatures]!);
const positives = (d: Dataset) => d.labels.reduce((a, b) => a + b, 0);

describe('stratifiedSplit', () => {
  // 20,000 rows with 1 % positives, scattered.
  const data = indexed(20_000, (i) => (i * 7919) % 100 === 3);

  it('covers every row exactly once, with labels kept, in original order within a part', () => {
    const split = stratifiedSplit(data);
    const all = [...ids(split.train), ...ids(split.validation), ...ids(split.test)];
    expect(all).toHaveLength(data.numRows);
    expect(new Set(all).size).toBe(data.numRows);
    for (const part of [split.train, split.validation, split.test]) {
      const partIds = ids(part);
      let wrongLabels = 0;
      let outOfOrder = 0;
      for (let r = 0; r < part.numRows; r++) {
        if (part.labels[r] !== data.labels[partIds[r]!]) wrongLabels++;
        if (r > 0 && partIds[r]! <= partIds[r - 1]!) outOfOrder++;
      }
      expect([wrongLabels, outOfOrder]).toEqual([0, 0]);
      expect(part.featureNames).toEqual(data.featureNames);
      expect(part.numFeatures).toBe(2);
    }
  });

  it('keeps the fraud rate in every part (70/15/15 by default)', () => {
    const split = stratifiedSplit(data);
    const total = positives(data);
    expect(total).toBe(200);
    // Per class, each part is within one row of its quota.
    expect(positives(split.train)).toBe(140);
    expect(positives(split.validation)).toBe(30);
    expect(positives(split.test)).toBe(30);
    expect(split.train.numRows).toBe(14_000);
    expect(split.validation.numRows).toBe(3_000);
    expect(split.test.numRows).toBe(3_000);
  });

  it('rounds uneven quotas so sizes sum up and stay within one row per class', () => {
    const odd = indexed(1_003, (i) => i % 50 === 0); // 21 positives, 982 negatives
    const split = stratifiedSplit(odd, { train: 0.6, validation: 0.25, test: 0.15, seed: 5 });
    const parts = [split.train, split.validation, split.test];
    expect(parts.reduce((a, p) => a + p.numRows, 0)).toBe(1_003);
    [0.6, 0.25, 0.15].forEach((f, k) => {
      expect(Math.abs(positives(parts[k]!) - 21 * f)).toBeLessThan(1);
      expect(Math.abs(parts[k]!.numRows - positives(parts[k]!) - 982 * f)).toBeLessThan(1);
    });
  });

  it('is deterministic for a seed and changes with the seed', () => {
    const a = stratifiedSplit(data, { seed: 7 });
    const b = stratifiedSplit(data, { seed: 7 });
    const c = stratifiedSplit(data, { seed: 8 });
    expect(ids(a.test)).toEqual(ids(b.test));
    expect(ids(a.validation)).toEqual(ids(b.validation));
    expect(ids(a.test)).not.toEqual(ids(c.test));
    expect(ids(stratifiedSplit(data).test)).toEqual(ids(stratifiedSplit(data, { seed: 42 }).test));
  });

  it('rejects fractions that are not positive or do not sum to 1', () => {
    for (const bad of [
      { train: 0.8, validation: 0.15, test: 0.15 },
      { train: 1, validation: 0, test: 0 },
      { train: 0.9, validation: -0.05, test: 0.15 },
      { train: NaN },
      { seed: 1.5 },
    ]) {
      expect(() => stratifiedSplit(data, bad)).toThrow(InvalidHyperparameterError);
    }
    expect(() => stratifiedSplit(data, { train: 0.8, validation: 0.1, test: 0.1 })).not.toThrow();
  });

  it('fails with SPLIT_TOO_SMALL when a part would get no positive', () => {
    const few = indexed(1_000, (i) => i < 2);
    let error: unknown;
    try {
      stratifiedSplit(few);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).code).toBe('SPLIT_TOO_SMALL');
    expect((error as DatasetError).message).toMatch(/class 1/);
  });
});

describe('subsetRows', () => {
  it('copies the rows in the given order', () => {
    const data = indexed(10, (i) => i === 3);
    const sub = subsetRows(data, [3, 0, 3]);
    expect(ids(sub)).toEqual([3, 0, 3]);
    expect(Array.from(sub.labels)).toEqual([1, 0, 1]);
    sub.features[0] = 99;
    expect(data.features[6]).toBe(3); // a copy, not a view
    expect(() => subsetRows(data, [10])).toThrow(RangeError);
    expect(() => subsetRows(data, [-1])).toThrow(RangeError);
  });
});

describe('datasetDigest', () => {
  it('is a stable SHA-256 that changes with any feature, label or name', () => {
    const data = indexed(100, (i) => i % 10 === 0);
    const digest = datasetDigest(data);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(datasetDigest(indexed(100, (i) => i % 10 === 0))).toBe(digest);
    // A subarray view digests its own bytes only.
    const view = { ...data, features: new Float32Array([0, 0, ...data.features]).subarray(2) };
    expect(datasetDigest(view)).toBe(digest);

    const feature = indexed(100, (i) => i % 10 === 0);
    feature.features[57] = 0.5;
    const label = indexed(100, (i) => i % 10 === 0);
    label.labels[5] = 1;
    const named = { ...data, featureNames: ['id', 'y'] };
    expect(new Set([digest, datasetDigest(feature), datasetDigest(label), datasetDigest(named)]).size).toBe(4);
  });
});

describe('checkDataset', () => {
  it('accepts a sound dataset and names the column of a non-finite value', () => {
    const data = indexed(100, (i) => i % 5 === 0);
    expect(() => checkDataset(data)).not.toThrow();
    data.features[2 * 51 + 1] = NaN;
    expect(() => checkDataset(data)).toThrow(expect.objectContaining({ code: 'NON_FINITE', column: 'x' }));
  });

  it('rejects inconsistent shapes and too few minority rows', () => {
    const data = indexed(100, (i) => i % 50 === 0);
    expect(() => checkDataset({ ...data, numRows: 99 })).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => checkDataset(data)).toThrow(expect.objectContaining({ code: 'TOO_FEW_MINORITY' }));
    expect(() => checkDataset(data, { minMinorityRows: 2 })).not.toThrow();
    expect(() => checkDataset(indexed(10, () => false), { minMinorityRows: 1 })).toThrow(expect.objectContaining({ code: 'SINGLE_CLASS' }));
  });
});
