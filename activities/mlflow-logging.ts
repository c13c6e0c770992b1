import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { activityInfo } from '@temporalio/activity';
import { readSplit, type DatasetRef } from '../lib/datasets/store';
import type { Logger } from '../lib/logger';
import type { TrainingJobResult } from '../lib/ml/training-job';
import { subsetRows } from '../lib/ml/data/split';
import { mlflowModelFiles } from '../lib/packaging/mlflow-model';
import { modelRunName } from '../lib/model-names';
import type { ModelKind, SavedModel } from '../lib/ml/types';
import type { MlflowClient } from '../lib/mlflow';
import { confusionMatrixPng, featureImportancePng, precisionRecallPng, rocCurvePng } from '../lib/plots/evaluation';
import type { TrainingPlan } from '../workflows/training-input';
import { classifyFailure } from './errors';

export interface MlflowLoggingDeps {
  mlflow: MlflowClient;
  logger: Logger;
  /** Recorded as the `code_version` tag of every run. */
  codeVersion: string;
}

export interface PipelineRunRef {
  experimentId: string;
  runId: string;
}

export interface ModelRunRef {
  kind: ModelKind;
  runId: string;
  /** `mlflow-artifacts:/…/artifacts`; the model is under `<artifactUri>/model`. */
  artifactUri: string;
}

export interface LogModelInput {
  pipeline: PipelineRunRef;
  result: TrainingJobResult;
  dataset: DatasetRef;
}

export { registeredModelName } from '../lib/model-names';

function lineageTags(dataset: DatasetRef, codeVersion: string): Record<string, string> {
  const info = activityInfo();
  return {
    workflow_id: info.workflowExecution?.workflowId ?? '',
    workflow_run_id: info.workflowExecution?.runId ?? '',
    dataset_digest: dataset.digest,
    dataset_source: dataset.source,
    code_version: codeVersion,
  };
}

/** The idempotency key of a run: one per workflow run and step, so a retried activity finds the run it created. */
function runKey(step: string): string {
  const info = activityInfo();
  return `${info.workflowExecution?.workflowId ?? 'standalone'}/${info.workflowExecution?.runId ?? randomUUID()}/${step}`;
}

export function createMlflowLoggingActivities({ mlflow, logger, codeVersion }: MlflowLoggingDeps) {
  return {
    /** Gets or creates the experiment and the pipeline's parent run (the same run on retry). */
    async startPipelineRun(input: { plan: TrainingPlan; dataset: DatasetRef }): Promise<PipelineRunRef> {
      try {
        const experiment = await mlflow.tracking.getOrCreateExperiment(input.plan.experimentName);
        const run = await mlflow.tracking.createRun({
          experimentId: experiment.experiment_id,
          runName: `training_pipeline_${activityInfo().workflowExecution?.workflowId ?? ''}`,
          tags: { ...lineageTags(input.dataset, codeVersion), 'mlflow.source.type': 'JOB', 'mlflow.source.name': 'trainingPipeline' },
          idempotencyKey: runKey('pipeline'),
        });
        await mlflow.tracking.logBatch(run.info.run_id, {
          params: {
            models: input.plan.models.join(','),
            dataset_source: input.dataset.source,
            split: `${input.plan.split.train}/${input.plan.split.validation}/${input.plan.split.test}`,
            split_seed: input.plan.split.seed,
            target_stage: input.plan.targetStage,
            gate_min_pr_auc: input.plan.qualityGate.minPrAuc,
            gate_min_recall: input.plan.qualityGate.minRecall,
            gate_max_pr_auc_drop: input.plan.qualityGate.maxPrAucDrop,
            train_rows: input.dataset.parts.train.rows,
            test_rows: input.dataset.parts.test.rows,
          },
        });
        return { experimentId: experiment.experiment_id, runId: run.info.run_id };
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /**
     * One child run `register_<model>` with params, metrics, lineage tags and artifacts: `model/`
     * (an MLflow model with the onnx, python_function and TypeScript flavors, see
     * lib/packaging/mlflow-model.ts), `<model>_metadata.json` and PNG plots. Re-running it after a retry
     * reuses the same run and overwrites the same artifacts.
     */
    async logModelRun(input: LogModelInput): Promise<ModelRunRef> {
      const { result, dataset, pipeline } = input;
      const kind = result.kind;
      try {
        const run = await mlflow.tracking.createRun({
          experimentId: pipeline.experimentId,
          runName: modelRunName(kind),
          parentRunId: pipeline.runId,
          tags: { ...lineageTags(dataset, codeVersion), model_kind: kind, backend: result.backend },
          idempotencyKey: runKey(kind),
        });
        const runId = run.info.run_id;
        const t = result.test;
        await mlflow.tracking.logBatch(runId, {
          params: { ...Object.fromEntries(Object.entries(result.hyperparameters).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean)])), backend: result.backend, model_kind: kind },
          metrics: [
            ['test_pr_auc', t.prAuc],
            ['test_roc_auc', t.rocAuc],
            ['test_precision', t.precision],
            ['test_recall', t.recall],
            ['test_f1', t.f1],
            ['test_f2', t.f2],
            ['test_fpr', t.fpr],
            ['test_tp', t.confusion.tp],
            ['test_fp', t.confusion.fp],
            ['test_tn', t.confusion.tn],
            ['test_fn', t.confusion.fn],
            ['threshold', result.threshold],
            ['validation_pr_auc', result.validationPrAuc],
            ['training_seconds', result.trainingSeconds],
          ].map(([key, value]) => ({ key: key as string, value: value as number })),
        });

        const modelJson = await readFile(result.outFile);
        const test = (await readSplit(dataset)).test;
        const files = mlflowModelFiles({
          saved: JSON.parse(modelJson.toString('utf8')) as SavedModel,
          modelJson,
          runId,
          threshold: result.threshold,
          example: subsetRows(test, Uint32Array.from({ length: Math.min(5, test.numRows) }, (_, i) => i)),
          mlflowVersion: await mlflow.serverVersion(),
        });
        // MLmodel last: a model directory with an MLmodel is complete.
        for (const [name, data] of files) if (name !== 'MLmodel') await mlflow.artifacts.logArtifactBytes(runId, `model/${name}`, data);
        await mlflow.artifacts.logArtifactBytes(runId, 'model/MLmodel', files.get('MLmodel')!);
        const metadata = {
          model_type: kind,
          backend: result.backend,
          metrics: t,
          validation_pr_auc: result.validationPrAuc,
          threshold: result.threshold,
          feature_names: dataset.featureNames,
          preprocessing: 'inside model/model.json (fitted on the training split only)',
          hyperparameters: result.hyperparameters,
          training_seconds: result.trainingSeconds,
          dataset: { digest: dataset.digest, source: dataset.source, parts: dataset.parts },
        };
        await mlflow.artifacts.logArtifactBytes(runId, `${kind}_metadata.json`, JSON.stringify(metadata, null, 2));
        const roc = result.curves.roc;
        const pr = result.curves.precisionRecall;
        await mlflow.artifacts.logArtifactBytes(runId, 'plots/roc_curve.png', rocCurvePng({ x: roc.fpr, y: roc.tpr }, t.rocAuc, kind));
        await mlflow.artifacts.logArtifactBytes(runId, 'plots/precision_recall_curve.png', precisionRecallPng({ x: pr.recall, y: pr.precision }, t.prAuc, t.positives / t.rows, kind));
        await mlflow.artifacts.logArtifactBytes(runId, 'plots/confusion_matrix.png', confusionMatrixPng(t.confusion, result.threshold, kind));
        if (result.featureImportance?.length) {
          const fi = result.featureImportance;
          await mlflow.artifacts.logArtifactBytes(runId, 'plots/feature_importance.png', featureImportancePng(fi.map((f) => f.feature), fi.map((f) => f.importance), kind));
        }
        await mlflow.tracking.endRun(runId, 'FINISHED');
        logger.info({ kind, runId }, 'model run logged');
        return { kind, runId, artifactUri: run.info.artifact_uri };
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /** Ends a run (the pipeline's, or a model's when the pipeline is cancelled or fails). */
    async endRun(input: { runId: string; status: 'FINISHED' | 'FAILED' | 'KILLED'; summary?: unknown }): Promise<void> {
      try {
        if (input.summary !== undefined) await mlflow.artifacts.logArtifactBytes(input.runId, 'pipeline_summary.json', JSON.stringify(input.summary, null, 2));
        await mlflow.tracking.endRun(input.runId, input.status);
      } catch (err) {
        throw classifyFailure(err);
      }
    },
  };
}
