import { Runtime } from '@temporalio/worker';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { MlflowClient } from '../lib/mlflow';
import { PinoTemporalLogger } from '../lib/temporal-logger';
import { createWorker } from './create-worker';

/** The `fraud-ml` worker process: `npm run worker`, or started by `npm run stack:up` / `npm start`. */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ name: 'worker' });
  Runtime.install({ logger: new PinoTemporalLogger(logger.child({ module: 'temporal' })) });
  const mlflow = new MlflowClient({ trackingUri: cfg.mlflowTrackingUri, logger: logger.child({ module: 'mlflow' }) });
  const { worker, connection } = await createWorker(
    cfg,
    { mlflow, logger, dataDir: cfg.mlDataDir, modelStoreDir: cfg.modelStoreDir, api: { url: cfg.apiUrl, adminToken: cfg.apiAdminToken } }, { identity: process.env.TEMPORAL_WORKER_IDENTITY });
  logger.info({ taskQueue: cfg.taskQueue, temporal: cfg.temporalAddress, mlflow: cfg.mlflowTrackingUri }, 'worker polling');
  try {
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks are done
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
