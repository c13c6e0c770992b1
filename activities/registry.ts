import { activityInfo } from '@temporalio/activity';
import type { Logger } from '../lib/logger';
import type { ModelKind } from '../lib/ml/types';
import type { MlflowClient } from '../lib/mlflow';
import type { TargetStage } from '../workflows/training-input';
import { classifyFailure } from './errors';
import { registeredModelName, type ModelRunRef } from './mlflow-logging';

export interface RegistryDeps {
  mlflow: MlflowClient;
  logger: Logger;
}

export interface ProductionBaseline {
  version: string;
  runId: string;
  prAuc: number;
}

export interface RegisteredVersion {
  name: string;
  version: string;
  stage: TargetStage;
  alias: string;
}

export function createRegistryActivities({ mlflow, logger }: RegistryDeps) {
  return {
    /** The current Production version of a model and its test PR-AUC, for the quality gate; `null` when there is none. */
    async productionBaseline(kind: ModelKind): Promise<ProductionBaseline | null> {
      try {
        const name = registeredModelName(kind);
        const versions = await mlflow.registry.getLatestVersions(name, ['Production']).catch((e: { errorCode?: string }) => {
          if (e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return [];
          throw e;
        });
        const current = versions[0];
        if (!current?.run_id) return null;
        const run = await mlflow.tracking.getRun(current.run_id);
        const prAuc = run.data.metrics.find((m) => m.key === 'test_pr_auc')?.value;
        return prAuc === undefined ? null : { version: current.version, runId: current.run_id, prAuc };
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /**
     * Registers the run's `model/` as a new version of `fraud_detection_<model>` (once per workflow
     * run, even when retried), moves it to the target stage archiving the version there before,
     * and points the stage's alias (`staging` / `production`) at it.
     */
    async registerModel(input: { run: ModelRunRef; targetStage: TargetStage; tags: Record<string, string> }): Promise<RegisteredVersion> {
      const { run, targetStage } = input;
      const name = registeredModelName(run.kind);
      const info = activityInfo();
      try {
        await mlflow.registry.getOrCreateRegisteredModel(name, { description: `Fraud detection, ${run.kind.replace('_', ' ')}, trained by the trainingPipeline workflow` });
        const version = await mlflow.registry.createModelVersion({
          name,
          source: `${run.artifactUri}/model`,
          runId: run.runId,
          tags: { ...input.tags, workflow_id: info.workflowExecution?.workflowId ?? '', workflow_run_id: info.workflowExecution?.runId ?? '' },
          idempotencyKey: `${info.workflowExecution?.workflowId ?? ''}/${info.workflowExecution?.runId ?? ''}/${run.kind}/register`,
        });
        await mlflow.registry.transitionModelVersionStage(name, version.version, targetStage, { archiveExistingVersions: true });
        const alias = targetStage.toLowerCase();
        await mlflow.registry.setRegisteredModelAlias(name, alias, version.version);
        logger.info({ modelName: name, modelVersion: version.version, stage: targetStage }, 'model registered');
        return { name, version: version.version, stage: targetStage, alias };
      } catch (err) {
        throw classifyFailure(err);
      }
    },
  };
}
