import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config';
import { freePort } from '../../lib/stack/net';
import { startService, type ServiceRecord } from '../../lib/stack/processes';
import { mlflowService, temporalService } from '../../lib/stack/services';

declare global {
  var __testStack: { dir: string; records: ServiceRecord[]; reaperPid?: number } | undefined;
}

/**
 * Starts one real Temporal dev server and one real MLflow server for the whole test run, on free
 * ports so a running `npm run stack:up` is not disturbed, and hands their addresses to the tests
 * through the same environment variables the application reads.
 */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fraud-ml-test-'));
  const [temporalPort, mlflowPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_NAMESPACE: 'default',
    MLFLOW_TRACKING_URI: `http://127.0.0.1:${mlflowPort}`,
    DATA_DIR: dir,
  };
  const cfg = loadConfig(env);
  const dirs = { runDir: join(dir, 'run'), logDir: join(dir, 'logs') };
  const started = Date.now();
  const records = await Promise.all([
    startService(temporalService(cfg, { ui: false }), dirs),
    startService(mlflowService(cfg), dirs),
  ]);
  const reaper = spawn(process.execPath, [join(__dirname, 'orphan-reaper.mjs'), String(process.pid), dir, ...records.map((r) => String(r.pid))], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  globalThis.__testStack = { dir, records, reaperPid: reaper.pid };
  // Test files run in worker processes forked after this point: they inherit these.
  process.env.TEMPORAL_ADDRESS = env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_NAMESPACE = env.TEMPORAL_NAMESPACE;
  process.env.MLFLOW_TRACKING_URI = env.MLFLOW_TRACKING_URI;
  process.env.TEST_STACK_DIR = dir;
  process.stdout.write(
    `\n[test stack] Temporal ${env.TEMPORAL_ADDRESS}, MLflow ${env.MLFLOW_TRACKING_URI}, up in ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})\n`,
  );
}
