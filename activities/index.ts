import type { Logger } from '../lib/logger';
import type { MlflowClient } from '../lib/mlflow';
import { createSmokeActivities } from './smoke';
import { createTrainingActivities } from './training';

/** Everything an activity may touch, built once per worker process and injected. */
export interface ActivityDeps {
  mlflow: MlflowClient;
  logger: Logger;
  /** Splits and trained models (a shared volume when workers run on several hosts). */
  dataDir: string;
}

/** All activities the `fraud-ml` workers register. Workflows type their proxies with `ReturnType<typeof createActivities>`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSmokeActivities({ mlflow: deps.mlflow, logger: deps.logger.child({ module: 'smoke' }) }),
    ...createTrainingActivities({ dataDir: deps.dataDir, logger: deps.logger.child({ module: 'training' }) }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
