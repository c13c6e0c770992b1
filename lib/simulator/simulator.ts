/**
 * The transaction simulator: sends fresh synthetic transactions to a running serving API at a
 * steady rate (open loop, see open-loop.ts) and reports once a second what came back.
 *
 * One request is `POST /api/v1/predict` with one transaction, or, with `batchSize > 1`,
 * `POST /api/v1/batch-predict` with `batchSize` transactions; `rps` counts requests either way.
 * Requests go through the global `fetch` (undici), whose default agent keeps connections alive.
 */
import { performance } from 'node:perf_hooks';
import { runOpenLoop } from './open-loop';
import { StatsAccumulator, type ServedBy, type SimulatorReport, type SimulatorStats } from './stats';
import { TransactionSource, type SimTransaction } from './transactions';

/** Options of {@link runSimulator}. */
export interface SimulatorOptions {
  /** Base URL of the serving API, e.g. `http://127.0.0.1:8000`. */
  apiUrl: string;
  /** Bearer token of role `score` or above. */
  token: string;
  /** Requests per second, > 0. */
  rps: number;
  /** Seconds to run. @default Infinity (until `signal` aborts) */
  durationSeconds?: number;
  /** Seed of the generated transactions; ids are `sim-<seed>-<n>`. @default 42 */
  seed?: number;
  /** Share of fraud rows among the generated transactions. @default 0.00172 (the public data's rate) */
  fraudRate?: number;
  /** Transactions per request; above 1 the simulator calls `/api/v1/batch-predict` (at most 1,000). @default 1 */
  batchSize?: number;
  /** Most requests in flight at once; sends due beyond it are dropped and counted. @default 256 */
  maxInFlight?: number;
  /** A request not answered within this time counts as a `timeout` error. @default 10000 */
  requestTimeoutMs?: number;
  /** Stops sending; requests in flight are still awaited, so the final counts are complete. */
  signal?: AbortSignal;
  /** Called once a second, and once more at the end with the last (partial) second. */
  onStats?: (report: SimulatorReport) => void;
  /** The HTTP client (tests wrap it to see what goes over the wire). @default globalThis.fetch */
  fetch?: typeof fetch;
}

type ResolvedOptions = Required<Omit<SimulatorOptions, 'signal' | 'onStats'>> & Pick<SimulatorOptions, 'signal' | 'onStats'>;

/** Fills defaults and rejects invalid values with a TypeError naming the option. */
export function withDefaults(options: SimulatorOptions): ResolvedOptions {
  // `??` rather than a spread: an option passed as `undefined` still gets its default.
  const resolved: ResolvedOptions = {
    ...options,
    durationSeconds: options.durationSeconds ?? Infinity,
    seed: options.seed ?? 42,
    fraudRate: options.fraudRate ?? 0.00172,
    batchSize: options.batchSize ?? 1,
    maxInFlight: options.maxInFlight ?? 256,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    fetch: options.fetch ?? globalThis.fetch,
  };
  let url: URL;
  try {
    url = new URL(resolved.apiUrl);
  } catch {
    throw new TypeError(`apiUrl must be an absolute http(s) URL, got ${JSON.stringify(resolved.apiUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`apiUrl must be an http(s) URL, got ${resolved.apiUrl}`);
  if (typeof resolved.token !== 'string' || resolved.token === '') throw new TypeError('token must be a non-empty string');
  if (!(resolved.rps > 0) || !Number.isFinite(resolved.rps)) throw new TypeError(`rps must be a finite number > 0, got ${resolved.rps}`);
  if (!(resolved.durationSeconds > 0)) throw new TypeError(`durationSeconds must be > 0, got ${resolved.durationSeconds}`);
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1 || resolved.batchSize > 1000) {
    throw new TypeError(`batchSize must be an integer in 1..1000 (the API's batch limit), got ${resolved.batchSize}`);
  }
  if (!Number.isInteger(resolved.maxInFlight) || resolved.maxInFlight < 1) throw new TypeError(`maxInFlight must be an integer >= 1, got ${resolved.maxInFlight}`);
  if (!(resolved.requestTimeoutMs > 0)) throw new TypeError(`requestTimeoutMs must be > 0, got ${resolved.requestTimeoutMs}`);
  // TransactionSource checks seed and fraudRate.
  return resolved;
}

interface PredictionBody {
  served_by?: unknown;
  prediction?: unknown;
}

/** The slot and prediction of each result, or undefined when the body is not what the API promises. */
function readPredictions(body: unknown, batch: boolean, expected: number): { servedBy: ServedBy; prediction: 0 | 1 }[] | undefined {
  const items: unknown = batch ? (body as { results?: unknown } | null)?.results : [body];
  if (!Array.isArray(items) || items.length !== expected) return undefined;
  const out: { servedBy: ServedBy; prediction: 0 | 1 }[] = [];
  for (const item of items as PredictionBody[]) {
    const servedBy = item?.served_by;
    const prediction = item?.prediction;
    if ((servedBy !== 'champion' && servedBy !== 'canary') || (prediction !== 0 && prediction !== 1)) return undefined;
    out.push({ servedBy, prediction });
  }
  return out;
}

/** `network: <code or message>` for a failed fetch (undici hides the socket error in `cause`). */
function describeFetchError(err: unknown): { cause: string; message: string } {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return { cause: 'timeout', message: e.message ?? 'request timed out' };
  return { cause: 'network', message: e?.cause?.message ?? e?.cause?.code ?? e?.message ?? String(err) };
}

/**
 * Runs until `durationSeconds` have passed or `signal` aborts, then waits for the requests in
 * flight and returns the totals. Never throws for failed requests: they are counted by cause.
 */
export async function runSimulator(options: SimulatorOptions): Promise<SimulatorStats> {
  const o = withDefaults(options);
  const source = new TransactionSource({ seed: o.seed, fraudRate: o.fraudRate });
  const batch = o.batchSize > 1;
  const url = new URL(batch ? '/api/v1/batch-predict' : '/api/v1/predict', o.apiUrl).toString();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${o.token}` };

  const total = new StatsAccumulator();
  let window = new StatsAccumulator();
  let inFlight = 0;
  const started = performance.now();
  let windowStart = started;

  const emit = (): void => {
    const now = performance.now();
    const report: SimulatorReport = {
      elapsedSeconds: (now - started) / 1000,
      window: window.snapshot((now - windowStart) / 1000, inFlight),
      total: total.snapshot((now - started) / 1000, inFlight),
    };
    window = new StatsAccumulator();
    windowStart = now;
    o.onStats?.(report);
  };

  const send = async (_n: number, lagMs: number): Promise<void> => {
    const txs: SimTransaction[] = [];
    for (let i = 0; i < o.batchSize; i++) txs.push(source.next());
    const body = batch
      ? JSON.stringify({ transactions: txs.map((t) => ({ transaction_id: t.transaction_id, features: t.features })) })
      : JSON.stringify({ transaction_id: txs[0]!.transaction_id, features: txs[0]!.features });
    total.recordSent(txs.length, lagMs);
    window.recordSent(txs.length, lagMs);
    inFlight++;
    const t0 = performance.now();
    try {
      const res = await o.fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.requestTimeoutMs) });
      // Read the body even for an error: undici reuses the connection only once the body is consumed.
      const text = await res.text();
      const latencyMs = performance.now() - t0;
      if (!res.ok) {
        let message = res.statusText;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // Not our API's error body; the status says enough.
        }
        total.recordError(String(res.status), message);
        window.recordError(String(res.status), message);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const predictions = readPredictions(parsed, batch, txs.length);
      if (!predictions) {
        total.recordError('invalid_response', `a ${res.status} body that is not ${txs.length} prediction(s)`);
        window.recordError('invalid_response');
        return;
      }
      const results = predictions.map((p, i) => ({ ...p, label: txs[i]!.label }));
      total.recordOk(latencyMs, results);
      window.recordOk(latencyMs, results);
    } catch (err) {
      const { cause, message } = describeFetchError(err);
      total.recordError(cause, message);
      window.recordError(cause, message);
    } finally {
      inFlight--;
    }
  };

  const timer = setInterval(emit, 1000);
  try {
    await runOpenLoop({
      rps: o.rps,
      durationSeconds: o.durationSeconds,
      maxInFlight: o.maxInFlight,
      signal: o.signal,
      send,
      onDrop: () => {
        total.recordDropped();
        window.recordDropped();
      },
    });
  } finally {
    clearInterval(timer);
  }
  emit();
  return total.snapshot((performance.now() - started) / 1000, inFlight);
}
