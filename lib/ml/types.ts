/**
 * Shared types of the model core. Pure data: no Temporal, no HTTP, no file I/O.
 *
 * Feature matrices are **row-major** `Float32Array`s: the value of feature `j` of row `i` is
 * `features[i * numFeatures + j]`. Row-major is what XGBoost's DMatrix, TensorFlow.js tensors and
 * ONNX inputs take without a copy.
 */

/** A labelled table of numeric features. */
export interface Dataset {
  /** Row-major, `numRows * numFeatures` values. */
  features: Float32Array;
  /** One 0/1 label per row (1 = fraud). */
  labels: Uint8Array;
  numRows: number;
  numFeatures: number;
  /** Column names in feature order, e.g. `Time, V1..V28, Amount`. */
  featureNames: string[];
}

/** The three parts of a stratified split. Every fitted step (scaling, calibration) sees `train` only, or `validation` where stated. */
export interface DatasetSplit {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
}

export const MODEL_KINDS = ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Training progress, reported through `onProgress` for activity heartbeats. */
export interface TrainProgress {
  /** What `done`/`total` count: boosting rounds, trees or epochs. */
  unit: 'round' | 'tree' | 'epoch';
  done: number;
  total: number;
  /** Seconds since training started. */
  elapsedSeconds: number;
  /** Optional metrics of this step, e.g. `{ loss, val_pr_auc }`. */
  metrics?: Record<string, number>;
}

/** What every trainer accepts besides its own hyperparameters. */
export interface TrainControl {
  /** Seed of every random choice; the same seed and data give the same model. @default 42 */
  seed?: number;
  /** Cooperative cancellation: training stops at the next round/tree/epoch and throws `TrainingCancelledError`. */
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void;
}

/** A trained model of any kind: scores raw feature rows (its preprocessing is inside it). */
export interface FraudModel {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  /** Fraud probability per row of the row-major `features` (raw, as in the dataset). */
  predictProba(features: Float32Array, numRows: number): Float32Array;
  /** A JSON-safe snapshot; the kind's static `load()` rebuilds a model with identical predictions. */
  toJSON(): SavedModel;
}

/** Common envelope of every saved model. */
export interface SavedModel {
  /** Literal model name, checked by `load()`. */
  name: string;
  /** Format version of this model's JSON, bumped on incompatible change. */
  formatVersion: number;
  kind: ModelKind;
  featureNames: string[];
  [key: string]: unknown;
}
