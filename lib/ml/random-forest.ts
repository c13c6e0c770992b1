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
 * Engines (`options.engine`, default: native libxgboost when it loads, else wasm):
 * - native (XGBoost 3.x): the feature sample is drawn **per split** (`colsample_bynode`), as in a
 *   classic random forest, `floor(sqrt(d))` of `d` features by default. The one long engine call
 *   runs on a koffi worker thread, so the event loop (heartbeats) keeps running during it.
 * - wasm (XGBoost 0.7x): `colsample_bynode` does not exist yet and `colsample_bylevel` is ignored
 *   by `hist`, so the feature sample is per tree (`colsample_bytree`). The engine call blocks the
 *   thread (run training in a worker thread).
 * `featureSampling` forces one or the other where the engine allows it.
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
import {
  BoosterModel,
  checkDataset,
  checkSameColumns,
  countPositives,
  checkSavedTrees,
  concatenateModelTrees,
  decodeBase64,
  encodeBase64,
  engineForSaved,
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

/** Random-forest hyperparameters; XGBoost's names in brackets. */
export interface RandomForestOptions {
  /** Trees in the forest [num_parallel_tree]. @default 100 */
  nTrees?: number;
  /** Maximum tree depth [max_depth]. @default 10 */
  maxDepth?: number;
  /** Share of rows each tree sees, drawn without replacement [subsample]. @default 0.632 (the distinct-row share of a bootstrap) */
  subsample?: number;
  /**
   * Share of features each split (native engine) or each tree (wasm engine) sees
   * [colsample_bynode / colsample_bytree, see `featureSampling`]; `'sqrt'` keeps `floor(sqrt(d))` of `d`.
   * @default 'sqrt'
   */
  colsampleBytree?: 'sqrt' | number;
  /**
   * Where features are sampled: `'node'` per split (`colsample_bynode`, the classic forest; needs an
   * engine that supports it, i.e. native), `'tree'` per tree (`colsample_bytree`), `'auto'` per
   * split when the engine supports it, else per tree.
   * @default 'auto'
   */
  featureSampling?: 'auto' | 'node' | 'tree';
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
  /** The XGBoost implementation. @default defaultEngine(): native libxgboost when it loads, else wasm */
  engine?: XGBoostEngine;
}

export interface ResolvedRandomForestOptions {
  nTrees: number;
  maxDepth: number;
  subsample: number;
  colsampleBytree: 'sqrt' | number;
  featureSampling: 'auto' | 'node' | 'tree';
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
    featureSampling = 'auto',
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
    featureSampling: checkFeatureSampling(featureSampling),
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

function checkFeatureSampling(value: unknown): 'auto' | 'node' | 'tree' {
  if (value !== 'auto' && value !== 'node' && value !== 'tree') throw new InvalidHyperparameterError(`featureSampling must be auto, node or tree, got ${String(value)}`);
  return value;
}

/**
 * The feature share for `numFeatures` columns. XGBoost keeps `floor(share * d)` features (0.7x per
 * tree) or rounds (newer samplers), so `'sqrt'` asks for `(k + 0.25) / d` with
 * `k = max(1, floor(sqrt(d)))`: exactly k either way, whatever the float rounding.
 */
export function featureShare(option: 'sqrt' | number, numFeatures: number): number {
  if (option !== 'sqrt') return option;
  const k = Math.max(1, Math.floor(Math.sqrt(numFeatures)));
  return Math.min(1, (k + 0.25) / numFeatures);
}

/** Tree counts of the sub-forests: `nTrees` split as evenly as possible into `chunks` parts. */
export function chunkSizes(nTrees: number, chunks: number): number[] {
  return Array.from({ length: chunks }, (_, c) => Math.floor(((c + 1) * nTrees) / chunks) - Math.floor((c * nTrees) / chunks));
}

/** The XGBoost parameters of one sub-forest (`chunk` of `size` trees) of a resolved forest. */
export function toForestParams(
  o: ResolvedRandomForestOptions,
  sub: { chunk: number; size: number; scalePosWeight: number; share: number; featureSampling: 'node' | 'tree' },
): BoosterParams {
  return {
    objective: 'binary:logistic',
    booster: 'gbtree',
    silent: 1,
    seed: (o.seed + sub.chunk) | 0,
    num_parallel_tree: sub.size,
    // XGBoost divides leaves by num_parallel_tree; eta = size / nTrees makes them 1 / nTrees in the joined forest.
    eta: sub.size / o.nTrees,
    // Every tree is a Newton step from p = 0.5 (newer XGBoost would start from the label mean).
    base_score: 0.5,
    max_depth: o.maxDepth,
    subsample: o.subsample,
    ...(sub.featureSampling === 'node' ? { colsample_bynode: sub.share, colsample_bytree: 1 } : { colsample_bytree: sub.share }),
    min_child_weight: o.minChildWeight,
    lambda: o.lambda,
    alpha: 0,
    gamma: 0,
    tree_method: o.treeMethod,
    max_bin: o.maxBin,
    scale_pos_weight: sub.scalePosWeight,
  };
}

export interface RandomForestTrainingSummary {
  /** `scale_pos_weight` used (`'auto'` resolved). */
  scalePosWeight: number;
  /** Feature share used (`'sqrt'` resolved), per split or per tree as `featureSampling` says. */
  colsampleBytree: number;
  /** Where features were sampled: `'node'` (colsample_bynode) or `'tree'` (colsample_bytree). */
  featureSampling: 'node' | 'tree';
  /** Name of the engine that trained the model. */
  engine: string;
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
  /** Byte format of `model` (`xgboost-json` native, `xgboost-0.7-binary` wasm); only an engine with this `modelFormat` loads it. */
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
    const byNode = engine.supportsColsampleBynode === true;
    if (o.featureSampling === 'node' && !byNode) throw new InvalidHyperparameterError(`featureSampling 'node' needs colsample_bynode, which engine ${engine.name} lacks`);
    const featureSampling = o.featureSampling === 'auto' ? (byNode ? 'node' : 'tree') : o.featureSampling;
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
        const params = toForestParams(o, { chunk: c, size, scalePosWeight, share: colsampleBytree, featureSampling });
        const booster = session.createBooster([dtrain], params);
        // Off the JS thread where the engine can (native), so heartbeats flow during the forest.
        if (booster.updateOneIterAsync) await booster.updateOneIterAsync(0, dtrain);
        else booster.updateOneIter(0, dtrain);
        parts.push(booster.save());
        booster.free();
        done += size;
        if (done < total) report(onProgress, { unit: 'tree', done, total, elapsedSeconds: secondsSince(start) });
      }
    } finally {
      session.close();
    }
    const modelBytes = parts.length === 1 ? parts[0]! : concatenateModelTrees(parts, engine.modelFormat);
    const training: RandomForestTrainingSummary = { scalePosWeight, colsampleBytree, featureSampling, engine: engine.name, validationPrAuc: null, seconds: 0 };
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
    if (json?.name !== NAME) throw new ModelFormatError(`not a ${NAME}: ${String(json?.name)}`);
    if (json.formatVersion !== FORMAT_VERSION) throw new ModelFormatError(`${NAME} format version ${String(json.formatVersion)} is not ${FORMAT_VERSION}`);
    if (json.kind !== 'random_forest') throw new ModelFormatError(`${NAME} with kind ${String(json.kind)}`);
    const engine = engineForSaved(json.modelFormat, options);
    const bytes = decodeBase64(json.model, `${NAME}.model`);
    checkSavedTrees(bytes, engine.modelFormat, json.featureNames, NAME);
    return new RandomForestModel(json.featureNames, bytes, engine, { ...json.options }, { ...json.training });
  }
}
