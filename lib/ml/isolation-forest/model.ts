import { createRandom } from '../data/random';
import { DatasetError } from '../data/errors';
import { checkTrainAndValidation, countPositives } from '../data/validate';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../errors';
import type { Dataset, FraudModel, SavedModel, TrainControl } from '../types';
import { IsotonicCalibrator, loadCalibration, PlattCalibrator, type CalibrationJSON, type ScoreCalibrator } from './calibration';
import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from '../codec';
import { anomalyScores, ForestBuilder, type FlatForest } from './forest';
import { withDefaults, type IsolationForestOptions, type ResolvedIsolationForestOptions } from './options';

const NAME = 'IsolationForestModel';
const FORMAT_VERSION = 1;

/** How a model was trained; saved with it. */
export interface IsolationForestTrainingInfo {
  seed: number;
  options: ResolvedIsolationForestOptions;
  /** Rows per tree actually used: `min(maxSamples, training rows)`. */
  sampleSize: number;
}

/** The JSON form of an {@link IsolationForestModel}; node arrays are little-endian base64. */
export interface IsolationForestModelJSON extends SavedModel {
  name: typeof NAME;
  formatVersion: typeof FORMAT_VERSION;
  kind: 'isolation_forest';
  forest: {
    numTrees: number;
    sampleSize: number;
    /** Int32 per tree. */
    roots: string;
    /** Int32 per node, -1 for a leaf. */
    feature: string;
    /** Float32 per node: split threshold, or the leaf's path length. */
    threshold: string;
    /** Int32 per node: left child (the right child follows it). */
    left: string;
  };
  calibration: CalibrationJSON;
  training: IsolationForestTrainingInfo;
}

/**
 * Unsupervised fraud detector: an isolation forest grown on the training features only (labels
 * are never read there), whose anomaly score is mapped to a fraud probability by a calibration
 * fitted on the labelled validation split (isotonic by default, see `calibration.ts`). The
 * probability makes it comparable with, and combinable into an ensemble with, the supervised
 * models. No feature scaling: a split threshold is drawn between a feature's minimum and maximum,
 * so the trees do not depend on the scale of any feature.
 */
export class IsolationForestModel implements FraudModel {
  readonly kind = 'isolation_forest' as const;

  private constructor(
    readonly featureNames: readonly string[],
    private readonly forest: FlatForest,
    private readonly calibrator: ScoreCalibrator,
    readonly training: IsolationForestTrainingInfo,
  ) {}

  /**
   * Grows the forest on the features of `train`, then fits the score-to-probability calibration on
   * `validation` (which needs both classes). Progress is reported per tree, `signal` is honoured
   * between trees.
   * @throws InvalidHyperparameterError for bad options, DatasetError for unusable data,
   *   TrainingCancelledError when `signal` aborts.
   */
  static async train(train: Dataset, options: IsolationForestOptions & TrainControl, validation: Dataset): Promise<IsolationForestModel> {
    const { seed = 42, signal, onProgress, ...hyperparameters } = options;
    const resolved = withDefaults(hyperparameters);
    if (!Number.isSafeInteger(seed)) throw new InvalidHyperparameterError(`seed must be a safe integer, got ${String(seed)}`);
    checkData(train, validation);
    const total = resolved.nTrees;
    if (signal?.aborted) throw new TrainingCancelledError('isolation_forest', { done: 0, total });

    const started = performance.now();
    const builder = new ForestBuilder(train.features, train.numRows, train.numFeatures, total, resolved.maxSamples, resolved.maxFeatures, createRandom(seed));
    for (let done = 1; done <= total; done++) {
      builder.growTree();
      onProgress?.({ unit: 'tree', done, total, elapsedSeconds: (performance.now() - started) / 1000 });
      // A tree takes well under a millisecond; yielding after each one keeps an abort from this thread prompt.
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted && done < total) throw new TrainingCancelledError('isolation_forest', { done, total });
    }
    const forest = builder.finish();
    const scores = anomalyScores(forest, validation.features, validation.numRows);
    const calibrator = resolved.calibration === 'isotonic' ? IsotonicCalibrator.fit(scores, validation.labels) : PlattCalibrator.fit(scores, validation.labels);
    return new IsolationForestModel([...train.featureNames], forest, calibrator, { seed, options: resolved, sampleSize: forest.sampleSize });
  }

  /**
   * Raw anomaly score per row, `2^(-E[path length] / c(sampleSize))` in (0, 1]: higher is more
   * anomalous (scikit-learn's `score_samples` with the sign flipped). Not a probability.
   */
  anomalyScores(features: Float32Array, numRows: number): Float64Array {
    this.checkFeatures(features, numRows);
    return anomalyScores(this.forest, features, numRows);
  }

  /** Calibrated fraud probability per row of raw row-major features. */
  predictProba(features: Float32Array, numRows: number): Float32Array {
    const scores = this.anomalyScores(features, numRows);
    const out = new Float32Array(numRows);
    for (let i = 0; i < numRows; i++) out[i] = this.calibrator.probability(scores[i]!);
    return out;
  }

  /** The fitted score-to-probability map. */
  get calibration(): CalibrationJSON {
    return this.calibrator.toJSON();
  }

  toJSON(): IsolationForestModelJSON {
    const { forest } = this;
    return {
      name: NAME,
      formatVersion: FORMAT_VERSION,
      kind: 'isolation_forest',
      featureNames: [...this.featureNames],
      forest: {
        numTrees: forest.numTrees,
        sampleSize: forest.sampleSize,
        roots: encodeInt32(forest.roots),
        feature: encodeInt32(forest.feature),
        threshold: encodeFloat32(forest.threshold),
        left: encodeInt32(forest.left),
      },
      calibration: this.calibrator.toJSON(),
      training: structuredClone(this.training),
    };
  }

  /**
   * Rebuilds a saved model with identical predictions.
   * @throws ModelFormatError when `json` is not an isolation forest of this format version.
   */
  static load(json: unknown): IsolationForestModel {
    if (json === null || typeof json !== 'object') throw new ModelFormatError(`${NAME}: expected an object`);
    const saved = json as Partial<IsolationForestModelJSON>;
    if (saved.name !== NAME) throw new ModelFormatError(`not an ${NAME}: ${String(saved.name)}`);
    if (saved.formatVersion !== FORMAT_VERSION) throw new ModelFormatError(`${NAME}: format version ${String(saved.formatVersion)} is not supported (expected ${FORMAT_VERSION})`);
    if (saved.kind !== 'isolation_forest') throw new ModelFormatError(`${NAME}: kind must be isolation_forest, got ${String(saved.kind)}`);
    if (!Array.isArray(saved.featureNames) || saved.featureNames.length === 0) throw new ModelFormatError(`${NAME}: featureNames must be a non-empty array`);
    if (saved.training === undefined || saved.calibration === undefined) throw new ModelFormatError(`${NAME}: training and calibration are required`);
    const forest = parseForest(saved.forest, saved.featureNames.length);
    return new IsolationForestModel([...saved.featureNames], forest, loadCalibration(saved.calibration), structuredClone(saved.training));
  }

  private checkFeatures(features: Float32Array, numRows: number): void {
    const d = this.featureNames.length;
    if (!(features instanceof Float32Array)) throw new TypeError('features must be a Float32Array');
    if (!Number.isSafeInteger(numRows) || numRows < 0 || features.length !== numRows * d) {
      throw new RangeError(`expected ${numRows}×${d} feature values, got ${features.length}`);
    }
  }
}

function checkData(train: Dataset, validation: Dataset): void {
  checkTrainAndValidation(train, validation);
  if (train.numRows < 2 || train.numFeatures < 1) throw new DatasetError('NO_ROWS', `train has ${train.numRows} rows of ${train.numFeatures} features: a tree needs two rows`);
  const positives = countPositives(validation.labels);
  if (positives === 0 || positives === validation.numRows) {
    throw new DatasetError('SINGLE_CLASS', `validation has ${positives} fraud rows of ${validation.numRows}: calibrating the anomaly score needs both classes`);
  }
}

/**
 * Decodes and checks a saved forest's node arrays, so scoring (or an exporter walking them) can
 * neither read out of bounds nor loop. Also used by the ONNX exporter.
 * @throws ModelFormatError naming what is wrong
 */
export function parseForest(json: IsolationForestModelJSON['forest'] | undefined, numFeatures: number): FlatForest {
  const fail = (problem: string): never => {
    throw new ModelFormatError(`${NAME}: ${problem}`);
  };
  if (json === null || typeof json !== 'object') return fail('forest is missing');
  const roots = decodeInt32(json.roots);
  const feature = decodeInt32(json.feature);
  const threshold = decodeFloat32(json.threshold);
  const left = decodeInt32(json.left);
  if (!roots || !feature || !threshold || !left) return fail('forest arrays must be base64 of 4-byte values');
  const { numTrees, sampleSize } = json;
  if (!Number.isSafeInteger(numTrees) || numTrees < 1 || roots.length !== numTrees) fail('numTrees does not match the roots');
  if (!Number.isSafeInteger(sampleSize) || sampleSize < 2) fail('sampleSize must be an integer >= 2');
  const nodes = feature.length;
  if (threshold.length !== nodes || left.length !== nodes) fail('node arrays differ in length');
  for (const root of roots) if (!(root >= 0 && root < nodes)) fail(`root ${root} is not a node`);
  for (let k = 0; k < nodes; k++) {
    const f = feature[k]!;
    if (f === -1) continue;
    // Children come after their parent: walking down always terminates.
    if (!(f >= 0 && f < numFeatures) || !(left[k]! > k && left[k]! + 1 < nodes)) fail(`node ${k} is malformed`);
  }
  return { numTrees, numFeatures, sampleSize, roots, feature, threshold, left };
}
