/**
 * The input of `trainingPipeline`, checked field by field before any work starts. Every field is
 * optional, so `--input '{}'` runs the defaults. Pure and deterministic: runs inside the workflow.
 */
import type { ModelKind } from '../lib/ml/types';
import { inputFields, isObject, TRAINABLE_MODELS, type CsvDatasetInput, type DatasetSpec, type SyntheticDatasetInput } from './input-fields';

export { TRAINABLE_MODELS, type SyntheticDatasetInput, type CsvDatasetInput } from './input-fields';
export const STAGES = ['Staging', 'Production'] as const;
export type TargetStage = (typeof STAGES)[number];

export interface TrainingPipelineInput {
  dataset?: SyntheticDatasetInput | CsvDatasetInput;
  /** @default all four */
  models?: ModelKind[];
  /** Per model, hyperparameters that replace the model's defaults (checked by the trainer before any training). */
  hyperparameters?: Partial<Record<ModelKind, Record<string, unknown>>>;
  /** @default { train: 0.7, validation: 0.15, test: 0.15, seed: 42 } */
  split?: { train?: number; validation?: number; test?: number; seed?: number };
  qualityGate?: {
    /** Test PR-AUC floor. @default 0.5 */
    minPrAuc?: number;
    /** Test recall floor at the threshold chosen on validation. @default 0.5 */
    minRecall?: number;
    /** How much lower than the current Production version's PR-AUC a candidate may score. @default 0.02 */
    maxPrAucDrop?: number;
    /**
     * Floors per model that replace the two above. @default { isolation_forest: { minPrAuc: 0.01, minRecall: 0 } }:
     * the isolation forest is unsupervised and ranks fraud far less sharply (it joins the ensemble
     * with a small weight), so the supervised floors would never let it through.
     */
    perModel?: Partial<Record<ModelKind, { minPrAuc?: number; minRecall?: number }>>;
  };
  /** @default 'Staging' */
  targetStage?: TargetStage;
  /** @default 'fraud_detection_training' */
  experimentName?: string;
  /**
   * Task queue of the training activities, e.g. `fraud-ml-training` served by workers on bigger
   * machines (they need the same data directory). @default the workflow's own task queue
   */
  trainingTaskQueue?: string;
}

/** The input with every default filled in: what the workflow actually runs, and what it logs. */
export interface TrainingPlan {
  dataset: DatasetSpec;
  models: ModelKind[];
  hyperparameters: Partial<Record<ModelKind, Record<string, unknown>>>;
  split: { train: number; validation: number; test: number; seed: number };
  qualityGate: { minPrAuc: number; minRecall: number; maxPrAucDrop: number; perModel: Partial<Record<ModelKind, { minPrAuc?: number; minRecall?: number }>> };
  targetStage: TargetStage;
  experimentName: string;
  /** `null`: the workflow's own task queue. */
  trainingTaskQueue: string | null;
}

const fields = inputFields('trainingPipeline');
// Explicitly typed, so the compiler knows a failed check ends the function.
const invalid: (field: string, problem: string) => never = fields.invalid;
const { checkKeys, num, str, parseDataset, parseModels } = fields;

/** Checks the raw workflow input and fills the defaults; throws a non-retryable failure naming the first bad field. */
export function parseTrainingInput(raw: unknown): TrainingPlan {
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) invalid('input', `must be a JSON object, got ${JSON.stringify(raw)}`);
  checkKeys(raw, '', ['dataset', 'models', 'hyperparameters', 'split', 'qualityGate', 'targetStage', 'experimentName', 'trainingTaskQueue']);
  const models = parseModels(raw.models);

  const hp = raw.hyperparameters ?? {};
  if (!isObject(hp)) invalid('hyperparameters', 'must be an object keyed by model name');
  for (const [model, params] of Object.entries(hp)) {
    if (!(TRAINABLE_MODELS as readonly string[]).includes(model)) invalid(`hyperparameters.${model}`, `is not a model (expected one of: ${TRAINABLE_MODELS.join(', ')})`);
    if (!isObject(params)) invalid(`hyperparameters.${model}`, 'must be an object of hyperparameters');
  }

  const split = raw.split ?? {};
  if (!isObject(split)) invalid('split', 'must be an object');
  checkKeys(split, 'split', ['train', 'validation', 'test', 'seed']);
  const parts = {
    train: num(split.train, 'split.train', 0.7, { min: 0, max: 1, exclusiveMin: true }),
    validation: num(split.validation, 'split.validation', 0.15, { min: 0, max: 1, exclusiveMin: true }),
    test: num(split.test, 'split.test', 0.15, { min: 0, max: 1, exclusiveMin: true }),
  };
  if (Math.abs(parts.train + parts.validation + parts.test - 1) > 1e-9) {
    invalid('split', `fractions must sum to 1, got ${parts.train} + ${parts.validation} + ${parts.test}`);
  }

  const gate = raw.qualityGate ?? {};
  if (!isObject(gate)) invalid('qualityGate', 'must be an object');
  checkKeys(gate, 'qualityGate', ['minPrAuc', 'minRecall', 'maxPrAucDrop', 'perModel']);
  const perModelRaw = gate.perModel ?? { isolation_forest: { minPrAuc: 0.01, minRecall: 0 } };
  if (!isObject(perModelRaw)) invalid('qualityGate.perModel', 'must be an object keyed by model name');
  const perModel: TrainingPlan['qualityGate']['perModel'] = {};
  for (const [model, floors] of Object.entries(perModelRaw)) {
    const field = `qualityGate.perModel.${model}`;
    if (!(TRAINABLE_MODELS as readonly string[]).includes(model)) invalid(field, `is not a model (expected one of: ${TRAINABLE_MODELS.join(', ')})`);
    if (!isObject(floors)) invalid(field, 'must be an object');
    checkKeys(floors, field, ['minPrAuc', 'minRecall']);
    perModel[model as ModelKind] = {
      ...(floors.minPrAuc !== undefined ? { minPrAuc: num(floors.minPrAuc, `${field}.minPrAuc`, 0, { min: 0, max: 1 }) } : {}),
      ...(floors.minRecall !== undefined ? { minRecall: num(floors.minRecall, `${field}.minRecall`, 0, { min: 0, max: 1 }) } : {}),
    };
  }

  const targetStage = raw.targetStage ?? 'Staging';
  if (!(STAGES as readonly unknown[]).includes(targetStage)) invalid('targetStage', `must be one of ${STAGES.join(', ')}, got ${JSON.stringify(targetStage)}`);

  const experimentName = str(raw.experimentName, 'experimentName', 'fraud_detection_training');
  if (experimentName.length > 500) invalid('experimentName', 'must be at most 500 characters');

  const trainingTaskQueue = raw.trainingTaskQueue === undefined ? null : str(raw.trainingTaskQueue, 'trainingTaskQueue', '');
  if (trainingTaskQueue !== null && trainingTaskQueue.length > 200) invalid('trainingTaskQueue', 'must be at most 200 characters');

  return {
    dataset: parseDataset(raw.dataset),
    models,
    hyperparameters: hp as TrainingPlan['hyperparameters'],
    split: { ...parts, seed: num(split.seed, 'split.seed', 42, { min: 0, max: 2 ** 32 - 1, integer: true }) },
    qualityGate: {
      minPrAuc: num(gate.minPrAuc, 'qualityGate.minPrAuc', 0.5, { min: 0, max: 1 }),
      minRecall: num(gate.minRecall, 'qualityGate.minRecall', 0.5, { min: 0, max: 1 }),
      maxPrAucDrop: num(gate.maxPrAucDrop, 'qualityGate.maxPrAucDrop', 0.02, { min: 0, max: 1 }),
      perModel,
    },
    targetStage: targetStage as TargetStage,
    experimentName,
    trainingTaskQueue,
  };
}
