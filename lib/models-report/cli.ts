/**
 * `npm run models`: gather, then print the report (a table, or JSON with `--json`), or with
 * `--check` the diagnostics, exiting 1 when one fails. Exit codes: 0 fine, 1 a check failed
 * (`--check` only), 2 bad usage or configuration.
 */
import { ConfigError, loadConfig } from '../config';
import { checkModelsReport } from './checks';
import { ModelsCliUsageError } from './errors';
import { gatherModelsReport, type GatherDeps } from './gather';
import { MODELS_USAGE, parseModelsArgs, type ModelsCliArgs } from './options';
import { renderChecks, renderReport } from './render';
import { locationSummary } from './summary';
import type { ModelsReportOutput } from './types';

export interface ModelsCliIo {
  env: NodeJS.ProcessEnv;
  /** Writes a chunk of normal output (the report, JSON, check lines). */
  out: (text: string) => void;
  /** Writes errors and usage hints. */
  err: (text: string) => void;
  /** Whether `out` is a terminal: colours only then (and never with NO_COLOR set). */
  isTTY: boolean;
  /** Injected clients, for tests. */
  deps?: GatherDeps;
}

/** Colours on a terminal, unless NO_COLOR is set to anything non-empty (https://no-color.org). */
export function useColor(io: Pick<ModelsCliIo, 'env' | 'isTTY'>): boolean {
  return io.isTTY && !io.env.NO_COLOR;
}

export async function runModelsCli(argv: readonly string[], io: ModelsCliIo): Promise<number> {
  let args: ModelsCliArgs | undefined;
  let cfg: ReturnType<typeof loadConfig>;
  try {
    args = parseModelsArgs(argv);
    cfg = loadConfig(io.env);
  } catch (err) {
    if (!(err instanceof ModelsCliUsageError || err instanceof ConfigError)) throw err;
    io.err(`models: ${err.message}\n\n${MODELS_USAGE}\n`);
    return 2;
  }
  if (!args) {
    io.out(`${MODELS_USAGE}\n`);
    return 0;
  }
  const report = await gatherModelsReport(cfg, args.report, { env: io.env, ...io.deps });
  const checks = checkModelsReport(report);
  const ok = checks.every((c) => c.ok);
  if (args.json) {
    const output: ModelsReportOutput = { ...report, summary: locationSummary(report), checks, ok };
    io.out(`${JSON.stringify(output, null, 2)}\n`);
  } else if (args.check) {
    io.out(`${renderChecks(report, checks, { color: useColor(io) })}\n`);
  } else {
    io.out(`${renderReport(report, checks, { color: useColor(io) })}\n`);
  }
  return args.check && !ok ? 1 : 0;
}
