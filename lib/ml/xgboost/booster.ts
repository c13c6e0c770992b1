/**
 * What the XGBoost and random-forest models share: dataset checks, the imbalance weight, the
 * cancellation/progress plumbing of training loops, and {@link BoosterModel}, the base class that
 * predicts through an engine booster loaded from the model's saved bytes.
 */
import { countPositives } from '../data/validate';
import { ModelFormatError, TrainingCancelledError } from '../errors';
import type { Dataset, TrainProgress } from '../types';
import type { EngineBooster, EngineSession, XGBoostEngine } from './engine';
import { XGBoostEngineError } from './errors';
import { concatenateTrees, truncateTrees } from './binary-model';
import { defaultEngine, engineForFormat } from './engines';
import { concatenateJsonTrees, truncateJsonTrees } from './json-model';
import { NATIVE_MODEL_FORMAT } from './native-engine';
import { extractTrees, featureImportance, rankFeatures, type ImportanceType, type TreeEnsemble } from './trees';
import { PREDICT_BATCH_ROWS } from './wasm-engine';

/** Throws unless the dataset's arrays agree with its shape and every label is 0 or 1. */
export function checkDataset(data: Dataset, role: string): void {
  const { features, labels, numRows, numFeatures, featureNames } = data;
  if (!(features instanceof Float32Array)) throw new TypeError(`${role}: features must be a Float32Array`);
  if (!(labels instanceof Uint8Array)) throw new TypeError(`${role}: labels must be a Uint8Array`);
  if (!Number.isSafeInteger(numRows) || numRows < 1 || !Number.isSafeInteger(numFeatures) || numFeatures < 1) {
    throw new RangeError(`${role}: needs at least one row and one feature, got ${numRows}×${numFeatures}`);
  }
  if (features.length !== numRows * numFeatures) throw new RangeError(`${role}: expected ${numRows}×${numFeatures} feature values, got ${features.length}`);
  if (labels.length !== numRows) throw new RangeError(`${role}: expected ${numRows} labels, got ${labels.length}`);
  if (featureNames.length !== numFeatures) throw new RangeError(`${role}: ${featureNames.length} feature names for ${numFeatures} features`);
  for (let i = 0; i < numRows; i++) {
    if (labels[i]! > 1) throw new RangeError(`${role}: label ${labels[i]} at row ${i} is not 0 or 1`);
  }
}

/** The validation split must describe the same columns as the training split. */
export function checkSameColumns(train: Dataset, validation: Dataset): void {
  if (validation.numFeatures !== train.numFeatures || validation.featureNames.some((name, j) => name !== train.featureNames[j])) {
    throw new RangeError('validation: its columns differ from the training columns');
  }
}

// One fraud count for the whole model core; re-exported for the booster models' imports.
export { countPositives };

/** `'auto'` becomes `negatives / positives` of the training labels. */
export function resolveScalePosWeight(option: 'auto' | number, labels: Uint8Array): number {
  if (option !== 'auto') return option;
  const positives = countPositives(labels);
  if (positives === 0 || positives === labels.length) {
    throw new RangeError(`scalePosWeight 'auto' needs both classes in the training split, got ${positives} fraud rows of ${labels.length}`);
  }
  return (labels.length - positives) / positives;
}

export function labelsAsFloats(labels: Uint8Array): Float32Array {
  return Float32Array.from(labels);
}

/** Lets an abort from this thread's event loop land between two steps of a synchronous engine. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function throwIfAborted(signal: AbortSignal | undefined, kind: string, done: number, total: number): void {
  if (signal?.aborted) throw new TrainingCancelledError(kind, { done, total });
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Calls `onProgress`; a throwing callback is the caller's bug and surfaces as the training's error. */
export function report(onProgress: ((p: TrainProgress) => void) | undefined, progress: TrainProgress): void {
  onProgress?.(progress);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function decodeBase64(text: unknown, what: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ModelFormatError(`${what} is not a base64 string`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Sub-forest / round data a model keeps to predict: the engine's model bytes and the column names. */
export interface BoosterModelState {
  featureNames: readonly string[];
  modelBytes: Uint8Array;
  engine: XGBoostEngine;
}

/**
 * Predicts through an engine booster loaded from the saved bytes, so a trained model and the same
 * model after `toJSON`/`load` run exactly the same code on exactly the same bytes. The engine
 * session opens on the first prediction; `dispose()` closes it early (it reopens when needed), and
 * an unreachable model's session is reclaimed by the garbage collector (wasm: like any object;
 * native: its handles are freed by a FinalizationRegistry).
 */
export abstract class BoosterModel {
  readonly featureNames: readonly string[];
  protected readonly modelBytes: Uint8Array;
  protected readonly engine: XGBoostEngine;
  private predictor: { session: EngineSession; booster: EngineBooster } | undefined;
  private ensemble: TreeEnsemble | undefined;

  protected constructor(state: BoosterModelState) {
    this.featureNames = Object.freeze([...state.featureNames]);
    this.modelBytes = state.modelBytes;
    this.engine = state.engine;
  }

  /** Fraud probability per row of the row-major `features` (raw columns, `NaN` = missing). */
  predictProba(features: Float32Array, numRows: number): Float32Array {
    return this.predictWithEngine(features, numRows, false);
  }

  /** Log-odds per row (`predictProba` is its sigmoid). */
  predictMargin(features: Float32Array, numRows: number): Float32Array {
    return this.predictWithEngine(features, numRows, true);
  }

  /** The trees in the project's engine-independent format (see `trees.ts`), read once from the model bytes. */
  trees(): TreeEnsemble {
    this.ensemble ??= extractTrees(this.modelBytes, this.engine.modelFormat);
    return this.ensemble;
  }

  /** Features by importance, largest first; `gain` is XGBoost's mean gain of the splits on a feature. */
  featureImportance(type: ImportanceType = 'gain'): { feature: string; importance: number }[] {
    return rankFeatures(featureImportance(this.trees(), type), this.featureNames);
  }

  /** Name of the engine this model predicts with (the one that trained it, or the one that read its format). */
  get engineName(): string {
    return this.engine.name;
  }

  /** Byte format of {@link modelData}, e.g. `xgboost-json`. */
  get modelFormat(): string {
    return this.engine.modelFormat;
  }

  /** A copy of the engine's model bytes (format: the engine's `modelFormat`). */
  modelData(): Uint8Array {
    return this.modelBytes.slice();
  }

  /** Releases the engine session now rather than at garbage collection; the model stays usable. */
  dispose(): void {
    this.predictor?.session.close();
    this.predictor = undefined;
  }

  private predictWithEngine(features: Float32Array, numRows: number, outputMargin: boolean): Float32Array {
    const d = this.featureNames.length;
    if (!(features instanceof Float32Array)) throw new TypeError('features must be a Float32Array');
    if (!Number.isSafeInteger(numRows) || numRows < 0) throw new RangeError(`numRows must be a non-negative integer, got ${numRows}`);
    if (features.length !== numRows * d) throw new RangeError(`expected ${numRows}×${d} values, got ${features.length}`);
    const out = new Float32Array(numRows);
    if (numRows === 0) return out;
    if (!this.predictor) {
      const session = this.engine.openSession();
      try {
        this.predictor = { session, booster: session.loadBooster(this.modelBytes) };
      } catch (error) {
        session.close();
        throw error;
      }
    }
    const { session, booster } = this.predictor;
    try {
      // Batches bound the heap: a matrix costs about 12 bytes per value inside the engine.
      for (let start = 0; start < numRows; start += PREDICT_BATCH_ROWS) {
        const rows = Math.min(PREDICT_BATCH_ROWS, numRows - start);
        const matrix = session.createMatrix({ features: features.subarray(start * d, (start + rows) * d), numRows: rows, numFeatures: d });
        try {
          out.set(booster.predict(matrix, { outputMargin }), start);
        } finally {
          matrix.free();
        }
      }
    } catch (error) {
      // A failed engine call may leave the session unusable: start from a fresh one next time.
      this.dispose();
      throw error;
    }
    return out;
  }
}

/**
 * The engine to train with: the one given in the options, or {@link defaultEngine} (native when
 * libxgboost loads, else wasm).
 * @throws XGBoostEngineError when the engine can only score (the TypeScript tree scorer)
 */
export function engineOf(options: { engine?: XGBoostEngine }): XGBoostEngine {
  const engine = options.engine ?? defaultEngine();
  if (engine.canTrain === false) throw new XGBoostEngineError(`engine ${engine.name} cannot train`, 'train');
  return engine;
}

/**
 * The engine to load a saved model with: the given one when it reads `modelFormat`, else the
 * engine of that format (`engineForFormat`: json → native, or the TypeScript scorer without it).
 * @throws ModelFormatError when the given engine reads another format, or no engine reads it
 */
export function engineForSaved(modelFormat: unknown, options: { engine?: XGBoostEngine }): XGBoostEngine {
  const { engine } = options;
  if (!engine) return engineForFormat(modelFormat);
  if (modelFormat !== engine.modelFormat) throw new ModelFormatError(`model bytes are ${String(modelFormat)} but engine ${engine.name} reads ${engine.modelFormat}`);
  return engine;
}

/** The model with only its first `count` trees, in either engine's format. */
export function truncateModelTrees(bytes: Uint8Array, modelFormat: string, count: number): Uint8Array {
  return modelFormat === NATIVE_MODEL_FORMAT ? truncateJsonTrees(bytes, count) : truncateTrees(bytes, count);
}

/** One forest of the trees of all `models` (see `concatenateTrees` / `concatenateJsonTrees`). */
export function concatenateModelTrees(models: readonly Uint8Array[], modelFormat: string): Uint8Array {
  return modelFormat === NATIVE_MODEL_FORMAT ? concatenateJsonTrees(models) : concatenateTrees(models);
}

/** Checks the engine's model bytes against the saved column names. */
export function checkSavedTrees(bytes: Uint8Array, modelFormat: string, featureNames: unknown, name: string): void {
  const trees = extractTrees(bytes, modelFormat);
  if (!Array.isArray(featureNames) || trees.numFeatures !== featureNames.length) {
    throw new ModelFormatError(`${name}: the trees use ${trees.numFeatures} features, featureNames lists ${String((featureNames as unknown[] | undefined)?.length)}`);
  }
}
