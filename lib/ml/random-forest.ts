/**
 * Random forest through XGBoost's random-forest mode (same engine as the XGBoost model): one
 * boosting round of `num_parallel_tree = nTrees` trees, each on a row sample without replacement
 * (`subsample`) and a feature sample, `eta = 1`. Every tree is fitted to the gradient at the same
 * starting point (`base_score` 0.5), and this XGBoost build divides each tree's leaf values by
 * `num_parallel_tree`, so the margin is the *average* of the trees' Newton steps:
 * `predictProba = sigmoid(mean over trees of 4 * (weighted fraud share of the leaf - 0.5))` with
 * `lambda` ≈ 0. It ranks like a classic forest's vote share; like any forest it is not a
 * calibrated probability.
 *
 * What this XGBoost build (0.7x) cannot do, and what is done instead:
 * - `colsample_bynode` does not exist yet and `colsample_bylevel` is ignored by `hist`, so the
 *   feature sample is per tree (`colsample_bytree`); the default keeps `floor(sqrt(d))` features
 *   per tree, the classic forest's count.
 * - Progress per tree: one forest is one engine call. By default progress is reported honestly
 *   before (`0/nTrees`) and after (`nTrees/nTrees`), and cancellation is checked before. With
 *   `chunks: k`, k sub-forests of about nTrees/k trees are trained one after another on the same
 *   data (seeds `seed`, `seed + 1`, …) and joined into one forest. Because every tree of a forest
 *   is fitted at the same starting point, the joined model is exactly a forest of nTrees trees
 *   (each sub-forest's `eta` is its share of the trees, so the leaves still average); progress and
 *   cancellation then come between sub-forests, at the price of one `hist` initialisation per
 *   sub-forest (2-3 s at 285k rows, measured). More boosting rounds would *not* be a forest.
 * Class imbalance: `scale_pos_weight` (negatives / positives of the training split by default).
 */
import { InvalidHyperparameterError, ModelFormatError } from './errors';
import { averagePrecision } from './metrics';
import type { Dataset, FraudModel, SavedModel, TrainControl } from './types';
import { concatenateTrees } from './xgboost/binary-model';
import {
  BoosterModel,
  checkDataset,
  checkSameColumns,
  countPositives,
  decodeBase64,
  encodeBase64,
  engineOf,
  labelsAsFloats,
  report,
  resolveScalePosWeight,
  secondsSince,
  throwIfAborted,
  yieldToEventLoop,
} from './xgboost/booster';
import type { BoosterParams, XGBoostEngine } from './xgboost/engine';
import { checkNumber, checkScalePosWeight, checkTreeMethod, resolveSeed, type TreeMethod } from './xgboost/options';
import { extractTrees } from './xgboost/trees';

/** Random-forest hyperparameters; XGBoost's names in brackets. */
export interface RandomForestOptions {
  /** Trees in the forest [num_parallel_tree]. @default 100 */
  nTrees?: number;
  /** Maximum tree depth [max_depth]. @default 10 */
  maxDepth?: number;
  /** Share of rows each tree sees, drawn without replacement [subsample]. @default 0.632 (the distinct-row share of a bootstrap) */
  subsample?: number;
  /** Share of features each tree sees [colsample_bytree]; `'sqrt'` keeps `floor(sqrt(d))` of `d`. @default 'sqrt' */
  colsampleBytree?: 'sqrt' | number;
  /** Minimum sum of hessians in a child [min_child_weight]; a row weighs 0.25 (times its class weight). @default 1 */
  minChildWeight?: number;
  /** L2 regularization of leaf weights [lambda]; near 0 so leaves are plain (weighted) fraud shares. @default 0.00001 */
  lambda?: number;
  /** @default 'hist' */
  treeMethod?: TreeMethod;
  /** Buckets per feature for `hist` [max_bin]. @default 256 */
  maxBin?: number;
  /** Weight of the fraud class [scale_pos_weight]; `'auto'` is `negatives / positives` of the training split. @default 'auto' */
  scalePosWeight?: 'auto' | number;
  /** Sub-forests trained one after another, for progress and cancellation between them (see the module doc). @default 1 */
  chunks?: number;
  /** The XGBoost implementation. @default wasmEngine */
  engine?: XGBoostEngine;
}

export interface ResolvedRandomForestOptions {
  nTrees: number;
  maxDepth: number;
  subsample: number;
  colsampleBytree: 'sqrt' | number;
  minChildWeight: number;
  lambda: number;
  treeMethod: TreeMethod;
  maxBin: number;
  scalePosWeight: 'auto' | number;
  chunks: number;
  seed: number;
}

/** Fills the defaults of {@link RandomForestOptions} and rejects invalid values with InvalidHyperparameterError. */
export function withDefaults(options: RandomForestOptions & TrainControl = {}): ResolvedRandomForestOptions {
  const {
    nTrees = 100,
    maxDepth = 10,
    subsample = 0.632,
    colsampleBytree = 'sqrt',
    minChildWeight = 1,
    lambda = 1e-5,
    treeMethod = 'hist',
    maxBin = 256,
    scalePosWeight = 'auto',
    chunks = 1,
    seed,
  } = options;
  const resolved: ResolvedRandomForestOptions = {
    nTrees: checkNumber('nTrees', nTrees, { min: 1, max: 10_000, integer: true }),
    maxDepth: checkNumber('maxDepth', maxDepth, { min: 1, max: 30, integer: true }),
    subsample: checkNumber('subsample', subsample, { min: 0, minExclusive: true, max: 1 }),
    colsampleBytree: colsampleBytree === 'sqrt' ? 'sqrt' : checkNumber('colsampleBytree', colsampleBytree, { min: 0, minExclusive: true, max: 1 }),
    minChildWeight: checkNumber('minChildWeight', minChildWeight, { min: 0 }),
    lambda: checkNumber('lambda', lambda, { min: 0 }),
    treeMethod: checkTreeMethod(treeMethod),
    maxBin: checkNumber('maxBin', maxBin, { min: 2, max: 65_536, integer: true }),
    scalePosWeight: checkScalePosWeight(scalePosWeight),
    chunks: checkNumber('chunks', chunks, { min: 1, integer: true }),
    seed: resolveSeed(seed),
  };
  if (resolved.chunks > resolved.nTrees) throw new InvalidHyperparameterError(`chunks (${resolved.chunks}) cannot exceed nTrees (${resolved.nTrees})`);
  return resolved;
}

/**
 * The feature share for `numFeatures` columns. XGBoost keeps `floor(share * d)` features, so
 * `'sqrt'` asks for `(k + 0.5) / d` with `k = max(1, floor(sqrt(d)))`: exactly k, whatever the rounding.
 */
export function featureShare(option: 'sqrt' | number, numFeatures: number): number {
  if (option !== 'sqrt') return option;
  const k = Math.max(1, Math.floor(Math.sqrt(numFeatures)));
  return Math.min(1, (k + 0.5) / numFeatures);
}

/** Tree counts of the sub-forests: `nTrees` split as evenly as possible into `chunks` parts. */
export function chunkSizes(nTrees: number, chunks: number): number[] {
  return Array.from({ length: chunks }, (_, c) => Math.floor(((c + 1) * nTrees) / chunks) - Math.floor((c * nTrees) / chunks));
}

export interface RandomForestTrainingSummary {
  /** `scale_pos_weight` used (`'auto'` resolved). */
  scalePosWeight: number;
  /** `colsample_bytree` used (`'sqrt'` resolved). */
  colsampleBytree: number;
  /** Validation PR-AUC of the forest; `null` without a validation split with fraud. */
  validationPrAuc: number | null;
  seconds: number;
}

export interface RandomForestModelJSON extends SavedModel {
  name: 'RandomForestModel';
  formatVersion: 1;
  kind: 'random_forest';
  options: ResolvedRandomForestOptions;
  training: RandomForestTrainingSummary;
  /** Byte format of `model`; only an engine with this `modelFormat` loads it. */
  modelFormat: string;
  /** The engine's model bytes, base64. */
  model: string;
}

const NAME = 'RandomForestModel';
const FORMAT_VERSION = 1;

/** A random forest of XGBoost trees; see the module doc for how it is trained and what it outputs. */
export class RandomForestModel extends BoosterModel implements FraudModel {
  readonly kind = 'random_forest' as const;

  private constructor(
    featureNames: readonly string[],
    modelBytes: Uint8Array,
    engine: XGBoostEngine,
    readonly options: ResolvedRandomForestOptions,
    readonly training: RandomForestTrainingSummary,
  ) {
    super({ featureNames, modelBytes, engine });
  }

  /**
   * Trains on `train`; with a `validation` split, the final progress report carries its PR-AUC.
   * Progress is in trees (`unit: 'tree'`), reported before training and after each sub-forest.
   * @throws InvalidHyperparameterError for invalid options
   * @throws TrainingCancelledError when `signal` aborts (checked before each sub-forest)
   * @throws RangeError for an inconsistent dataset or a training split with one class only
   */
  static async train(train: Dataset, options: RandomForestOptions & TrainControl = {}, validation?: Dataset): Promise<RandomForestModel> {
    const o = withDefaults(options);
    const engine = engineOf(options);
    const { signal, onProgress } = options;
    checkDataset(train, 'train');
    if (validation) {
      checkDataset(validation, 'validation');
      checkSameColumns(train, validation);
    }
    const scalePosWeight = resolveScalePosWeight(o.scalePosWeight, train.labels);
    const colsampleBytree = featureShare(o.colsampleBytree, train.numFeatures);
    const start = performance.now();
    const total = o.nTrees;
    throwIfAborted(signal, 'random_forest', 0, total);
    report(onProgress, { unit: 'tree', done: 0, total, elapsedSeconds: 0 });

    const session = engine.openSession();
    const parts: Uint8Array[] = [];
    let done = 0;
    try {
      const dtrain = session.createMatrix({ ...train, labels: labelsAsFloats(train.labels) });
      for (const [c, size] of chunkSizes(o.nTrees, o.chunks).entries()) {
        if (c > 0) {
          await yieldToEventLoop();
          throwIfAborted(signal, 'random_forest', done, total);
        }
        const params: BoosterParams = {
          objective: 'binary:logistic',
          booster: 'gbtree',
          silent: 1,
          seed: (o.seed + c) | 0,
          num_parallel_tree: size,
          // The build divides leaves by num_parallel_tree; eta = size / nTrees makes them 1 / nTrees in the joined forest.
          eta: size / o.nTrees,
          max_depth: o.maxDepth,
          subsample: o.subsample,
          colsample_bytree: colsampleBytree,
          min_child_weight: o.minChildWeight,
          lambda: o.lambda,
          alpha: 0,
          gamma: 0,
          tree_method: o.treeMethod,
          max_bin: o.maxBin,
          scale_pos_weight: scalePosWeight,
        };
        const booster = session.createBooster([dtrain], params);
        booster.updateOneIter(0, dtrain);
        parts.push(booster.save());
        booster.free();
        done += size;
        if (done < total) report(onProgress, { unit: 'tree', done, total, elapsedSeconds: secondsSince(start) });
      }
    } finally {
      session.close();
    }
    const modelBytes = parts.length === 1 ? parts[0]! : concatenateTrees(parts);
    const training: RandomForestTrainingSummary = { scalePosWeight, colsampleBytree, validationPrAuc: null, seconds: 0 };
    const model = new RandomForestModel(train.featureNames, modelBytes, engine, o, training);
    let metrics: Record<string, number> | undefined;
    if (validation && countPositives(validation.labels) > 0) {
      training.validationPrAuc = averagePrecision(validation.labels, model.predictProba(validation.features, validation.numRows));
      metrics = { val_pr_auc: training.validationPrAuc };
    }
    training.seconds = secondsSince(start);
    report(onProgress, { unit: 'tree', done: total, total, elapsedSeconds: training.seconds, metrics });
    return model;
  }

  toJSON(): RandomForestModelJSON {
    return {
      name: NAME,
      formatVersion: FORMAT_VERSION,
      kind: this.kind,
      featureNames: [...this.featureNames],
      options: { ...this.options },
      training: { ...this.training },
      modelFormat: this.engine.modelFormat,
      model: encodeBase64(this.modelBytes),
    };
  }

  /**
   * Rebuilds a model from `toJSON()` output; its predictions are identical.
   * @throws ModelFormatError when `json` is not a RandomForestModel of this format version, or its bytes are not readable by the engine
   */
  static load(json: RandomForestModelJSON, options: { engine?: XGBoostEngine } = {}): RandomForestModel {
    const engine = engineOf(options);
    if (json?.name !== NAME) throw new ModelFormatError(`not a ${NAME}: ${String(json?.name)}`);
    if (json.formatVersion !== FORMAT_VERSION) throw new ModelFormatError(`${NAME} format version ${String(json.formatVersion)} is not ${FORMAT_VERSION}`);
    if (json.kind !== 'random_forest') throw new ModelFormatError(`${NAME} with kind ${String(json.kind)}`);
    if (json.modelFormat !== engine.modelFormat) {
      throw new ModelFormatError(`model bytes are ${String(json.modelFormat)} but engine ${engine.name} reads ${engine.modelFormat}`);
    }
    const bytes = decodeBase64(json.model, `${NAME}.model`);
    const trees = extractTrees(bytes);
    if (!Array.isArray(json.featureNames) || trees.numFeatures !== json.featureNames.length) {
      throw new ModelFormatError(`${NAME}: the trees use ${trees.numFeatures} features, featureNames lists ${String(json.featureNames?.length)}`);
    }
    return new RandomForestModel(json.featureNames, bytes, engine, { ...json.options }, { ...json.training });
  }
}
