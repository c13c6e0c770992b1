import { InvalidHyperparameterError, ModelFormatError } from '../errors';
import { averagePrecision } from '../metrics';
import type { Dataset, FraudModel, SavedModel, TrainControl } from '../types';
import {
  BoosterModel,
  checkDataset,
  checkSameColumns,
  countPositives,
  checkSavedTrees,
  decodeBase64,
  encodeBase64,
  engineForSaved,
  engineOf,
  labelsAsFloats,
  report,
  resolveScalePosWeight,
  secondsSince,
  throwIfAborted,
  truncateModelTrees,
  yieldToEventLoop,
} from './booster';
import type { XGBoostEngine } from './engine';
import { toBoosterParams, withDefaults, type ResolvedXGBoostOptions, type XGBoostOptions } from './options';

/** What training did, saved with the model. */
export interface XGBoostTrainingSummary {
  /** Rounds boosted (fewer than `nRounds` when early stopping ended training). */
  roundsTrained: number;
  /** Trees kept: all rounds, or up to the best round with early stopping. */
  treesKept: number;
  /** 0-based round with the best validation PR-AUC; `null` without a validation split with fraud. */
  bestRound: number | null;
  /** Validation PR-AUC of the kept trees; `null` without a validation split with fraud. */
  validationPrAuc: number | null;
  /** `scale_pos_weight` used (`'auto'` resolved). */
  scalePosWeight: number;
  seconds: number;
  /** Name of the engine that trained the model, e.g. `xgboost-native (libxgboost 3.2.0)`. */
  engine: string;
}

export interface XGBoostModelJSON extends SavedModel {
  name: 'XGBoostModel';
  formatVersion: 1;
  kind: 'xgboost';
  options: ResolvedXGBoostOptions;
  training: XGBoostTrainingSummary;
  /** Byte format of `model`: `xgboost-json` (native engine) or `xgboost-0.7-binary` (wasm); only an engine with this `modelFormat` loads it. */
  modelFormat: string;
  /** The engine's model bytes, base64. */
  model: string;
}

const NAME = 'XGBoostModel';
const FORMAT_VERSION = 1;

/**
 * Gradient-boosted trees (XGBoost, `binary:logistic`), boosted one round at a time so progress is
 * reported per round and a cancellation lands between rounds. Class imbalance is handled by
 * `scale_pos_weight` (negatives / positives of the training split by default).
 */
export class XGBoostModel extends BoosterModel implements FraudModel {
  readonly kind = 'xgboost' as const;

  private constructor(
    featureNames: readonly string[],
    modelBytes: Uint8Array,
    engine: XGBoostEngine,
    readonly options: ResolvedXGBoostOptions,
    readonly training: XGBoostTrainingSummary,
  ) {
    super({ featureNames, modelBytes, engine });
  }

  /**
   * Trains on `train`. With a `validation` split, the validation PR-AUC is reported
   * (`metrics.val_pr_auc`) every round when it drives `earlyStoppingRounds`, else every 10th round and the last.
   * @throws InvalidHyperparameterError for invalid options
   * @throws TrainingCancelledError when `signal` aborts (checked between rounds)
   * @throws RangeError for an inconsistent dataset or a training split with one class only
   */
  static async train(train: Dataset, options: XGBoostOptions & TrainControl = {}, validation?: Dataset): Promise<XGBoostModel> {
    const o = withDefaults(options);
    const engine = engineOf(options);
    const { signal, onProgress } = options;
    checkDataset(train, 'train');
    if (validation) {
      checkDataset(validation, 'validation');
      checkSameColumns(train, validation);
    }
    const scored = validation && countPositives(validation.labels) > 0 ? validation : undefined;
    if (o.earlyStoppingRounds !== null && !scored) {
      throw new InvalidHyperparameterError('earlyStoppingRounds needs a validation split with at least one fraud row');
    }
    const scalePosWeight = resolveScalePosWeight(o.scalePosWeight, train.labels);
    throwIfAborted(signal, 'xgboost', 0, o.nRounds);

    const start = performance.now();
    const session = engine.openSession();
    let modelBytes: Uint8Array;
    let roundsTrained = 0;
    let bestRound: number | null = null;
    let bestPrAuc = -Infinity;
    let lastPrAuc = NaN;
    try {
      const dtrain = session.createMatrix({ ...train, labels: labelsAsFloats(train.labels) });
      const dvalid = scored ? session.createMatrix({ ...scored, labels: undefined }) : undefined;
      const booster = session.createBooster(dvalid ? [dtrain, dvalid] : [dtrain], toBoosterParams(o, scalePosWeight));
      for (let round = 0; round < o.nRounds; round++) {
        booster.updateOneIter(round, dtrain);
        roundsTrained = round + 1;
        let metrics: Record<string, number> | undefined;
        // Early stopping needs the validation PR-AUC every round; otherwise every 10th round (and the
        // last) is enough for progress, and scoring 200 times would cost more than a third of training.
        const evaluate = o.earlyStoppingRounds !== null || roundsTrained % 10 === 0 || roundsTrained === o.nRounds;
        if (dvalid && scored && evaluate) {
          // A cached matrix: each call only adds the newest trees' contribution.
          const prAuc = averagePrecision(scored.labels, booster.predict(dvalid));
          metrics = { val_pr_auc: prAuc };
          lastPrAuc = prAuc;
          if (prAuc > bestPrAuc) {
            bestPrAuc = prAuc;
            bestRound = round;
          }
        }
        report(onProgress, { unit: 'round', done: roundsTrained, total: o.nRounds, elapsedSeconds: secondsSince(start), metrics });
        if (o.earlyStoppingRounds !== null && bestRound !== null && round - bestRound >= o.earlyStoppingRounds) break;
        if (round + 1 < o.nRounds) {
          await yieldToEventLoop();
          throwIfAborted(signal, 'xgboost', roundsTrained, o.nRounds);
        }
      }
      modelBytes = booster.save();
    } finally {
      session.close();
    }
    // With early stopping, keep the trees up to the best round.
    const stopped = o.earlyStoppingRounds !== null && bestRound !== null;
    const treesKept = o.earlyStoppingRounds !== null && bestRound !== null ? bestRound + 1 : roundsTrained;
    if (treesKept < roundsTrained) modelBytes = truncateModelTrees(modelBytes, engine.modelFormat, treesKept);
    const training: XGBoostTrainingSummary = {
      roundsTrained,
      treesKept,
      bestRound,
      validationPrAuc: scored ? (stopped ? bestPrAuc : lastPrAuc) : null,
      scalePosWeight,
      seconds: secondsSince(start),
      engine: engine.name,
    };
    return new XGBoostModel(train.featureNames, modelBytes, engine, o, training);
  }

  toJSON(): XGBoostModelJSON {
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
   * Rebuilds a model from `toJSON()` output; its predictions are identical (to 1e-6 when an
   * `xgboost-json` model is scored by the TypeScript scorer because libxgboost is missing).
   * Without `options.engine`, the engine is the one of `json.modelFormat` (see `engineForFormat`).
   * @throws ModelFormatError when `json` is not an XGBoostModel of this format version, or its bytes are not readable by the engine
   */
  static load(json: XGBoostModelJSON, options: { engine?: XGBoostEngine } = {}): XGBoostModel {
    if (json?.name !== NAME) throw new ModelFormatError(`not an ${NAME}: ${String(json?.name)}`);
    if (json.formatVersion !== FORMAT_VERSION) throw new ModelFormatError(`${NAME} format version ${String(json.formatVersion)} is not ${FORMAT_VERSION}`);
    if (json.kind !== 'xgboost') throw new ModelFormatError(`${NAME} with kind ${String(json.kind)}`);
    const engine = engineForSaved(json.modelFormat, options);
    const bytes = decodeBase64(json.model, `${NAME}.model`);
    checkSavedTrees(bytes, engine.modelFormat, json.featureNames, NAME);
    return new XGBoostModel(json.featureNames, bytes, engine, { ...json.options }, { ...json.training });
  }
}
