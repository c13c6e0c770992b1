/**
 * Runs the serving API on a port: reads `API_HOST`/`API_PORT`, loads the tokens, builds the app and
 * listens. The caller supplies the live models and the explainer (scripts/api.ts wires the model
 * store's watcher and the SHAP helper).
 */
import { loadConfig, ConfigError } from '../lib/config';
import type { Logger } from '../lib/logger';
import { buildApp, type ApiApp } from './app';
import { loadAuthConfig } from './auth-config';
import type { AppDeps } from './types';

/** Options of {@link startApi}: `buildApp`'s dependencies, with the auth configuration optional. */
export interface StartApiOptions extends Omit<AppDeps, 'auth' | 'processMetrics'> {
  /** Tokens; loaded with `loadAuthConfig(env)` when absent. */
  auth?: AppDeps['auth'];
  /** Environment read for API_HOST, API_PORT, DATA_DIR and the token variables. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default env.API_HOST or 127.0.0.1 (loopback: expose it deliberately, behind TLS) */
  host?: string;
  /** 0 picks a free port. @default env.API_PORT or 8000 */
  port?: number;
  /** Export process metrics (CPU, memory, event loop) on /metrics. @default true */
  processMetrics?: boolean;
}

export interface RunningApi {
  app: ApiApp;
  /** e.g. `http://127.0.0.1:8000`. */
  url: string;
  close(): Promise<void>;
}

function apiPort(env: NodeJS.ProcessEnv): number {
  const raw = env.API_PORT;
  if (raw === undefined || raw === '') return 8000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`API_PORT=${raw} is not a TCP port (1-65535)`);
  return n;
}

export async function startApi(options: StartApiOptions): Promise<RunningApi> {
  const env = options.env ?? process.env;
  const logger: Logger = options.logger;
  const host = options.host ?? (env.API_HOST || '127.0.0.1');
  const port = options.port ?? apiPort(env);
  const auth = options.auth ?? (await loadAuthConfig(env, { dataDir: loadConfig(env).dataDir, logger: logger.child({ module: 'api-auth' }) }));
  const app = await buildApp({ ...options, auth, processMetrics: options.processMetrics ?? true });
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  logger.info({ url, docs: `${url}/docs` }, 'serving API listening');
  return { app, url, close: () => app.close() };
}
