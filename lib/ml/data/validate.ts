import { DatasetError } from './errors';
import type { Dataset } from '../types';

/** Options of {@link checkDataset}. */
export interface CheckDatasetOptions {
  /** Fewest rows the rarer class may have; `0` turns off the class checks. @default 10 */
  minMinorityRows?: number;
}

interface LabelContext {
  minMinorityRows: number;
  file?: string;
  column?: string;
}

/** Throws a `DatasetError` unless labels are 0/1 with both classes and enough minority rows. */
export function checkLabels(labels: Uint8Array, { minMinorityRows, file, column }: LabelContext): void {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y > 1) throw new DatasetError('LABEL_NOT_BINARY', `label of row ${i} is ${y}, not 0 or 1`, { file, column });
    positives += y;
  }
  if (minMinorityRows === 0) return;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new DatasetError('SINGLE_CLASS', `all ${labels.length} rows have label ${positives === 0 ? 0 : 1}; both classes are needed`, { file, column });
  }
  const minority = Math.min(positives, negatives);
  if (minority < minMinorityRows) {
    throw new DatasetError(
      'TOO_FEW_MINORITY',
      `only ${minority} rows have label ${positives <= negatives ? 1 : 0} (minimum ${minMinorityRows}, option minMinorityRows)`,
      { file, column },
    );
  }
}

/**
 * Checks an in-memory dataset the way `loadCsv` checks a file: consistent shapes and names,
 * finite features, 0/1 labels with both classes and at least `minMinorityRows` of the rarer one.
 * Throws a `DatasetError` (`MALFORMED`, `NON_FINITE`, `LABEL_NOT_BINARY`, `SINGLE_CLASS`,
 * `TOO_FEW_MINORITY`); the message names the row and column where one is at fault.
 */
export function checkDataset(dataset: Dataset, options: CheckDatasetOptions = {}): void {
  const { minMinorityRows = 10 } = options;
  const { features, labels, numRows, numFeatures, featureNames } = dataset;
  if (!(features instanceof Float32Array) || !(labels instanceof Uint8Array)) {
    throw new DatasetError('MALFORMED', 'features must be a Float32Array and labels a Uint8Array');
  }
  if (!Number.isInteger(numRows) || !Number.isInteger(numFeatures) || numRows < 0 || numFeatures < 1) {
    throw new DatasetError('MALFORMED', `bad shape ${numRows} × ${numFeatures}`);
  }
  if (features.length !== numRows * numFeatures || labels.length !== numRows || featureNames.length !== numFeatures) {
    throw new DatasetError(
      'MALFORMED',
      `${numRows} rows × ${numFeatures} features disagree with ${features.length} values, ${labels.length} labels and ${featureNames.length} names`,
    );
  }
  if (numRows === 0) throw new DatasetError('NO_ROWS', 'the dataset has no rows');
  if (new Set(featureNames.map((n) => n.toLowerCase())).size !== numFeatures) {
    throw new DatasetError('DUPLICATE_COLUMN', `feature names repeat: ${featureNames.join(', ')}`);
  }
  for (let k = 0; k < features.length; k++) {
    const v = features[k]!;
    // v - v is 0 for finite v and NaN for NaN and ±Infinity (no global lookup per value: see metrics.ts).
    if (v - v !== 0) {
      const row = Math.floor(k / numFeatures);
      throw new DatasetError('NON_FINITE', `row ${row} has ${features[k]}`, { column: featureNames[k % numFeatures]! });
    }
  }
  checkLabels(labels, { minMinorityRows });
}

/** Number of fraud (label 1) rows. */
export function countPositives(labels: Uint8Array): number {
  let positives = 0;
  for (const y of labels) positives += y;
  return positives;
}

/**
 * Throws a `DatasetError` unless train and validation are well-formed row-major tables of the same
 * features: what every trainer checks before it starts. Class requirements differ per model and
 * stay with the model.
 */
export function checkTrainAndValidation(train: Dataset, validation: Dataset): void {
  for (const [split, data] of [
    ['train', train],
    ['validation', validation],
  ] as const) {
    if (data.features.length !== data.numRows * data.numFeatures || data.labels.length !== data.numRows) {
      throw new DatasetError('MALFORMED', `${split}: ${data.numRows} rows × ${data.numFeatures} features do not match ${data.features.length} values and ${data.labels.length} labels`);
    }
  }
  if (validation.featureNames.join('\u0000') !== train.featureNames.join('\u0000')) {
    throw new DatasetError('MALFORMED', 'validation and train have different features');
  }
}
