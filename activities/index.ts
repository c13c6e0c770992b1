import { execFileSync } from 'node:child_process';
import packageJson from '../package.json';
import { projectRoot } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { MlflowClient } from '../lib/mlflow';
import { join } from 'node:path';
import { createDeploymentActivities } from './deployment';
import { createMlflowLoggingActivities } from './mlflow-logging';
import { createRegistryActivities } from './registry';
import { createSmokeActivities } from './smoke';
import { createTrainingActivities } from './training';

/** Everything an activity may touch, built once per worker process and injected. */
export interface ActivityDeps {
  mlflow: MlflowClient;
  logger: Logger;
  /** Splits and trained models (a shared volume when workers run on several hosts). */
  dataDir: string;
  /** Recorded with every MLflow run. @default the package version */
  codeVersion?: string;
  /** The serving model store the deployment activities write. @default <dataDir>/model-store */
  modelStoreDir?: string;
  /** The serving API the canary is watched through. @default http://127.0.0.1:8000, no token */
  api?: { url: string; adminToken: string | undefined };
  /** Whether a workflow is still running (stale canary locks); the worker passes one built on its connection. */
  isWorkflowRunning?: (workflowId: string) => Promise<boolean>;
}

/** The git commit the worker runs, when it runs from a checkout; else the package version. */
function codeVersion(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return `${packageJson.name}@${packageJson.version}`;
  }
}

/** All activities the `fraud-ml` workers register. Workflows type their proxies with `ReturnType<typeof createActivities>`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSmokeActivities({ mlflow: deps.mlflow, logger: deps.logger.child({ module: 'smoke' }) }),
    ...createTrainingActivities({ dataDir: deps.dataDir, logger: deps.logger.child({ module: 'training' }) }),
    ...createMlflowLoggingActivities({ mlflow: deps.mlflow, logger: deps.logger.child({ module: 'mlflow-logging' }), codeVersion: deps.codeVersion ?? codeVersion() }),
    ...createRegistryActivities({ mlflow: deps.mlflow, logger: deps.logger.child({ module: 'registry' }) }),
    ...createDeploymentActivities({
      mlflow: deps.mlflow,
      logger: deps.logger.child({ module: 'deployment' }),
      modelStoreDir: deps.modelStoreDir ?? join(deps.dataDir, 'model-store'),
      api: deps.api ?? { url: 'http://127.0.0.1:8000', adminToken: undefined },
      isWorkflowRunning: deps.isWorkflowRunning,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
