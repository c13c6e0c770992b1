/**
 * `npm run simulate`: the simulator on the command line. Parses the options, finds the token,
 * checks the API answers, prints one status line per second and a summary at the end (or when
 * `signal` aborts: scripts/simulate.ts aborts it on Ctrl-C).
 *
 * Exit codes: 0 when at least one request succeeded, 1 when none did (or the API is unreachable),
 * 2 for a bad command line or a missing token.
 */
import { parseArgs } from 'node:util';
import { SimulatorConfigError } from './errors';
import { runSimulator } from './simulator';
import type { SimulatorReport, SimulatorStats } from './stats';

export const SIMULATE_USAGE = `Usage: npm run simulate -- [options]

Sends synthetic transactions to the serving API at a steady rate and reports once a second.

  --rps N            requests per second (default 10)
  --duration S       seconds to run (default: until Ctrl-C)
  --url URL          API base URL (default http://$API_HOST:$API_PORT, i.e. http://127.0.0.1:8000)
  --token T          bearer token (default: $API_TOKEN)
  --seed N           seed of the generated transactions (default 42; ids are sim-<seed>-<n>)
  --fraud-rate R     share of fraud among generated rows (default 0.00172)
  --batch-size N     transactions per request; > 1 uses /api/v1/batch-predict (default 1)
  --max-in-flight N  cap on concurrent requests; sends beyond it are dropped and counted (default 256)
  --timeout-ms N     per-request timeout (default 10000)
  --json             print the summary as JSON
  --help             this text`;

const NO_TOKEN_HELP = [
  'no API token: pass --token <token> or set API_TOKEN.',
  'Where to get one: on its first start the API (npm run api) generates a development admin token and prints it once',
  '(delete .data/api-tokens.json and restart to get a new one), or start the API with API_TOKEN_SCORE=<16+ characters>',
  '(or API_TOKEN_ADMIN, API_TOKENS_FILE) and pass the same value here.',
].join('\n');

export interface SimulateArgs {
  apiUrl: string;
  token: string;
  rps: number;
  durationSeconds?: number;
  seed: number;
  fraudRate: number;
  batchSize: number;
  maxInFlight: number;
  requestTimeoutMs: number;
  json: boolean;
}

function numberOption(values: Record<string, unknown>, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n) || !check(n)) throw new SimulatorConfigError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The simulator's options from `argv` and `env`; `undefined` for `--help`. Throws SimulatorConfigError. */
export function parseSimulateArgs(argv: readonly string[], env: NodeJS.ProcessEnv): SimulateArgs | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        rps: { type: 'string' },
        duration: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        seed: { type: 'string' },
        'fraud-rate': { type: 'string' },
        'batch-size': { type: 'string' },
        'max-in-flight': { type: 'string' },
        'timeout-ms': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new SimulatorConfigError(`${(err as Error).message}\n\n${SIMULATE_USAGE}`);
  }
  if (values.help) return undefined;
  const positive = (n: number) => n > 0;
  const positiveInt = (n: number) => Number.isInteger(n) && n >= 1;
  const token = (values.token as string | undefined) || env.API_TOKEN;
  if (!token) throw new SimulatorConfigError(NO_TOKEN_HELP);
  const duration = values.duration === undefined ? undefined : numberOption(values, 'duration', 0, positive, 'a number of seconds > 0');
  return {
    apiUrl: (values.url as string | undefined) ?? `http://${env.API_HOST || '127.0.0.1'}:${env.API_PORT || '8000'}`,
    token,
    rps: numberOption(values, 'rps', 10, positive, 'a number > 0'),
    ...(duration === undefined ? {} : { durationSeconds: duration }),
    seed: numberOption(values, 'seed', 42, Number.isSafeInteger, 'an integer'),
    fraudRate: numberOption(values, 'fraud-rate', 0.00172, (n) => n >= 0 && n <= 1, 'a share in [0, 1]'),
    batchSize: numberOption(values, 'batch-size', 1, (n) => positiveInt(n) && n <= 1000, 'an integer in 1..1000'),
    maxInFlight: numberOption(values, 'max-in-flight', 256, positiveInt, 'an integer >= 1'),
    requestTimeoutMs: numberOption(values, 'timeout-ms', 10_000, positive, 'a number of ms > 0'),
    json: values.json === true,
  };
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number) => `${(100 * v).toFixed(2)} %`;

function errorBreakdown(errorsByStatus: Record<string, number>): string {
  const parts = Object.entries(errorsByStatus).map(([cause, n]) => `${cause}×${n}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** One line per second, e.g. `[   3s] sent 50.0/s ok 50 err 0 drop 0 in-flight 1 | champion 48 canary 2 | p50 2.10 p95 3.40 p99 5.00 ms | fraud 0.00 % (0/50)`. */
export function formatStatusLine(report: SimulatorReport): string {
  const w = report.window;
  return [
    `[${report.elapsedSeconds.toFixed(0).padStart(4)}s] sent ${w.sentPerSecond.toFixed(1)}/s ok ${w.ok} err ${w.errors}${errorBreakdown(w.errorsByStatus)} drop ${w.dropped} in-flight ${w.inFlight}`,
    `champion ${w.servedBy.champion} canary ${w.servedBy.canary}`,
    w.latency.count > 0 ? `p50 ${ms(w.latency.p50Ms)} p95 ${ms(w.latency.p95Ms)} p99 ${ms(w.latency.p99Ms)} ms` : 'p50 - p95 - p99 - ms',
    `fraud ${pct(w.observedFraudRate)} (${w.predictedFraud}/${w.predictions})`,
  ].join(' | ');
}

/** The end-of-run summary, several lines. */
export function formatSummary(stats: SimulatorStats, rps: number): string {
  const l = stats.latency;
  const lines = [
    `Simulator summary: ${stats.seconds.toFixed(1)} s at a target of ${rps} req/s`,
    `  requests   sent ${stats.sent} (${stats.sentPerSecond.toFixed(1)}/s, ${stats.transactions} transactions), ok ${stats.ok}, errors ${stats.errors}, dropped ${stats.dropped}`,
  ];
  if (stats.errors > 0) lines.push(`  errors     ${errorBreakdown(stats.errorsByStatus).slice(2, -1)}; last: ${stats.lastError ?? '-'}`);
  lines.push(
    `  served by  champion ${stats.servedBy.champion}, canary ${stats.servedBy.canary}`,
    l.count > 0
      ? `  latency    p50 ${ms(l.p50Ms)} ms, p95 ${ms(l.p95Ms)} ms, p99 ${ms(l.p99Ms)} ms, max ${ms(l.maxMs)} ms (successful requests, client side)`
      : '  latency    no successful request',
    `  fraud      predicted ${stats.predictedFraud} of ${stats.predictions} (${pct(stats.observedFraudRate)}); generator's frauds among them ${stats.labelledFraud}, caught ${stats.caughtFraud}`,
  );
  if (stats.maxLagMs > 50) lines.push(`  note       the client fell up to ${ms(stats.maxLagMs)} ms behind schedule (a busy machine)`);
  return lines.join('\n');
}

export interface SimulateCliIo {
  env: NodeJS.ProcessEnv;
  /** Normal output (status lines, summary). */
  out: (line: string) => void;
  /** Errors and hints. */
  err: (line: string) => void;
  /** Stops the run early; the summary is still printed. */
  signal?: AbortSignal;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Checks the API answers `GET /health`; returns a line describing what it serves, or throws with a hint. */
async function preflight(apiUrl: string, fetchImpl: typeof fetch): Promise<string> {
  let res: Response;
  try {
    res = await fetchImpl(new URL('/health', apiUrl), { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const e = err as { message?: string; cause?: { message?: string } };
    throw new Error(`cannot reach the API at ${apiUrl} (${e.cause?.message ?? e.message ?? String(err)}); is it running? (npm run api)`);
  }
  const text = await res.text();
  if (!res.ok) return `API at ${apiUrl}: GET /health answered ${res.status}`;
  try {
    const h = JSON.parse(text) as { status?: string; champion?: { release?: string } | null; canary?: { release?: string } | null; canary_percent?: number };
    if (!h.champion) return `API at ${apiUrl}: no champion loaded (status ${h.status}); predictions will fail with 503`;
    const canary = h.canary ? `, canary ${h.canary.release} at ${h.canary_percent} %` : '';
    return `API at ${apiUrl}: champion ${h.champion.release}${canary}`;
  } catch {
    return `API at ${apiUrl}: GET /health answered ${res.status} with a body that is not JSON`;
  }
}

/** Runs the CLI; resolves to the process exit code (see the module comment). */
export async function runSimulateCli(argv: readonly string[], io: SimulateCliIo): Promise<number> {
  let args: SimulateArgs | undefined;
  try {
    args = parseSimulateArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof SimulatorConfigError)) throw err;
    io.err(`simulate: ${err.message}`);
    return 2;
  }
  if (!args) {
    io.out(SIMULATE_USAGE);
    return 0;
  }
  const fetchImpl = io.fetch ?? globalThis.fetch;
  try {
    io.out(await preflight(args.apiUrl, fetchImpl));
  } catch (err) {
    io.err(`simulate: ${(err as Error).message}`);
    return 1;
  }
  io.out(
    `Sending ${args.rps} req/s${args.batchSize > 1 ? ` × ${args.batchSize} transactions` : ''}` +
      `${args.durationSeconds === undefined ? ' until Ctrl-C' : ` for ${args.durationSeconds} s`} (seed ${args.seed}, fraud rate ${args.fraudRate})`,
  );
  const stats = await runSimulator({
    apiUrl: args.apiUrl,
    token: args.token,
    rps: args.rps,
    durationSeconds: args.durationSeconds,
    seed: args.seed,
    fraudRate: args.fraudRate,
    batchSize: args.batchSize,
    maxInFlight: args.maxInFlight,
    requestTimeoutMs: args.requestTimeoutMs,
    signal: io.signal,
    fetch: fetchImpl,
    onStats: (report) => {
      if (report.window.sent + report.window.ok + report.window.errors + report.window.dropped > 0) io.out(formatStatusLine(report));
    },
  });
  io.out(args.json ? JSON.stringify(stats, null, 2) : formatSummary(stats, args.rps));
  if (stats.ok === 0) {
    const hint = stats.errorsByStatus['401'] ? ' (401: the token is unknown to the API; see --help for where tokens come from)' : '';
    io.err(`simulate: no request succeeded${hint}`);
    return 1;
  }
  return 0;
}
