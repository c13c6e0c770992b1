import { isAbsolute, join, resolve } from 'node:path';

/** The repository root: the folder that holds package.json. */
export const projectRoot = resolve(__dirname, '..');

/**
 * Everything the processes of this project read from the environment, with its default.
 * The README's configuration table lists the same names; keep them in step.
 */
export interface AppConfig {
  /** `TEMPORAL_ADDRESS`, host:port of the Temporal frontend. @default 127.0.0.1:7233 */
  temporalAddress: string;
  /** `TEMPORAL_NAMESPACE`. @default default */
  temporalNamespace: string;
  /** `TEMPORAL_TASK_QUEUE`, where workers poll and workflows are started. @default fraud-ml */
  taskQueue: string;
  /** `TEMPORAL_UI_PORT`, the Web UI port of the local dev server. @default 8233 */
  temporalUiPort: number;
  /** `MLFLOW_TRACKING_URI`, the MLflow server. @default http://127.0.0.1:5001 */
  mlflowTrackingUri: string;
  /** `DATA_DIR`, all local state (servers' databases, artifacts, logs, pid files). @default <repo>/.data */
  dataDir: string;
  /**
   * `ML_DATA_DIR`, dataset splits and trained model files that activities hand each other by
   * reference; a volume shared by all workers when they run on several hosts. @default <DATA_DIR>/ml
   */
  mlDataDir: string;
  /** `VENV_DIR`, the Python virtualenv with mlflow and the temporal CLI. @default <repo>/.venv */
  venvDir: string;
  /**
   * `MODEL_STORE_DIR`, the serving model store (`champion/`, `canary/`, `traffic_routing.json`),
   * shared by the workers that deploy and the API that serves. @default <DATA_DIR>/model-store
   */
  modelStoreDir: string;
  /** `API_URL`, where workers reach the serving API (canary analysis). @default http://127.0.0.1:<API_PORT> */
  apiUrl: string;
  /** `API_PORT`, the serving API's port (0: a free one). @default 8000 */
  apiPort: number;
  /** `API_ADMIN_TOKEN`, the admin token workers use to read the API's deployment status. No default. */
  apiAdminToken: string | undefined;
}

/** Thrown by {@link loadConfig} when an environment variable has a value it cannot use. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > 65535) throw new ConfigError(`${name}=${raw} is not a TCP port (${min}-65535)`);
  return n;
}

function dir(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  if (!raw) return fallback;
  return isAbsolute(raw) ? raw : resolve(projectRoot, raw);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const temporalAddress = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  if (!/^[^:\s]+:\d{1,5}$/.test(temporalAddress)) {
    throw new ConfigError(`TEMPORAL_ADDRESS=${temporalAddress} is not host:port`);
  }
  const mlflowTrackingUri = (env.MLFLOW_TRACKING_URI || 'http://127.0.0.1:5001').replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(mlflowTrackingUri);
  } catch {
    throw new ConfigError(`MLFLOW_TRACKING_URI=${mlflowTrackingUri} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`MLFLOW_TRACKING_URI=${mlflowTrackingUri} must be an http(s) URL of an MLflow server`);
  }
  const dataDir = dir(env, 'DATA_DIR', join(projectRoot, '.data'));
  return {
    temporalAddress,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE || 'fraud-ml',
    temporalUiPort: port(env, 'TEMPORAL_UI_PORT', 8233),
    mlflowTrackingUri,
    dataDir,
    mlDataDir: dir(env, 'ML_DATA_DIR', join(dataDir, 'ml')),
    venvDir: dir(env, 'VENV_DIR', join(projectRoot, '.venv')),
    modelStoreDir: dir(env, 'MODEL_STORE_DIR', join(dataDir, 'model-store')),
    apiUrl: (env.API_URL || `http://127.0.0.1:${port(env, 'API_PORT', 8000, 0)}`).replace(/\/+$/, ''),
    // 0: the API picks a free port (tests).
    apiPort: port(env, 'API_PORT', 8000, 0),
    apiAdminToken: env.API_ADMIN_TOKEN || undefined,
  };
}
