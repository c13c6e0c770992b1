/**
 * The load generator of `npm run bench:serve`, in its own process so that client and server never
 * share an event loop. Also usable alone against a running API:
 *
 *   BENCH_API_TOKEN=<token> tsx bench/serve-load.ts --url http://127.0.0.1:8000 [--rates 100,250,500]
 *       [--seconds 15] [--warmup 3] [--targets predict,health] [--client http|fetch] [--max-in-flight 256]
 *
 * For each rate, for each target (`predict`: POST /api/v1/predict with a synthetic transaction;
 * `health`: GET /health, the framework-and-loopback reference), it runs an open loop (lib/simulator)
 * for `--warmup` seconds (discarded), then `--seconds` measured. Writes JSON lines to stdout:
 * `{"event":"phase",...}` when a phase starts and `{"event":"result",...}` when a measured phase ends.
 *
 * The default client is `node:http` with a keep-alive agent: cheaper per request than `fetch`,
 * which matters when the client shares 2 cores with the server it measures.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LatencyHistogram, type LatencySummary } from '../lib/simulator/latency';
import { runOpenLoop } from '../lib/simulator/open-loop';
import { TransactionSource } from '../lib/simulator/transactions';

export type LoadTarget = 'predict' | 'health';

/** One measured phase, as written to stdout and read by bench/serve.ts. */
export interface LoadPhaseResult {
  event: 'result';
  target: LoadTarget;
  /** Offered rate, requests per second. */
  rate: number;
  /** Measured seconds (schedule window). */
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  errorsByStatus: Record<string, number>;
  dropped: number;
  /** Successful requests per second. */
  achievedRps: number;
  /** Client-side latency of successful requests, send to last byte of the response. */
  latency: LatencySummary;
  /** How late sends started relative to their schedule: the client's own health. */
  lag: { p99Ms: number; maxMs: number };
  /** CPU the load generator used during the phase, ms per request sent. */
  clientCpuMsPerRequest: number;
}

export interface LoadPhaseEvent {
  event: 'phase';
  target: LoadTarget;
  rate: number;
  stage: 'warmup' | 'measure';
}

const PREDICT_PATH = '/api/v1/predict';
const HEALTH_PATH = '/health';
const TIMEOUT_MS = 10_000;

type Requester = (method: 'GET' | 'POST', path: string, body?: string) => Promise<number>;

function httpRequester(base: URL, token: string, maxSockets: number): Requester {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${token}` };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: base.hostname, port: base.port, method, path, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.setTimeout(TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', reject);
      req.end(body);
    });
}

function fetchRequester(base: URL, token: string): Requester {
  return async (method, path, body) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: body === undefined ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.arrayBuffer();
    return res.status;
  };
}

/** Prebuilt feature arrays as JSON, so building a request body costs a string concatenation. */
function featurePool(size: number, seed: number): string[] {
  const source = new TransactionSource({ seed, chunkRows: 1024 });
  return Array.from({ length: size }, () => JSON.stringify(source.next().features));
}

async function runPhase(request: Requester, target: LoadTarget, rate: number, seconds: number, maxInFlight: number, pool: string[], idBase: number) {
  const latency = new LatencyHistogram();
  const lag = new LatencyHistogram();
  const errorsByStatus: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  const cpu = process.cpuUsage();
  const result = await runOpenLoop({
    rps: rate,
    durationSeconds: seconds,
    maxInFlight,
    send: async (n, lagMs) => {
      lag.record(lagMs);
      const t0 = performance.now();
      try {
        const status =
          target === 'predict'
            ? await request('POST', PREDICT_PATH, `{"transaction_id":"bench-${idBase + n}","features":${pool[n % pool.length]}}`)
            : await request('GET', HEALTH_PATH);
        const ms = performance.now() - t0;
        if (status === 200) {
          ok++;
          latency.record(ms);
        } else {
          errors++;
          errorsByStatus[status] = (errorsByStatus[status] ?? 0) + 1;
        }
      } catch (err) {
        errors++;
        const cause = (err as { code?: string }).code === 'TIMEOUT' ? 'timeout' : 'network';
        errorsByStatus[cause] = (errorsByStatus[cause] ?? 0) + 1;
      }
    },
  });
  const used = process.cpuUsage(cpu);
  const summary: Omit<LoadPhaseResult, 'event' | 'target' | 'rate'> = {
    seconds: result.scheduleSeconds,
    sent: result.sent,
    ok,
    errors,
    errorsByStatus,
    dropped: result.dropped,
    achievedRps: ok / result.scheduleSeconds,
    latency: latency.summary(),
    lag: { p99Ms: lag.quantile(0.99), maxMs: result.maxLagMs },
    clientCpuMsPerRequest: result.sent > 0 ? (used.user + used.system) / 1000 / result.sent : 0,
  };
  return { summary, sent: result.sent + result.dropped };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8000' },
      token: { type: 'string' },
      rates: { type: 'string', default: '100,250,500' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      targets: { type: 'string', default: 'predict,health' },
      client: { type: 'string', default: 'http' },
      'max-in-flight': { type: 'string', default: '256' },
      seed: { type: 'string', default: '7' },
    },
  });
  const token = values.token ?? process.env.BENCH_API_TOKEN ?? process.env.API_TOKEN;
  if (!token) throw new Error('no token: set BENCH_API_TOKEN (or API_TOKEN) or pass --token');
  const base = new URL(values.url);
  const rates = values.rates.split(',').map(Number);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const maxInFlight = Number(values['max-in-flight']);
  const targets = values.targets.split(',') as LoadTarget[];
  for (const t of targets) if (t !== 'predict' && t !== 'health') throw new Error(`unknown target ${t} (predict, health)`);
  if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !(warmup >= 0)) throw new Error('--rates, --seconds must be > 0, --warmup >= 0');
  const request = values.client === 'fetch' ? fetchRequester(base, token) : httpRequester(base, token, maxInFlight);
  const pool = featurePool(4096, Number(values.seed));
  const emit = (line: LoadPhaseEvent | LoadPhaseResult) => process.stdout.write(`${JSON.stringify(line)}\n`);

  // Ids stay unique across phases: every phase starts past the previous one's last id.
  let idBase = 0;
  for (const rate of rates) {
    for (const target of targets) {
      if (warmup > 0) {
        emit({ event: 'phase', target, rate, stage: 'warmup' });
        idBase += (await runPhase(request, target, rate, warmup, maxInFlight, pool, idBase)).sent;
      }
      emit({ event: 'phase', target, rate, stage: 'measure' });
      const { summary, sent } = await runPhase(request, target, rate, seconds, maxInFlight, pool, idBase);
      idBase += sent;
      emit({ event: 'result', target, rate, ...summary });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`serve-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
