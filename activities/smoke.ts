import { activityInfo } from '@temporalio/activity';
import type { Logger } from '../lib/logger';

/** What the smoke activity needs: a way to ask the MLflow server who it is. */
export interface SmokeDeps {
  mlflow: { trackingUri: string; serverVersion(): Promise<string> };
  logger: Logger;
}

export interface StackReport {
  mlflowTrackingUri: string;
  mlflowVersion: string;
  workerIdentity: string;
  activityAttempt: number;
}

export function createSmokeActivities({ mlflow, logger }: SmokeDeps) {
  return {
    /** Reaches the MLflow server from the worker: proves worker, Temporal and MLflow are wired together. */
    async reportStack(): Promise<StackReport> {
      const info = activityInfo();
      const mlflowVersion = await mlflow.serverVersion();
      logger.info({ workflowId: info.workflowExecution?.workflowId, mlflowVersion }, 'stack smoke check');
      return {
        mlflowTrackingUri: mlflow.trackingUri,
        mlflowVersion,
        workerIdentity: process.env.TEMPORAL_WORKER_IDENTITY ?? `${process.pid}`,
        activityAttempt: info.attempt,
      };
    },
  };
}
