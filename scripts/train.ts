/**
 * `npm run train -- [--rows N] [--seed S] [--fraud-rate R] [--csv FILE [--label COL]] [--models a,b] [--input JSON]`:
 * starts trainingPipeline on the running stack, shows live progress and prints the summary.
 */
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { printSummary, runTrainingPipeline } from './main-job';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  const input: Record<string, unknown> = option('input') ? (JSON.parse(option('input')!) as Record<string, unknown>) : {};
  const csv = option('csv');
  if (csv) input.dataset = { source: 'csv', path: csv, ...(option('label') ? { labelColumn: option('label') } : {}) };
  else if (option('rows') || option('seed') || option('fraud-rate')) {
    input.dataset = {
      ...(option('rows') ? { rows: Number(option('rows')) } : {}),
      ...(option('seed') ? { seed: Number(option('seed')) } : {}),
      ...(option('fraud-rate') ? { fraudRate: Number(option('fraud-rate')) } : {}),
    };
  }
  if (option('models')) input.models = option('models')!.split(',');
  const started = Date.now();
  const summary = await runTrainingPipeline(cfg, createLogger({ name: 'train' }), input);
  printSummary(cfg, summary);
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : err);
  process.exit(1);
});
