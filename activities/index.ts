import type { Logger } from '../lib/logger';
import type { MlflowClient } from '../lib/mlflow';
import { createSmokeActivities } from './smoke';

/** Everything an activity may touch, built once per worker process and injected. */
export interface ActivityDeps {
  mlflow: MlflowClient;
  logger: Logger;
}

/** All activities the `fraud-ml` workers register. Workflows type their proxies with `ReturnType<typeof createActivities>`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSmokeActivities({ mlflow: deps.mlflow, logger: deps.logger.child({ module: 'smoke' }) }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
