import { join } from 'node:path';
import { loadConfig } from '../../lib/config';
import { MlflowClient } from '../../lib/mlflow';
import { freePort } from '../../lib/stack/net';
import { startService, stopRecord, type ServiceRecord } from '../../lib/stack/processes';
import { mlflowService } from '../../lib/stack/services';

/**
 * An MLflow server for one test file, with its store under `dir`: for tests that move registry
 * stages (other files running at the same time share the global server) or stop the server.
 * `restart()` brings it back on the same port and store.
 */
export async function startOwnMlflow(dir: string) {
  const cfg = loadConfig({ ...process.env, DATA_DIR: dir, MLFLOW_TRACKING_URI: `http://127.0.0.1:${await freePort()}` });
  const spec = mlflowService(cfg);
  const dirs = { runDir: join(dir, 'run'), logDir: join(dir, 'logs') };
  let record: ServiceRecord | undefined = await startService(spec, dirs);
  return {
    uri: cfg.mlflowTrackingUri,
    client: new MlflowClient({ trackingUri: cfg.mlflowTrackingUri }),
    async stop(): Promise<void> {
      const r = record;
      record = undefined;
      if (r) await stopRecord(r);
    },
    async restart(): Promise<void> {
      record ??= await startService(spec, dirs);
    },
  };
}

/** Polls `probe` until it returns a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
