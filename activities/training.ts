import { join } from 'node:path';
import { activityInfo, ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { writeSplit, type DatasetRef } from '../lib/datasets/store';
import { loadCsv } from '../lib/ml/data/csv';
import { stratifiedSplit } from '../lib/ml/data/split';
import { generateTransactions } from '../lib/ml/data/synthetic';
import { TrainingCancelledError } from '../lib/ml/errors';
import { withIsolationForestDefaults } from '../lib/ml/isolation-forest';
import { withNeuralNetworkDefaults } from '../lib/ml/neural-network';
import { withDefaults as withRandomForestDefaults } from '../lib/ml/random-forest';
import { withDefaults as withXGBoostDefaults } from '../lib/ml/xgboost';
import { runTrainingJob, type TrainingJobResult } from '../lib/ml/training-job';
import type { ModelKind, TrainProgress } from '../lib/ml/types';
import type { Logger } from '../lib/logger';
import type { TrainingPlan } from '../workflows/training-input';
import { classifyFailure } from './errors';

export interface TrainingActivityDeps {
  /** Where splits and trained models are written: a shared volume when workers run on several hosts. */
  dataDir: string;
  logger: Logger;
}

/** What a training activity heartbeats; the Temporal UI shows it on the pending activity. */
export interface TrainingHeartbeat {
  unit: TrainProgress['unit'] | 'starting';
  done: number;
  total: number;
  elapsedSeconds: number;
  /** Linear estimate from the pace so far. */
  estimatedSecondsLeft?: number;
  metrics?: Record<string, number>;
}

export interface TrainModelInput {
  kind: ModelKind;
  dataset: DatasetRef;
  hyperparameters: Record<string, unknown>;
  seed: number;
}

/** Each trainer's own option check (throws `InvalidHyperparameterError` naming the option). */
const HYPERPARAMETER_CHECKS: Record<ModelKind, (overrides: Record<string, unknown>) => unknown> = {
  xgboost: (o) => withXGBoostDefaults(o),
  random_forest: (o) => withRandomForestDefaults(o),
  neural_network: (o) => withNeuralNetworkDefaults(o),
  isolation_forest: (o) => withIsolationForestDefaults(o),
};

function describeSource(dataset: TrainingPlan['dataset']): string {
  return dataset.source === 'csv'
    ? `csv:${dataset.path}#label=${dataset.labelColumn}`
    : `synthetic(rows=${dataset.rows},seed=${dataset.seed},fraudRate=${dataset.fraudRate})`;
}

export function createTrainingActivities({ dataDir, logger }: TrainingActivityDeps) {
  return {
    async validateHyperparameters(input: Pick<TrainingPlan, 'models' | 'hyperparameters'>): Promise<void> {
      validateHyperparameters(input);
    },

    /**
     * Builds the dataset (generated or loaded from CSV, validated), splits it and stores the split
     * under its content digest. Returns a reference: the data never goes through Temporal.
     */
    async prepareDataset(input: Pick<TrainingPlan, 'dataset' | 'split'>): Promise<DatasetRef> {
      try {
        const { dataset: spec, split } = input;
        const dataset =
          spec.source === 'csv'
            ? await loadCsv(spec.path, { labelColumn: spec.labelColumn })
            : generateTransactions({ rows: spec.rows, seed: spec.seed, fraudRate: spec.fraudRate });
        heartbeat();
        const ref = await writeSplit(dataDir, stratifiedSplit(dataset, split), describeSource(spec));
        logger.info({ digest: ref.digest, rows: dataset.numRows, source: ref.source }, 'dataset prepared');
        return ref;
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /**
     * Trains and evaluates one model in a worker thread, heartbeating its progress. A retried
     * attempt starts clean and overwrites the previous attempt's file atomically; cancellation
     * stops training at its next round/tree/epoch.
     */
    async trainModel(input: TrainModelInput): Promise<TrainingJobResult> {
      const ctx = Context.current();
      const info = activityInfo();
      const runId = info.workflowExecution?.runId ?? 'standalone';
      const outFile = join(dataDir, 'models', runId, `${input.kind}.json`);
      const started = Date.now();
      let last: TrainingHeartbeat = { unit: 'starting', done: 0, total: 0, elapsedSeconds: 0 };
      const beat = () => heartbeat({ ...last, elapsedSeconds: (Date.now() - started) / 1000 });
      // Beat even while no progress comes (loading data, a forest's single engine call), so the
      // heartbeat timeout only catches a worker that is really gone.
      const timer = setInterval(beat, 5_000);
      beat();
      try {
        const result = await runTrainingJob(
          { kind: input.kind, datasetDir: input.dataset.dir, hyperparameters: input.hyperparameters, seed: input.seed, outFile },
          {
            signal: ctx.cancellationSignal,
            onProgress: (p) => {
              const rate = p.done > 0 ? p.elapsedSeconds / p.done : undefined;
              last = {
                unit: p.unit,
                done: p.done,
                total: p.total,
                elapsedSeconds: p.elapsedSeconds,
                estimatedSecondsLeft: rate !== undefined ? Math.round(rate * (p.total - p.done)) : undefined,
                metrics: p.metrics,
              };
              beat();
            },
          },
        );
        logger.info({ kind: input.kind, seconds: result.trainingSeconds, prAuc: result.test.prAuc, attempt: info.attempt }, 'model trained');
        return result;
      } catch (err) {
        if (err instanceof TrainingCancelledError && ctx.cancellationSignal.aborted) {
          // A worker shutting down (deploy, Ctrl-C) is not the user's cancel: fail this attempt
          // retryably so another worker trains the model; only Temporal's own cancel request is
          // reported as a cancellation.
          if (ctx.cancellationDetails?.workerShutdown) {
            throw ApplicationFailure.retryable(`training of ${input.kind} was interrupted by a worker shutdown; it will be retried`, 'WorkerShutdown');
          }
          throw ctx.cancellationSignal.reason;
        }
        throw classifyFailure(err);
      } finally {
        clearInterval(timer);
      }
    },
  };
}

/**
 * Checks every model's hyperparameter overrides against the trainer's own rules, before any data is
 * made or anything is logged: a bad value fails the workflow at once, naming the field.
 */
export function validateHyperparameters(input: Pick<TrainingPlan, 'models' | 'hyperparameters'>): void {
  for (const kind of input.models) {
    const overrides = input.hyperparameters[kind] ?? {};
    try {
      HYPERPARAMETER_CHECKS[kind](overrides);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw ApplicationFailure.nonRetryable(`invalid trainingPipeline input: hyperparameters.${kind}: ${message}`, 'InvalidWorkflowInput', { field: `hyperparameters.${kind}` });
    }
  }
}
