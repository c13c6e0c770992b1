import { createHash } from 'node:crypto';
import { InvalidHyperparameterError } from '../errors';
import { DatasetError } from './errors';
import { createRandom } from './random';
import type { Dataset, DatasetSplit } from '../types';

/** Options of {@link stratifiedSplit}. The three fractions must be positive and sum to 1. */
export interface SplitOptions {
  /** Share of each class that goes to training. @default 0.7 */
  train?: number;
  /** Share of each class for early stopping, calibration and threshold choice. @default 0.15 */
  validation?: number;
  /** Share of each class held out for the final metrics. @default 0.15 */
  test?: number;
  /** Seed of the shuffle; the same seed and data give the same split. @default 42 */
  seed?: number;
}

/** Tolerance on `train + validation + test = 1`, for fractions like 0.7 + 0.15 + 0.15. */
const SUM_TOLERANCE = 1e-9;

function withDefaults(options: SplitOptions): Required<SplitOptions> {
  const { train = 0.7, validation = 0.15, test = 0.15, seed = 42 } = options;
  for (const [name, value] of [
    ['train', train],
    ['validation', validation],
    ['test', test],
  ] as const) {
    if (typeof value !== 'number' || !(value > 0 && value < 1)) {
      throw new InvalidHyperparameterError(`split fraction ${name} must be a number in (0, 1), got ${String(value)}`);
    }
  }
  if (Math.abs(train + validation + test - 1) > SUM_TOLERANCE) {
    throw new InvalidHyperparameterError(`split fractions must sum to 1, got ${train} + ${validation} + ${test} = ${train + validation + test}`);
  }
  if (!Number.isSafeInteger(seed)) throw new InvalidHyperparameterError(`seed must be a safe integer, got ${String(seed)}`);
  return { train, validation, test, seed };
}

/**
 * Sizes of the three parts of `n` rows by the largest-remainder method: each part gets the floor
 * of its quota and the leftover rows go to the largest fractional parts, so sizes sum to `n` and
 * each is within one row of `n * fraction`.
 */
function apportion(n: number, fractions: readonly [number, number, number]): [number, number, number] {
  const quotas = fractions.map((f) => n * f);
  const sizes = quotas.map(Math.floor) as [number, number, number];
  let left = n - sizes[0] - sizes[1] - sizes[2];
  const order = [0, 1, 2].sort((a, b) => quotas[b]! - sizes[b]! - (quotas[a]! - sizes[a]!) || a - b);
  for (const k of order) {
    if (left === 0) break;
    sizes[k as 0 | 1 | 2]++;
    left--;
  }
  return sizes;
}

/**
 * Splits a dataset into train, validation and test parts, stratified by label: each class is
 * shuffled (seeded) and cut by the fractions, so every part keeps the fraud rate up to one row per
 * class. The parts are disjoint and cover every row; within a part, rows keep their original order
 * (the credit-card file is sorted by Time; trainers shuffle themselves).
 *
 * Throws `InvalidHyperparameterError` for fractions that are not in (0, 1) or do not sum to 1,
 * and a `DatasetError` (`SPLIT_TOO_SMALL`) when a part would get no row of a class.
 */
export function stratifiedSplit(dataset: Dataset, options: SplitOptions = {}): DatasetSplit {
  const { train, validation, test, seed } = withDefaults(options);
  const { labels, numRows } = dataset;
  const rng = createRandom(seed);
  const parts: [number[], number[], number[]] = [[], [], []];
  const names = ['train', 'validation', 'test'] as const;
  for (const label of [0, 1]) {
    const rows: number[] = [];
    for (let i = 0; i < numRows; i++) if (labels[i] === label) rows.push(i);
    // Fisher-Yates with the split's own generator: deterministic for a seed.
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = rows[i]!;
      rows[i] = rows[j]!;
      rows[j] = t;
    }
    const sizes = apportion(rows.length, [train, validation, test]);
    let at = 0;
    sizes.forEach((size, k) => {
      if (size === 0) {
        throw new DatasetError(
          'SPLIT_TOO_SMALL',
          `the ${names[k]} part would get no row of class ${label} (${rows.length} rows of class ${label}, fractions ${train}/${validation}/${test})`,
        );
      }
      for (let r = 0; r < size; r++) parts[k as 0 | 1 | 2].push(rows[at++]!);
    });
  }
  const [trainRows, validationRows, testRows] = parts.map((rows) => Uint32Array.from(rows).sort()) as [Uint32Array, Uint32Array, Uint32Array];
  return { train: subsetRows(dataset, trainRows), validation: subsetRows(dataset, validationRows), test: subsetRows(dataset, testRows) };
}

/** A new dataset of the given rows, in the given order (copies; the input is left untouched). */
export function subsetRows(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const { features, labels, numRows, numFeatures } = dataset;
  const n = indices.length;
  const outFeatures = new Float32Array(n * numFeatures);
  const outLabels = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const i = indices[r]!;
    // `i >= 0 && i < numRows && i % 1 === 0`, without the global lookups a `vm` context makes slow.
    if (!(i >= 0 && i < numRows && i % 1 === 0)) throw new RangeError(`row index ${i} out of range 0..${numRows - 1}`);
    outFeatures.set(features.subarray(i * numFeatures, (i + 1) * numFeatures), r * numFeatures);
    outLabels[r] = labels[i]!;
  }
  return { features: outFeatures, labels: outLabels, numRows: n, numFeatures, featureNames: [...dataset.featureNames] };
}

/**
 * A SHA-256 (hex) of the feature names, the shape, the features' bytes and the labels: the
 * identity of a dataset for lineage (logged with each run; equal digests mean equal data).
 */
export function datasetDigest(dataset: Dataset): string {
  const { features, labels, numRows, numFeatures, featureNames } = dataset;
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ featureNames, numRows, numFeatures }));
  // Typed-array bytes are little-endian on every platform Node supports.
  hash.update(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
  hash.update(new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength));
  return hash.digest('hex');
}
