import { ApplicationFailure } from '@temporalio/activity';
import { DatasetError } from '../lib/ml/data/errors';
import { InvalidHyperparameterError, ModelFormatError } from '../lib/ml/errors';
import { MlflowError } from '../lib/mlflow';
import { ModelStoreError } from '../lib/model-store';

/**
 * Turns an error into what Temporal should do with it: bad data, bad hyperparameters, bad model
 * files and
 * permanent MLflow answers (4xx) fail the activity without retry — the same input would fail
 * again; anything else (I/O, a server that is down) is rethrown and retried by the policy.
 */
export function classifyFailure(err: unknown): unknown {
  if (err instanceof DatasetError || err instanceof InvalidHyperparameterError || err instanceof ModelFormatError || err instanceof ModelStoreError) {
    return ApplicationFailure.nonRetryable(err.message, err.name);
  }
  if (err instanceof MlflowError && !err.retryable) return ApplicationFailure.nonRetryable(err.message, err.name);
  return err;
}
