import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import { chooseSlot } from '../../api/routing';
import { startApi, type RunningApi } from '../../api/server';
import type { AuthConfig } from '../../api/types';
import { CREDIT_CARD_FEATURES } from '../../lib/ml/data/synthetic';
import type { FraudModel, ModelKind, SavedModel } from '../../lib/ml/types';
import type { LoadedModelSet, ServingModels, Slot } from '../../lib/serving/contract';
import { LatencyHistogram, runOpenLoop, runSimulateCli, runSimulator, TransactionSource, type SimulatorReport } from '../../lib/simulator';

// ------------------------------------------------------------------------------------------- fixtures

const V = (k: number) => k; // column of V_k (Time is column 0)

/**
 * A deterministic logistic model on the card-testing directions of the synthetic data
 * (V14, V12, V10 strongly negative): honest scores, and some rows above 0.5.
 */
class LogisticModel implements FraudModel {
  readonly featureNames = CREDIT_CARD_FEATURES;
  constructor(
    readonly kind: ModelKind,
    private readonly bias: number,
  ) {}
  predictProba(features: Float32Array, numRows: number): Float32Array {
    const n = this.featureNames.length;
    const out = new Float32Array(numRows);
    for (let i = 0; i < numRows; i++) {
      const row = (j: number) => features[i * n + j]!;
      const z = this.bias - 1.2 * row(V(14)) - 0.6 * row(V(12)) - 0.4 * row(V(10));
      out[i] = 1 / (1 + Math.exp(-z));
    }
    return out;
  }
  toJSON(): SavedModel {
    return { name: 'Logistic', formatVersion: 1, kind: this.kind, featureNames: [...this.featureNames] };
  }
}

function makeSet(slot: Slot, id: string, bias: number): LoadedModelSet {
  const models = new Map<ModelKind, FraudModel>([
    ['xgboost', new LogisticModel('xgboost', bias)],
    ['random_forest', new LogisticModel('random_forest', bias - 1)],
  ]);
  const weights = { xgboost: 0.5, random_forest: 0.3 };
  const predictMembers = (features: Float32Array, numRows: number) => new Map([...models].map(([k, m]) => [k, m.predictProba(features, numRows)] as const));
  return {
    slot,
    manifest: {
      schemaVersion: 1,
      id,
      createdAt: '2025-01-01T00:00:00.000Z',
      members: [...models.keys()].map((kind) => ({ kind, registeredModel: `fraud_detection_${kind}`, version: '1', sha256: '0'.repeat(64) })),
      weights,
      threshold: 0.5,
    },
    predictMembers,
    predictEnsemble: (features, numRows) => {
      const members = predictMembers(features, numRows);
      const out = new Float32Array(numRows);
      for (let i = 0; i < numRows; i++) out[i] = (0.5 * members.get('xgboost')![i]! + 0.3 * members.get('random_forest')![i]!) / 0.8;
      return out;
    },
    featureNames: CREDIT_CARD_FEATURES,
    models,
    loadedAt: '2025-01-02T00:00:00.000Z',
  };
}

const CANARY_PERCENT = 25;
const SCORE_TOKEN = 'simulator-score-token-0123456789';
const ADMIN_TOKEN = 'simulator-admin-token-0123456789';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const AUTH: AuthConfig = {
  tokens: [
    { role: 'score', sha256: sha256(SCORE_TOKEN) },
    { role: 'admin', sha256: sha256(ADMIN_TOKEN) },
  ],
};

async function withApi(fn: (api: RunningApi) => Promise<void>): Promise<void> {
  const champion = makeSet('champion', 'release-champion', 0);
  const canary = makeSet('canary', 'release-canary', -1);
  const models: ServingModels = {
    champion: () => champion,
    canary: () => canary,
    canaryPercent: () => CANARY_PERCENT,
    routing: () => undefined,
    rejected: () => [],
  };
  const api = await startApi({
    models,
    explain: () => Promise.reject(new Error('unused')),
    logger: pino({ level: 'silent' }),
    auth: AUTH,
    host: '127.0.0.1',
    port: 0,
    env: {},
    processMetrics: false,
  });
  try {
    await fn(api);
  } finally {
    await api.close();
  }
}

/** `fetch` that records the transactions of every request it sends. */
function recordingFetch() {
  const requests: { transaction_id: string }[][] = [];
  const spy: typeof fetch = (input, init) => {
    const body = JSON.parse(String(init?.body)) as { transaction_id?: string; transactions?: { transaction_id: string }[] };
    requests.push(body.transactions ?? [{ transaction_id: body.transaction_id! }]);
    return fetch(input, init);
  };
  return { spy, requests };
}

/** Sum of a Prometheus counter's series whose labels include `label`. */
function counterSum(metrics: string, name: string, label: string): number {
  let sum = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    if (m[1]!.includes(label)) sum += Number(m[2]);
  }
  return sum;
}

// -------------------------------------------------------------------------------------------- simulator

test('sends about rps × seconds transactions with unique ids, all scored, and its counts match the server’s', async () => {
  await withApi(async (api) => {
    const { spy, requests } = recordingFetch();
    const reports: SimulatorReport[] = [];
    const stats = await runSimulator({ apiUrl: api.url, token: SCORE_TOKEN, rps: 50, durationSeconds: 2, seed: 7, fraudRate: 0.05, fetch: spy, onStats: (r) => reports.push(r) });

    // 50 rps × 2 s, ±30 % (open loop on a busy machine).
    expect(stats.sent).toBeGreaterThanOrEqual(70);
    expect(stats.sent).toBeLessThanOrEqual(130);
    expect(stats.ok).toBe(stats.sent);
    expect(stats.errors).toBe(0);
    expect(stats.errorsByStatus).toEqual({});
    expect(stats.dropped).toBe(0);
    expect(stats.transactions).toBe(stats.sent);

    // What went over the wire: one request per send, unique ids of the documented form.
    const ids = requests.flat().map((t) => t.transaction_id);
    expect(ids).toHaveLength(stats.sent);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^sim-7-\d+$/);

    // served_by adds up, and agrees with the API's sticky routing of exactly these ids.
    expect(stats.servedBy.champion + stats.servedBy.canary).toBe(stats.ok);
    expect(stats.predictions).toBe(stats.ok);
    expect(stats.servedBy.canary).toBe(ids.filter((id) => chooseSlot(id, CANARY_PERCENT) === 'canary').length);
    expect(stats.servedBy.canary).toBeGreaterThan(0);
    expect(stats.servedBy.champion).toBeGreaterThan(0);

    // The server counted the same transactions per slot and the same fraud predictions.
    const deployment = (await (await fetch(`${api.url}/api/v1/admin/deployment`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
      live: Record<Slot, { requests: number }>;
    };
    expect(deployment.live.champion.requests).toBe(stats.servedBy.champion);
    expect(deployment.live.canary.requests).toBe(stats.servedBy.canary);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(counterSum(metrics, 'fraud_api_predictions_total', 'prediction="1"')).toBe(stats.predictedFraud);
    expect(counterSum(metrics, 'fraud_api_predictions_total', 'prediction="0"')).toBe(stats.predictions - stats.predictedFraud);
    expect(stats.observedFraudRate).toBeCloseTo(stats.predictedFraud / stats.predictions, 12);
    expect(stats.caughtFraud).toBeLessThanOrEqual(Math.min(stats.labelledFraud, stats.predictedFraud));

    // Latency of every successful request, ordered percentiles.
    expect(stats.latency.count).toBe(stats.ok);
    expect(stats.latency.p50Ms).toBeGreaterThan(0);
    expect(stats.latency.p50Ms).toBeLessThanOrEqual(stats.latency.p99Ms);
    expect(stats.latency.p99Ms).toBeLessThanOrEqual(stats.latency.maxMs);

    // Per-second reports: windows add up to the totals; the last report's total is the result.
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.reduce((n, r) => n + r.window.sent, 0)).toBe(stats.sent);
    expect(reports.reduce((n, r) => n + r.window.ok, 0)).toBe(stats.ok);
    expect(reports.reduce((n, r) => n + r.window.servedBy.canary, 0)).toBe(stats.servedBy.canary);
    expect(reports.at(-1)!.total.sent).toBe(stats.sent);
  });
});

test('with batchSize > 1 it calls batch-predict and counts transactions per slot', async () => {
  await withApi(async (api) => {
    const { spy, requests } = recordingFetch();
    const stats = await runSimulator({ apiUrl: api.url, token: SCORE_TOKEN, rps: 10, durationSeconds: 1.5, batchSize: 4, seed: 3, fetch: spy });
    expect(stats.sent).toBeGreaterThan(0);
    expect(stats.ok).toBe(stats.sent);
    expect(requests.every((r) => r.length === 4)).toBe(true);
    expect(stats.transactions).toBe(4 * stats.sent);
    expect(stats.servedBy.champion + stats.servedBy.canary).toBe(stats.transactions);
    const ids = requests.flat().map((t) => t.transaction_id);
    expect(new Set(ids).size).toBe(stats.transactions);
  });
});

test('a wrong token: every request is a 401, and the CLI exits non-zero saying so', async () => {
  await withApi(async (api) => {
    const stats = await runSimulator({ apiUrl: api.url, token: 'not-a-token-of-this-api-0123', rps: 20, durationSeconds: 1 });
    expect(stats.sent).toBeGreaterThan(0);
    expect(stats.ok).toBe(0);
    expect(stats.errorsByStatus).toEqual({ '401': stats.sent });
    expect(stats.lastError).toMatch(/^401/);
    expect(stats.predictions).toBe(0);

    const out: string[] = [];
    const err: string[] = [];
    const code = await runSimulateCli(['--rps', '20', '--duration', '1', '--url', api.url, '--token', 'not-a-token-of-this-api-0123'], {
      env: {},
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    expect(code).not.toBe(0);
    expect(out.join('\n')).toMatch(/401×\d+/);
    expect(err.join('\n')).toMatch(/no request succeeded.*401/);
  });
});

test('the CLI succeeds with a good token from API_TOKEN and prints status lines and a summary', async () => {
  await withApi(async (api) => {
    const out: string[] = [];
    const code = await runSimulateCli(['--rps', '20', '--duration', '1.2', '--url', api.url], { env: { API_TOKEN: SCORE_TOKEN }, out: (l) => out.push(l), err: () => {} });
    expect(code).toBe(0);
    expect(out.some((l) => /^\[\s*\d+s\] sent .* \| champion \d+ canary \d+ \| p50/.test(l))).toBe(true);
    expect(out.at(-1)).toMatch(/Simulator summary/);
  });
});

test('the CLI without a token explains where to get one', async () => {
  const err: string[] = [];
  const code = await runSimulateCli(['--rps', '5'], { env: {}, out: () => {}, err: (l) => err.push(l) });
  expect(code).toBe(2);
  expect(err.join('\n')).toMatch(/--token.*API_TOKEN/);
  expect(err.join('\n')).toMatch(/API_TOKEN_SCORE/);
});

test('the CLI reports an unreachable API and fails', async () => {
  // A port that was free a moment ago: nothing listens there now.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const err: string[] = [];
  const code = await runSimulateCli(['--url', `http://127.0.0.1:${port}`, '--token', 'x'.repeat(20), '--duration', '1'], { env: {}, out: () => {}, err: (l) => err.push(l) });
  expect(code).toBe(1);
  expect(err.join('\n')).toMatch(/cannot reach the API/);
});

// -------------------------------------------------------------------------------------------- pieces

test('the open loop keeps its schedule while requests hang, and drops (never queues) beyond maxInFlight', async () => {
  const release: (() => void)[] = [];
  const started: number[] = [];
  setTimeout(() => release.forEach((r) => r()), 600);
  const result = await runOpenLoop({
    rps: 100,
    durationSeconds: 0.3,
    maxInFlight: 5,
    send: (n) => {
      started.push(n);
      return new Promise<void>((resolve) => release.push(resolve));
    },
  });
  expect(result.sent).toBe(5);
  expect(started).toEqual([0, 1, 2, 3, 4]);
  expect(result.scheduled).toBeGreaterThan(5);
  expect(result.dropped).toBe(result.scheduled - 5);
});

test('latency percentiles are within 1 % of the exact order statistics', () => {
  const h = new LatencyHistogram();
  const values: number[] = [];
  let s = 12345;
  for (let i = 0; i < 20_000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u = (s + 0.5) / 2 ** 32;
    const v = Math.exp(Math.log(2) + 1.5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(i)); // heavy-tailed, ms
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const q of [0.5, 0.95, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1]!;
    const got = h.quantile(q);
    expect(got).toBeGreaterThanOrEqual(exact);
    expect(got).toBeLessThanOrEqual(exact * 1.01);
  }
  expect(h.summary().maxMs).toBe(values.at(-1));
});

test('the transaction stream is reproducible, fresh per chunk, and keeps the fraud rate', () => {
  const a = new TransactionSource({ seed: 5, fraudRate: 0.01, chunkRows: 1000 });
  const b = new TransactionSource({ seed: 5, fraudRate: 0.01, chunkRows: 1000 });
  const c = new TransactionSource({ seed: 6, fraudRate: 0.01, chunkRows: 1000 });
  const rowsA = Array.from({ length: 3000 }, () => a.next());
  const rowsB = Array.from({ length: 3000 }, () => b.next());
  expect(rowsB).toEqual(rowsA);
  expect(rowsA.map((t) => t.transaction_id).slice(0, 2)).toEqual(['sim-5-0', 'sim-5-1']);
  expect(rowsA[2999]!.transaction_id).toBe('sim-5-2999');
  expect(rowsA.every((t) => t.features.length === 30)).toBe(true);
  // Exactly round(1000 × 0.01) frauds per chunk.
  expect(rowsA.reduce((n, t) => n + t.label, 0)).toBe(30);
  // Chunks are fresh draws, not repeats; another seed gives other rows.
  expect(rowsA[1000]!.features).not.toEqual(rowsA[0]!.features);
  expect(JSON.stringify(rowsA.slice(1000, 2000).map((t) => t.features))).not.toBe(JSON.stringify(rowsA.slice(0, 1000).map((t) => t.features)));
  expect(c.next().features).not.toEqual(rowsA[0]!.features);
});
