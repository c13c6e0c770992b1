/**
 * The local stack: Temporal dev server, MLflow server, the serving API and the worker, all state under .data/.
 *   up      start what is not running, in the background; wait until healthy; print the URLs
 *   down    stop what the stack started; no process is left behind
 *   status  what runs, where, and whether it is healthy
 *   start   `npm start`: the stack in the foreground plus the main job (trainingPipeline on the default
 *           synthetic data, then canaryDeployment of its models); Ctrl-C stops what it started.
 *           `--once`: stop after the main job, exit code = its outcome; `--input JSON`: the
 *           pipeline's input instead of `{}`; `--deploy-input JSON`: the deployment's input
 * `up` and `start` also create or update the nightly-training schedule.
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../lib/config';
import { NIGHTLY_SCHEDULE_ID, ensureNightlySchedule } from '../lib/schedule';
import { createLogger, type Logger } from '../lib/logger';
import { serviceState } from '../lib/stack/processes';
import { ensureAdminToken } from '../lib/stack/secrets';
import { stackDirs, stackDown, stackServices, stackUp, type UpResult } from '../lib/stack/stack';
import { runMainJob } from './main-job';

function printUrls(cfg: AppConfig, results: { spec: UpResult['spec'] }[]): void {
  console.log('\nLocal stack:');
  for (const { spec } of results) {
    for (const [what, url] of Object.entries(spec.urls)) console.log(`  ${spec.title.padEnd(24)} ${what.padEnd(7)} ${url}`);
  }
  console.log(`  ${'Worker'.padEnd(24)} queue   ${cfg.taskQueue}`);
  const admin = ensureAdminToken(cfg);
  console.log(`  ${'API admin token'.padEnd(24)}         ${admin.file ?? 'from API_ADMIN_TOKEN / API_TOKEN_ADMIN'}`);
  console.log(`  ${'Logs'.padEnd(24)}         ${stackDirs(cfg).logDir}\n`);
}

async function ensureSchedule(cfg: AppConfig, logger: Logger): Promise<void> {
  const connection = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const outcome = await ensureNightlySchedule(new Client({ connection, namespace: cfg.temporalNamespace }), cfg.taskQueue);
    logger.info(`schedule ${NIGHTLY_SCHEDULE_ID} ${outcome} (trainingPipeline daily at 02:00 UTC)`);
  } finally {
    await connection.close();
  }
}

async function status(cfg: AppConfig): Promise<number> {
  const dirs = stackDirs(cfg);
  let allHealthy = true;
  for (const spec of stackServices(cfg)) {
    const s = await serviceState(spec, dirs);
    const where = Object.values(spec.urls).join('  ');
    let text: string;
    if (s.state === 'running') text = `${s.healthy ? 'healthy' : 'UNHEALTHY'} (pid ${s.record.pid}, since ${s.record.startedAt})`;
    else if (s.state === 'external') text = 'healthy (not started by this stack)';
    else text = 'stopped';
    if (s.state === 'stopped' || (s.state === 'running' && !s.healthy)) allHealthy = false;
    console.log(`${spec.title.padEnd(28)} ${text.padEnd(60)} ${where}`);
  }
  return allHealthy ? 0 : 3;
}

async function foreground(cfg: AppConfig, logger: Logger, once: boolean, input: object, deployment: object | undefined): Promise<number> {
  let results: UpResult[] = [];
  let stopping = false;
  const owned = () => new Set(results.filter((r) => r.outcome === 'started').map((r) => r.spec.name));
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping what this command started…');
    await stackDown(cfg, logger, owned());
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
  try {
    results = await stackUp(cfg, logger, { echo: (spec) => spec.name === 'worker' });
  } catch (err) {
    logger.error((err as Error).message);
    // stackUp stops a failed service itself; the ones before it were started by us too.
    await stackDown(cfg, logger, owned());
    return 1;
  }
  printUrls(cfg, results);
  let code = 0;
  try {
    await ensureSchedule(cfg, logger);
    await runMainJob(cfg, logger, input, deployment);
  } catch (err) {
    logger.error({ err }, 'main job failed');
    code = 1;
  }
  if (once || code !== 0) {
    await stop(code);
    return code;
  }
  logger.info('stack running; press Ctrl-C to stop it');
  await new Promise(() => undefined); // until a signal
  return 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const cfg = loadConfig();
  const logger = createLogger({ name: 'stack' });
  const admin = ensureAdminToken(cfg);
  if (admin.created) {
    // Shown once; only the file keeps it (mode 0600).
    console.log(`\nCreated the serving API's admin token (kept in ${admin.file}):\n  ${admin.token}\nUse it as: curl -H "Authorization: Bearer <token>" ${cfg.apiUrl}/api/v1/admin/deployment\n`);
  }
  switch (command) {
    case 'up': {
      const results = await stackUp(cfg, logger);
      await ensureSchedule(cfg, logger);
      printUrls(cfg, results);
      return 0;
    }
    case 'down':
      await stackDown(cfg, logger);
      return 0;
    case 'status':
      return status(cfg);
    case 'start':
      return foreground(
        cfg,
        logger,
        rest.includes('--once') || process.env.START_ONCE === '1',
        rest.includes('--input') ? (JSON.parse(rest[rest.indexOf('--input') + 1] ?? '{}') as object) : {},
        rest.includes('--deploy-input') ? (JSON.parse(rest[rest.indexOf('--deploy-input') + 1] ?? '{}') as object) : undefined,
      );
    default:
      console.error('usage: tsx scripts/stack.ts up|down|status|start [--once]');
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`\n${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
