/**
 * The serving process's live parts: the model-store watcher (champion/canary, hot reload) and the
 * SHAP explainer with its background rows. `scripts/api.ts` starts them with the API.
 */
import type { ExplainFn } from './types';
import type { AppConfig } from '../lib/config';
import { explainModel } from '../lib/explain';
import type { Logger } from '../lib/logger';
import { generateTransactions } from '../lib/ml/data/synthetic';
import { ModelStoreWatcher } from '../lib/model-store';

/** Background rows of the kernel explanations (neural network, isolation forest). */
export const BACKGROUND_ROWS = 100;

export interface ServingRuntime {
  models: ModelStoreWatcher;
  explain: ExplainFn;
  /** Kernel SHAP's reference rows: seeded synthetic transactions shaped like the training data. */
  background: { features: Float32Array; numRows: number };
  stop(): Promise<void>;
}

export async function startServingRuntime(cfg: Pick<AppConfig, 'modelStoreDir'>, logger: Logger, opts: { pollIntervalMs?: number } = {}): Promise<ServingRuntime> {
  const models = new ModelStoreWatcher({ storeDir: cfg.modelStoreDir, logger: logger.child({ module: 'model-store' }), ...opts });
  await models.start();
  // With a 1 % fraud rate, a handful of fraud-like rows are in the reference, as in real traffic samples.
  const sample = generateTransactions({ rows: BACKGROUND_ROWS, seed: 20_240_601, fraudRate: 0.01 });
  return {
    models,
    explain: (model, row, options) => explainModel(model, row, options),
    background: { features: sample.features, numRows: sample.numRows },
    stop: async () => models.stop(),
  };
}
