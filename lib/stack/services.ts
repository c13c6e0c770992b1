import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { AppConfig } from '../config';
import { projectRoot } from '../config';
import { probeHttp, probeMlflow, probeTemporal } from './health';
import { isLoopback, splitHostPort } from './net';

/** A port a service binds, checked before it starts so a clash is an error that names it, not a hang. */
export interface ServicePort {
  host: string;
  port: number;
  /** How to move the service elsewhere, shown when the port is taken. */
  hint: string;
}

/** One process of the local stack: how to run it, which ports it binds and how to tell it is healthy. */
export interface ServiceSpec {
  name: 'temporal' | 'mlflow' | 'api' | 'worker';
  title: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** False when the configured address is not on this machine: never started here, only probed. */
  local: boolean;
  ports: ServicePort[];
  urls: Record<string, string>;
  startTimeoutMs: number;
  probe(): Promise<boolean>;
}

const bin = (cfg: AppConfig, name: string) => join(cfg.venvDir, 'bin', name);

export interface TemporalServiceOptions {
  /** SQLite file so workflows survive a restart; `undefined` keeps state in memory (tests). */
  dbFile?: string;
  /** Serve the Web UI. @default true */
  ui?: boolean;
}

export function temporalService(cfg: AppConfig, opts: TemporalServiceOptions = {}): ServiceSpec {
  const { host, port } = splitHostPort(cfg.temporalAddress);
  const ui = opts.ui ?? true;
  const args = ['server', 'start-dev', '--ip', host, '--port', String(port), '--log-level', 'warn'];
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (ui) args.push('--ui-port', String(cfg.temporalUiPort));
  else args.push('--headless');
  if (cfg.temporalNamespace !== 'default') args.push('--namespace', cfg.temporalNamespace);
  const ports: ServicePort[] = [{ host, port, hint: 'stop it, or set TEMPORAL_ADDRESS to another host:port' }];
  const urls: Record<string, string> = { gRPC: cfg.temporalAddress };
  if (ui) {
    ports.push({ host, port: cfg.temporalUiPort, hint: 'stop it, or set TEMPORAL_UI_PORT to another port' });
    urls['Web UI'] = `http://${host === '127.0.0.1' ? 'localhost' : host}:${cfg.temporalUiPort}`;
  }
  return {
    name: 'temporal',
    title: 'Temporal dev server',
    command: bin(cfg, 'temporal'),
    args,
    local: isLoopback(host),
    ports,
    urls,
    startTimeoutMs: 60_000,
    probe: async () =>
      (await probeTemporal(cfg.temporalAddress)) && (!ui || (await probeHttp(`http://${host}:${cfg.temporalUiPort}/`))),
  };
}

export function mlflowService(cfg: AppConfig): ServiceSpec {
  const url = new URL(cfg.mlflowTrackingUri);
  const host = url.hostname;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const mlflowDir = join(cfg.dataDir, 'mlflow');
  return {
    name: 'mlflow',
    title: 'MLflow tracking server',
    command: bin(cfg, 'mlflow'),
    args: [
      'server',
      '--backend-store-uri', `sqlite:///${join(mlflowDir, 'mlflow.db')}`,
      '--artifacts-destination', join(mlflowDir, 'artifacts'),
      '--serve-artifacts',
      '--default-artifact-root', 'mlflow-artifacts:/',
      '--host', host,
      '--port', String(port),
      // SQLite takes one writer at a time: more workers only add lock contention.
      '--workers', '1',
    ],
    // MLflow 3's job runner (GenAI evaluation jobs) spawns seven huey processes we never use.
    env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
    local: isLoopback(host) && url.protocol === 'http:',
    ports: [{ host, port, hint: 'stop it, or set MLFLOW_TRACKING_URI to another port' }],
    urls: { UI: cfg.mlflowTrackingUri },
    startTimeoutMs: 120_000,
    probe: async () => (await probeMlflow(cfg.mlflowTrackingUri)) !== undefined,
  };
}

/** True when a worker with this identity polls the task queue. */
async function workerPolls(cfg: AppConfig, identity: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: cfg.temporalAddress, connectTimeout: 2000 });
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    const res = await client.workflowService.describeTaskQueue({
      namespace: cfg.temporalNamespace,
      taskQueue: { name: cfg.taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    return (res.pollers ?? []).some((p) => p.identity === identity);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** The serving API (scripts/api.ts) on loopback, serving MODEL_STORE_DIR; `adminToken` is its admin token. */
export function apiService(cfg: AppConfig, adminToken: string): ServiceSpec {
  return {
    name: 'api',
    title: 'Serving API',
    command: process.execPath,
    args: ['--import', 'tsx', join(projectRoot, 'scripts', 'api.ts')],
    env: { API_TOKEN_ADMIN: adminToken, API_HOST: '127.0.0.1', API_PORT: String(cfg.apiPort), MODEL_STORE_DIR: cfg.modelStoreDir },
    local: true,
    ports: [{ host: '127.0.0.1', port: cfg.apiPort, hint: 'stop it, or set API_PORT to another port' }],
    urls: { API: `http://127.0.0.1:${cfg.apiPort}/docs` },
    startTimeoutMs: 90_000,
    probe: () => probeHttp(`http://127.0.0.1:${cfg.apiPort}/health`),
  };
}

export function workerService(cfg: AppConfig, identity = `fraud-ml-worker-${randomUUID().slice(0, 8)}`, adminToken?: string): ServiceSpec {
  return {
    name: 'worker',
    title: `Worker (task queue ${cfg.taskQueue})`,
    command: process.execPath,
    args: ['--import', 'tsx', join(projectRoot, 'workers', 'main.ts')],
    env: { TEMPORAL_WORKER_IDENTITY: identity, ...(adminToken ? { API_ADMIN_TOKEN: adminToken } : {}) },
    local: true,
    ports: [],
    urls: {},
    startTimeoutMs: 90_000,
    probe: () => workerPolls(cfg, identity),
  };
}
