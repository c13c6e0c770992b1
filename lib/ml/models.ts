/**
 * The four model kinds behind one door: train any kind from a split, load any saved model.
 * Callers (the training activities, the benchmark, later the API) never switch on the kind themselves.
 */
import { ModelFormatError } from './errors';
import { IsolationForestModel } from './isolation-forest';
import { NeuralNetworkModel } from './neural-network';
import { RandomForestModel } from './random-forest';
import type { DatasetSplit, FraudModel, ModelKind, SavedModel, TrainControl } from './types';
import { MODEL_KINDS } from './types';
import { treeScorerEngine, XGBoostModel } from './xgboost';
import { NATIVE_MODEL_FORMAT } from './xgboost/native-engine';

export interface TrainedModel {
  model: FraudModel;
  /** What computed it, for the record (MLflow param `backend`): engine or TensorFlow.js backend. */
  backend: string;
}

/**
 * Trains one model of `kind` on `split.train`; the validation split serves early stopping and
 * calibration (never the test split). Hyperparameters replace the kind's defaults; a bad one throws
 * `InvalidHyperparameterError` before any training.
 */
export async function trainModel(
  kind: ModelKind,
  split: Pick<DatasetSplit, 'train' | 'validation'>,
  hyperparameters: Record<string, unknown> = {},
  control: TrainControl = {},
): Promise<TrainedModel> {
  const options = { ...hyperparameters, ...control };
  switch (kind) {
    case 'xgboost': {
      const model = await XGBoostModel.train(split.train, options, split.validation);
      return { model, backend: model.engineName };
    }
    case 'random_forest': {
      const model = await RandomForestModel.train(split.train, options, split.validation);
      return { model, backend: model.engineName };
    }
    case 'neural_network': {
      const model = await NeuralNetworkModel.train(split.train, options, split.validation);
      const b = model.training.backend;
      return { model, backend: `tfjs-${b.backend}${b.simd ? '-simd' : ''} (${b.package} ${b.version})` };
    }
    case 'isolation_forest':
      return { model: await IsolationForestModel.train(split.train, options, split.validation), backend: 'typescript' };
    default:
      throw new RangeError(`unknown model kind ${String(kind)}; expected one of ${MODEL_KINDS.join(', ')}`);
  }
}

export interface LoadModelOptions {
  /**
   * How XGBoost and random-forest models (of the native `xgboost-json` format) score: `engine`
   * through libxgboost, `typescript` with the project's tree scorer (equal to 1e-6). Serving one row
   * at a time, the TypeScript scorer is ~20× cheaper per row and has no OpenMP thread hand-off in
   * its latency tail. @default 'engine'
   */
  treeScoring?: 'engine' | 'typescript';
}

/** Rebuilds any saved model from its `toJSON()`; predictions are identical to the saved model's (to 1e-6 with the tree scorer). */
export async function loadModel(json: unknown, options: LoadModelOptions = {}): Promise<FraudModel> {
  const kind = (json as SavedModel | null)?.kind;
  const treeOptions = options.treeScoring === 'typescript' && (json as { modelFormat?: unknown } | null)?.modelFormat === NATIVE_MODEL_FORMAT ? { engine: treeScorerEngine } : {};
  switch (kind) {
    case 'xgboost':
      return XGBoostModel.load(json as Parameters<typeof XGBoostModel.load>[0], treeOptions);
    case 'random_forest':
      return RandomForestModel.load(json as Parameters<typeof RandomForestModel.load>[0], treeOptions);
    case 'neural_network':
      return NeuralNetworkModel.load(json);
    case 'isolation_forest':
      return IsolationForestModel.load(json);
    default:
      throw new ModelFormatError(`not a saved model of a known kind: kind=${JSON.stringify(kind)}`);
  }
}
