/**
 * `npm run api`: the serving API on API_HOST:API_PORT (default 127.0.0.1:8000, docs at /docs),
 * serving the champion and canary of MODEL_STORE_DIR (hot-reloaded by the store watcher) with SHAP
 * explanations. Closes on SIGINT/SIGTERM.
 */
import { startApi } from '../api/server';
import { startServingRuntime } from '../api/runtime';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const logger = createLogger({ name: 'api' });
  const runtime = await startServingRuntime(cfg, logger);
  const api = await startApi({ models: runtime.models, explain: runtime.explain, background: runtime.background, logger });
  logger.info({ url: api.url, modelStore: cfg.modelStoreDir, champion: runtime.models.champion()?.manifest.id ?? null }, 'serving API listening');
  let closing = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing the serving API');
    Promise.all([api.close(), runtime.stop()]).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while closing the serving API');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  // Configuration errors (tokens, ports) are the user's to fix: a message, not a stack.
  process.stderr.write(`serving API failed to start: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
  process.exit(1);
});
