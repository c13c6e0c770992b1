import { join } from 'node:path';
import type { AppConfig } from '../config';
import type { Logger } from '../logger';
import { ServiceStartError } from './errors';
import { readRecord, serviceState, startService, stopService, type ServiceRecord, type StackDirs } from './processes';
import { ensureAdminToken } from './secrets';
import { apiService, mlflowService, temporalService, workerService, type ServiceSpec } from './services';

export function stackDirs(cfg: AppConfig): StackDirs {
  return { runDir: join(cfg.dataDir, 'run'), logDir: join(cfg.dataDir, 'logs') };
}

/** The local stack in start order; the worker keeps the identity it was started with, so it can be probed later. */
export function stackServices(cfg: AppConfig): ServiceSpec[] {
  const dirs = stackDirs(cfg);
  const { token } = ensureAdminToken(cfg);
  return [
    temporalService(cfg, { dbFile: join(cfg.dataDir, 'temporal.db') }),
    mlflowService(cfg),
    apiService(cfg, token),
    workerService(cfg, readRecord(dirs, 'worker')?.identity, token),
  ];
}

export interface UpResult {
  spec: ServiceSpec;
  /** `started` by this call (and so to be stopped by it in foreground mode), or already `running`. */
  outcome: 'started' | 'running' | 'external';
  record?: ServiceRecord;
}

/**
 * Starts every service of the stack that is not already running, one after the other, each waited
 * for until healthy. Services found running are left as they are.
 */
export async function stackUp(
  cfg: AppConfig,
  logger: Logger,
  opts: { echo?: (spec: ServiceSpec) => boolean } = {},
): Promise<UpResult[]> {
  const dirs = stackDirs(cfg);
  const results: UpResult[] = [];
  for (const spec of stackServices(cfg)) {
    const state = await serviceState(spec, dirs);
    if (state.state === 'external') {
      logger.info(`${spec.title}: already answering (not started by this stack)`);
      results.push({ spec, outcome: 'external' });
      continue;
    }
    if (state.state === 'running') {
      if (!state.healthy) {
        throw new ServiceStartError(spec.title, `pid ${state.record.pid} runs but is not healthy; see its log or run \`npm run stack:down\` first`, state.record.logFile);
      }
      logger.info(`${spec.title}: already running (pid ${state.record.pid})`);
      results.push({ spec, outcome: 'running', record: state.record });
      continue;
    }
    if (!spec.local) {
      throw new ServiceStartError(spec.title, `nothing answers at ${Object.values(spec.urls).join(', ')}, and that address is not on this machine, so the stack cannot start it there`);
    }
    logger.info(`${spec.title}: starting…`);
    const started = Date.now();
    const identity = spec.env?.TEMPORAL_WORKER_IDENTITY;
    const record = await startService(spec, dirs, {
      echo: opts.echo?.(spec),
      identity,
      onProgress: (m) => logger.info(m),
    });
    logger.info(`${spec.title}: healthy in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${record.pid})`);
    results.push({ spec, outcome: 'started', record });
  }
  return results;
}

/** Stops the services this stack started (worker first), whichever command started them. */
export async function stackDown(cfg: AppConfig, logger: Logger, only?: ReadonlySet<string>): Promise<void> {
  const dirs = stackDirs(cfg);
  for (const spec of [...stackServices(cfg)].reverse()) {
    if (only && !only.has(spec.name)) continue;
    if (await stopService(spec.name, dirs)) logger.info(`${spec.title}: stopped`);
  }
}
