import { ActivityCancellationType, ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RegisteredVersion } from '../activities/registry';
import type { ModelKind } from '../lib/ml/types';
import { qualityGate } from './quality-gate';
import { parseTrainingInput, type TrainingPlan } from './training-input';

const { validateHyperparameters } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

const { prepareDataset } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

// Training: a heartbeat every 5 s, so a lost worker is noticed within a minute and the attempt
// retried elsewhere; cancellation waits for training to stop so nothing runs on after the workflow.
// The training activity may run on its own task queue (workers on bigger machines).
const trainingActivities = (taskQueue: string | null) =>
  proxyActivities<Activities>({
    startToCloseTimeout: '4 hours',
    heartbeatTimeout: '1 minute',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
    ...(taskQueue !== null ? { taskQueue } : {}),
  });

// MLflow: retried with backoff for as long as a restart takes; every call is idempotent.
const { startPipelineRun, logModelRun, productionBaseline, registerModel, endRun } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

export type ModelStatus = 'pending' | 'training' | 'trained' | 'logged' | 'registered' | 'rejected';

export interface PipelineProgress {
  step: 'validate' | 'prepare_dataset' | 'train' | 'log' | 'gate_and_register' | 'done' | 'failed' | 'cancelled';
  datasetDigest?: string;
  models: Partial<Record<ModelKind, { status: ModelStatus; runId?: string; version?: string; reasons?: string[] }>>;
}

/** `temporal workflow query --name progress`: each step's and each model's state. */
export const progressQuery = defineQuery<PipelineProgress>('progress');

export interface ModelSummary {
  kind: ModelKind;
  registeredModel: string;
  runId: string;
  metrics: { prAuc: number; rocAuc: number; precision: number; recall: number; f1: number; fpr: number; threshold: number };
  trainingSeconds: number;
  backend: string;
  promoted: boolean;
  /** Why it was not promoted (empty when promoted). */
  reasons: string[];
  version?: string;
  stage?: string;
}

export interface TrainingSummary {
  workflowId: string;
  experimentId: string;
  pipelineRunId: string;
  dataset: { digest: string; source: string; trainRows: number; testRows: number };
  targetStage: TrainingPlan['targetStage'];
  models: ModelSummary[];
}

/**
 * The Temporal twin of the DAG `01_training_pipeline`.
 * 1. Check the input and every model's hyperparameters; a bad field fails at once, naming it.
 * 2. Prepare the dataset: generate or load, validate, split, store under its content digest.
 * 3. Train the models in parallel, one activity each, off the event loop, heartbeating progress
 *    (on `trainingTaskQueue` when given).
 * 4. Evaluate each on the test split (inside its training activity).
 * 5. Log to MLflow: a parent run, and per model a child run `register_<model>` with params,
 *    metrics, lineage tags, the model, its metadata and plots.
 * 6. Quality gate per model (floors, and no worse than Production by more than a margin).
 * 7. Register the models that pass as `fraud_detection_<model>`, move them to the target stage
 *    (archiving the previous version there) and set the stage's alias.
 * 8. Return the summary; the parent run ends FINISHED, or FAILED / KILLED with nothing registered.
 */
export async function trainingPipeline(input?: unknown): Promise<TrainingSummary> {
  const progress: PipelineProgress = { step: 'validate', models: {} };
  setHandler(progressQuery, () => progress);
  const plan = parseTrainingInput(input);
  for (const kind of plan.models) progress.models[kind] = { status: 'pending' };
  await validateHyperparameters({ models: plan.models, hyperparameters: plan.hyperparameters }).catch((err: unknown) => {
    // Fail with the input error itself, not "activity failed": the user needs the field.
    throw err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : err;
  });

  progress.step = 'prepare_dataset';
  const dataset = await prepareDataset({ dataset: plan.dataset, split: plan.split });
  progress.datasetDigest = dataset.digest;
  const pipeline = await startPipelineRun({ plan, dataset });
  const { trainModel } = trainingActivities(plan.trainingTaskQueue);

  try {
    progress.step = 'train';
    const results = await Promise.all(
      plan.models.map(async (kind) => {
        progress.models[kind] = { status: 'training' };
        const result = await trainModel({ kind, dataset, hyperparameters: plan.hyperparameters[kind] ?? {}, seed: plan.split.seed });
        progress.models[kind] = { status: 'trained' };
        return result;
      }),
    );

    progress.step = 'log';
    const runs = await Promise.all(
      results.map(async (result) => {
        const run = await logModelRun({ pipeline, result, dataset });
        progress.models[result.kind] = { status: 'logged', runId: run.runId };
        return run;
      }),
    );

    // Registration starts only once every model is trained and logged: a failure before this
    // point leaves the registry untouched.
    progress.step = 'gate_and_register';
    const summaries: ModelSummary[] = [];
    for (const [i, result] of results.entries()) {
      const run = runs[i]!;
      const baseline = await productionBaseline(result.kind);
      const decision = qualityGate({ kind: result.kind, prAuc: result.test.prAuc, recall: result.test.recall, production: baseline }, plan.qualityGate);
      let registered: RegisteredVersion | undefined;
      if (decision.passed) {
        registered = await registerModel({ run, targetStage: plan.targetStage, tags: { dataset_digest: dataset.digest, gate: 'passed' } });
      }
      progress.models[result.kind] = { status: registered ? 'registered' : 'rejected', runId: run.runId, version: registered?.version, reasons: decision.reasons };
      const t = result.test;
      summaries.push({
        kind: result.kind,
        registeredModel: `fraud_detection_${result.kind}`,
        runId: run.runId,
        metrics: { prAuc: t.prAuc, rocAuc: t.rocAuc, precision: t.precision, recall: t.recall, f1: t.f1, fpr: t.fpr, threshold: result.threshold },
        trainingSeconds: result.trainingSeconds,
        backend: result.backend,
        promoted: registered !== undefined,
        reasons: decision.reasons,
        version: registered?.version,
        stage: registered?.stage,
      });
    }

    const summary: TrainingSummary = {
      workflowId: workflowInfo().workflowId,
      experimentId: pipeline.experimentId,
      pipelineRunId: pipeline.runId,
      dataset: { digest: dataset.digest, source: dataset.source, trainRows: dataset.parts.train.rows, testRows: dataset.parts.test.rows },
      targetStage: plan.targetStage,
      models: summaries,
    };
    await endRun({ runId: pipeline.runId, status: 'FINISHED', summary });
    progress.step = 'done';
    return summary;
  } catch (err) {
    const cancelled = isCancellation(err);
    progress.step = cancelled ? 'cancelled' : 'failed';
    // Record the outcome even though the workflow itself is being cancelled.
    await CancellationScope.nonCancellable(() => endRun({ runId: pipeline.runId, status: cancelled ? 'KILLED' : 'FAILED' }));
    throw err;
  }
}
