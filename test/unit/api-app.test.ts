import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp, type ApiApp } from '../../api/app';
import type { AppDeps, AuthConfig, ExplainFn, ExplainResult, Role } from '../../api/types';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { trainModel } from '../../lib/ml/models';
import type { FraudModel, ModelKind, SavedModel } from '../../lib/ml/types';
import type { LoadedModelSet, ModelSetManifest, RejectedCandidate, ServingModels, Slot, TrafficRouting } from '../../lib/serving/contract';


// ------------------------------------------------------------------------------------------- fixtures

const FEATURES = ['Time', ...Array.from({ length: 28 }, (_, i) => `V${i + 1}`), 'Amount'];

/** A deterministic model: sigmoid(bias + w · x). */
class LinearModel implements FraudModel {
  constructor(
    readonly kind: ModelKind,
    private readonly weights: number[],
    private readonly bias: number,
    readonly featureNames: readonly string[] = FEATURES,
  ) {}
  predictProba(features: Float32Array, numRows: number): Float32Array {
    const n = this.featureNames.length;
    const out = new Float32Array(numRows);
    for (let i = 0; i < numRows; i++) {
      let z = this.bias;
      for (let j = 0; j < n; j++) z += (this.weights[j] ?? 0) * (features[i * n + j] as number);
      out[i] = 1 / (1 + Math.exp(-z));
    }
    return out;
  }
  toJSON(): SavedModel {
    return { name: 'Linear', formatVersion: 1, kind: this.kind, featureNames: [...this.featureNames] };
  }
}

interface SetSpec {
  slot: Slot;
  id: string;
  models: Partial<Record<ModelKind, FraudModel>>;
  weights: Partial<Record<ModelKind, number>>;
  threshold?: number;
  /** Omit the `models` map (a set that cannot be explained). */
  hideModels?: boolean;
  /** Makes predictMembers throw. */
  broken?: boolean;
}

function makeSet(spec: SetSpec): LoadedModelSet {
  const kinds = Object.keys(spec.models) as ModelKind[];
  const manifest: ModelSetManifest = {
    schemaVersion: 1,
    id: spec.id,
    createdAt: '2025-01-01T00:00:00.000Z',
    members: kinds.map((kind, i) => ({ kind, registeredModel: `fraud_detection_${kind}`, version: String(i + 3), sha256: 'a'.repeat(64) })),
    weights: spec.weights,
    threshold: spec.threshold ?? 0.5,
  };
  const models = new Map(kinds.map((k) => [k, spec.models[k] as FraudModel]));
  const predictMembers = (features: Float32Array, numRows: number) => {
    if (spec.broken) throw new Error('member model crashed at /secret/path/model.json');
    return new Map(kinds.map((k) => [k, (spec.models[k] as FraudModel).predictProba(features, numRows)]));
  };
  const set: LoadedModelSet = {
    slot: spec.slot,
    manifest,
    predictMembers,
    predictEnsemble: () => {
      throw new Error('the API computes the ensemble from the member scores');
    },
    featureNames: FEATURES,
    models: spec.hideModels ? new Map() : models,
    loadedAt: '2025-01-02T00:00:00.000Z',
  };
  return set;
}

class FakeModels implements ServingModels {
  championSet: LoadedModelSet | undefined;
  canarySet: LoadedModelSet | undefined;
  percent = 0;
  rejectedList: RejectedCandidate[] = [];
  routingFile: TrafficRouting | undefined;
  champion() {
    return this.championSet;
  }
  canary() {
    return this.canarySet;
  }
  canaryPercent() {
    return this.canarySet ? this.percent : 0;
  }
  routing() {
    return this.routingFile;
  }
  rejected() {
    return this.rejectedList;
  }
}

const TOKENS: Record<Role, string> = {
  score: 'score-token-0123456789abcdef',
  analyst: 'analyst-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
};
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const AUTH: AuthConfig = { tokens: (Object.keys(TOKENS) as Role[]).map((role) => ({ role, sha256: sha256(TOKENS[role]) })) };
const bearer = (role: Role) => ({ authorization: `Bearer ${TOKENS[role]}` });

/** Log lines the app wrote, as text. */
function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => lines.join('') };
}

const fakeExplain: ExplainFn = (model, row, opts) => {
  const contributions = model.featureNames.map((feature, j) => ({ feature, value: row[j] as number, contribution: (row[j] as number) / 100 }));
  const top = [...contributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, opts.topK ?? 10);
  const output = contributions.reduce((s, c) => s + c.contribution, 0.5);
  return { method: `fake_for_${model.kind}${opts.background ? `_bg${opts.background.numRows}` : ''}`, outputSpace: 'margin', bias: 0.5, output, contributions, top } satisfies ExplainResult;
};

const apps: ApiApp[] = [];
async function build(models: ServingModels, extra: Partial<AppDeps> = {}): Promise<ApiApp> {
  const app = await buildApp({ models, explain: fakeExplain, auth: AUTH, logger: pino({ level: 'silent' }), ...extra });
  apps.push(app);
  return app;
}
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

/** A row of the synthetic data, as an array and as an object by name. */
function rowOf(features: Float32Array, i: number) {
  const values = Array.from(features.subarray(i * 30, i * 30 + 30));
  return { values, object: Object.fromEntries(FEATURES.map((f, j) => [f, values[j] as number])) };
}

// Deterministic linear models with different weights per kind.
const linear = (kind: ModelKind, seed: number) =>
  new LinearModel(
    kind,
    FEATURES.map((_, j) => (((j * 7 + seed * 13) % 11) - 5) / 40),
    -1 + seed / 10,
  );

// Tiny real models, trained once for the file.
let rf: FraudModel;
let iforest: FraudModel;
let sample: Float32Array;
beforeAll(async () => {
  const data = generateTransactions({ rows: 3000, seed: 5, fraudRate: 0.05 });
  const split = stratifiedSplit(data, { seed: 5 });
  rf = (await trainModel('random_forest', split, { nTrees: 8, maxDepth: 4 })).model;
  iforest = (await trainModel('isolation_forest', split, { nTrees: 25, maxSamples: 128 })).model;
  sample = split.test.features;
});

// ---------------------------------------------------------------------------------------------- tests

describe('POST /api/v1/predict', () => {
  test('scores the same by array and by object; the ensemble is the manifest-weighted mean of the members', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'rel-real', models: { random_forest: rf, isolation_forest: iforest }, weights: { random_forest: 0.6, isolation_forest: 0.2 }, threshold: 0.3 });
    const app = await build(models);
    for (const i of [0, 1, 7]) {
      const { values, object } = rowOf(sample, i);
      const byArray = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: `t${i}`, features: values } });
      // Same names, another key order.
      const shuffled = Object.fromEntries(Object.entries(object).reverse());
      const byObject = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: `t${i}`, features: shuffled } });
      expect(byArray.statusCode).toBe(200);
      expect(byObject.statusCode).toBe(200);
      const a = byArray.json();
      const b = byObject.json();
      expect(b.fraud_score).toBe(a.fraud_score);
      expect(b.model_scores).toEqual(a.model_scores);

      const row = Float32Array.from(values);
      const rfScore = rf.predictProba(row, 1)[0] as number;
      const ifScore = iforest.predictProba(row, 1)[0] as number;
      expect(a.model_scores).toEqual({ random_forest: rfScore, isolation_forest: ifScore });
      expect(a.fraud_score).toBeCloseTo((0.6 * rfScore + 0.2 * ifScore) / 0.8, 6);
      expect(a.prediction).toBe(a.fraud_score >= 0.3 ? 1 : 0);
      expect(a.threshold).toBe(0.3);
      expect(['HIGH', 'CRITICAL'].includes(a.risk_level)).toBe(a.prediction === 1);
      expect(a).toMatchObject({ transaction_id: `t${i}`, release: 'rel-real', served_by: 'champion', model_versions: { random_forest: '3', isolation_forest: '4' } });
      expect(a.confidence).toBeGreaterThanOrEqual(0);
      expect(a.confidence).toBeLessThanOrEqual(1);
      expect(a.processing_time_ms).toBeGreaterThanOrEqual(0);
    }
  });

  test('members with no weight do not count; a configured threshold overrides the manifest', async () => {
    const models = new FakeModels();
    const x = linear('xgboost', 1);
    const n = linear('neural_network', 2);
    models.championSet = makeSet({ slot: 'champion', id: 'r1', models: { xgboost: x, neural_network: n }, weights: { xgboost: 1 }, threshold: 0.01 });
    const app = await build(models, { ensemble: { threshold: 0.99 } });
    const { values } = rowOf(sample, 3);
    const res = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: 'x', features: values } });
    const body = res.json();
    expect(body.fraud_score).toBeCloseTo(x.predictProba(Float32Array.from(values), 1)[0] as number, 6);
    expect(body.threshold).toBe(0.99);
    expect(body.prediction).toBe(body.fraud_score >= 0.99 ? 1 : 0);
  });
});

describe('batch-predict', () => {
  test('returns results in request order, equal to single predictions', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'r1', models: { xgboost: linear('xgboost', 1), random_forest: linear('random_forest', 4) }, weights: { xgboost: 0.5, random_forest: 0.3 } });
    const app = await build(models);
    const transactions = Array.from({ length: 25 }, (_, i) => ({ transaction_id: `b${i}`, features: i % 2 ? rowOf(sample, i).values : rowOf(sample, i).object }));
    const res = await app.inject({ method: 'POST', url: '/api/v1/batch-predict', headers: bearer('score'), payload: { transactions } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.count).toBe(25);
    expect(body.results.map((r: { transaction_id: string }) => r.transaction_id)).toEqual(transactions.map((t) => t.transaction_id));
    expect(body.fraud_detected).toBe(body.results.filter((r: { prediction: number }) => r.prediction === 1).length);
    for (const i of [0, 5, 24]) {
      const single = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: transactions[i] });
      expect(body.results[i].fraud_score).toBeCloseTo(single.json().fraud_score, 12);
    }
  });
});

describe('auth', () => {
  let app: ApiApp;
  beforeAll(async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'r1', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    app = await build(models);
  });
  const predict = { method: 'POST' as const, url: '/api/v1/predict', payload: { transaction_id: 'a', features: FEATURES.map(() => 0) } };
  const explain = { method: 'POST' as const, url: '/api/v1/explain/shap', payload: { features: FEATURES.map(() => 0) } };
  const explainModels = { method: 'GET' as const, url: '/api/v1/explain/models' };
  const admin = { method: 'GET' as const, url: '/api/v1/admin/deployment' };

  test('no token or an unknown token: 401 with a JSON error and WWW-Authenticate', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-real-token-000000' }, { authorization: `Basic ${TOKENS.admin}` }, { authorization: 'Bearer' }]) {
      for (const route of [predict, explain, admin]) {
        const res = await app.inject({ ...route, headers });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  test('roles nest: score < analyst < admin', async () => {
    const expected: Record<Role, [number, number, number, number]> = {
      score: [200, 403, 403, 403],
      analyst: [200, 200, 200, 403],
      admin: [200, 200, 200, 200],
    };
    for (const role of Object.keys(expected) as Role[]) {
      const got = [];
      for (const route of [predict, explain, explainModels, admin]) got.push((await app.inject({ ...route, headers: bearer(role) })).statusCode);
      expect([role, ...got]).toEqual([role, ...expected[role]]);
    }
    const forbidden = await app.inject({ ...admin, headers: bearer('analyst') });
    expect(forbidden.json()).toEqual({ error: 'forbidden', message: expect.stringContaining('admin') });
  });

  test('health, readiness, metrics and docs need no token', async () => {
    for (const url of ['/health', '/ready', '/metrics', '/docs/json']) expect((await app.inject({ url })).statusCode).toBe(200);
  });

  test('authentication comes before validation: a bad body without a token is 401, not 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/predict', payload: { nonsense: true } });
    expect(res.statusCode).toBe(401);
  });
});

describe('bad payloads answer 400 naming the field, never 500', () => {
  let app: ApiApp;
  beforeAll(async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'r1', models: { xgboost: linear('xgboost', 1), neural_network: linear('neural_network', 2) }, weights: { xgboost: 1, neural_network: 1 } });
    app = await build(models);
  });
  const zeros = () => FEATURES.map(() => 0);
  const withAt = (i: number, v: unknown) => zeros().map((x, j) => (j === i ? v : x));
  const named = () => Object.fromEntries(FEATURES.map((f) => [f, 1]));

  const cases: [string, string, unknown, string][] = [
    ['29 numbers', '/api/v1/predict', { transaction_id: 'a', features: zeros().slice(1) }, 'features'],
    ['31 numbers', '/api/v1/predict', { transaction_id: 'a', features: [...zeros(), 1] }, 'features'],
    ['features as a string', '/api/v1/predict', { transaction_id: 'a', features: 'abc' }, 'features'],
    ['a string among the numbers', '/api/v1/predict', { transaction_id: 'a', features: withAt(4, '1.5') }, 'features[4]'],
    ['NaN (serialised as null)', '/api/v1/predict', { transaction_id: 'a', features: withAt(3, NaN) }, 'features[3]'],
    ['a null by name', '/api/v1/predict', { transaction_id: 'a', features: { ...named(), V7: null } }, 'features.V7'],
    ['an unknown feature name', '/api/v1/predict', { transaction_id: 'a', features: { ...named(), V29: 1 } }, 'features.V29'],
    ['a renamed feature', '/api/v1/predict', { transaction_id: 'a', features: Object.fromEntries(Object.entries(named()).map(([k, v]) => [k === 'Amount' ? 'amount' : k, v])) }, 'features.amount'],
    ['a missing feature', '/api/v1/predict', { transaction_id: 'a', features: Object.fromEntries(Object.entries(named()).filter(([k]) => k !== 'V12')) }, 'features.V12'],
    ['missing transaction_id', '/api/v1/predict', { features: zeros() }, 'transaction_id'],
    ['empty transaction_id', '/api/v1/predict', { transaction_id: '', features: zeros() }, 'transaction_id'],
    ['129-character transaction_id', '/api/v1/predict', { transaction_id: 'x'.repeat(129), features: zeros() }, 'transaction_id'],
    ['numeric transaction_id', '/api/v1/predict', { transaction_id: 12, features: zeros() }, 'transaction_id'],
    ['missing features', '/api/v1/predict', { transaction_id: 'a' }, 'features'],
    ['an unknown top-level field', '/api/v1/predict', { transaction_id: 'a', features: zeros(), metadata: {} }, 'metadata'],
    ['a body that is an array', '/api/v1/predict', [1, 2], 'body'],
    ['1001 batch items', '/api/v1/batch-predict', { transactions: Array.from({ length: 1001 }, (_, i) => ({ transaction_id: `t${i}`, features: zeros() })) }, 'transactions'],
    ['an empty batch', '/api/v1/batch-predict', { transactions: [] }, 'transactions'],
    ['one bad batch item (schema)', '/api/v1/batch-predict', { transactions: [{ transaction_id: 'a', features: zeros() }, { transaction_id: 'b', features: zeros() }, { transaction_id: 'c', features: withAt(0, null) }] }, 'transactions[2].features[0]'],
    ['one bad batch item (feature names)', '/api/v1/batch-predict', { transactions: [{ transaction_id: 'a', features: zeros() }, { transaction_id: 'b', features: { ...named(), Bogus: 2 } }] }, 'transactions[1].features.Bogus'],
    ['explain: an unknown model kind', '/api/v1/explain/shap', { features: zeros(), model: 'svm' }, 'model'],
    ['explain: a kind the champion lacks', '/api/v1/explain/shap', { features: zeros(), model: 'random_forest' }, 'model'],
    ['explain: top_k 0', '/api/v1/explain/shap', { features: zeros(), top_k: 0 }, 'top_k'],
    ['explain: 29 numbers', '/api/v1/explain/shap', { features: zeros().slice(1) }, 'features'],
  ];
  test.each(cases)('%s', async (_name, url, payload, field) => {
    const res = await app.inject({ method: 'POST', url, headers: bearer('admin'), payload: payload as object });
    expect(res.json()).toEqual({ error: 'invalid_request', message: expect.any(String), field });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain(field === 'body' ? 'body' : field);
  });

  test('1e999 (Infinity after parsing) and values beyond the float32 range', async () => {
    const raw = `{"transaction_id":"a","features":[${withAt(2, 0).map((v, j) => (j === 2 ? '1e999' : String(v))).join(',')}]}`;
    const inf = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { ...bearer('score'), 'content-type': 'application/json' }, payload: raw });
    expect(inf.statusCode).toBe(400);
    expect(inf.json().field).toBe('features[2]');
    const big = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: 'a', features: withAt(5, 1e39) } });
    expect(big.statusCode).toBe(400);
    expect(big.json().field).toBe('features[5]');
  });

  test('malformed JSON, an empty body and a wrong content type are client errors with the same shape', async () => {
    const broken = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { ...bearer('score'), 'content-type': 'application/json' }, payload: '{"transaction_id": "a", ' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
    const empty = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { ...bearer('score'), 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(400);
    const text = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { ...bearer('score'), 'content-type': 'text/plain' }, payload: 'hello' });
    expect(text.statusCode).toBe(400);
    expect(text.json()).toMatchObject({ error: 'invalid_request', field: 'body' });
    const xml = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { ...bearer('score'), 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ error: 'unsupported_media_type' });
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not_found' });
    // Still serving.
    const ok = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: 'a', features: zeros() } });
    expect(ok.statusCode).toBe(200);
  });
});

describe('canary routing', () => {
  test('about 10 % of 2,000 distinct ids go to the canary, each id always to the same slot', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    models.canarySet = makeSet({ slot: 'canary', id: 'cand', models: { xgboost: linear('xgboost', 3) }, weights: { xgboost: 1 } });
    models.percent = 10;
    const app = await build(models);
    const features = FEATURES.map((_, j) => j / 10);
    const slotOf = new Map<string, string>();
    for (let b = 0; b < 2; b++) {
      const transactions = Array.from({ length: 1000 }, (_, i) => ({ transaction_id: `txn_${(b * 1000 + i).toString(16).padStart(12, '0')}`, features }));
      const res = await app.inject({ method: 'POST', url: '/api/v1/batch-predict', headers: bearer('score'), payload: { transactions } });
      expect(res.statusCode).toBe(200);
      for (const r of res.json().results) {
        slotOf.set(r.transaction_id, r.served_by);
        expect(r.release).toBe(r.served_by === 'canary' ? 'cand' : 'champ');
      }
    }
    expect(slotOf.size).toBe(2000);
    const canaryShare = ([...slotOf.values()].filter((s) => s === 'canary').length / 2000) * 100;
    expect(canaryShare).toBeGreaterThanOrEqual(8);
    expect(canaryShare).toBeLessThanOrEqual(12);

    // Sticky: the same ids, one by one, land where the batch put them.
    for (const id of [...slotOf.keys()].slice(0, 150)) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: id, features } });
      expect(res.json().served_by).toBe(slotOf.get(id));
    }

    // A loaded canary with a 0 % share, or no canary, serves nobody.
    models.percent = 0;
    const none = await app.inject({
      method: 'POST',
      url: '/api/v1/batch-predict',
      headers: bearer('score'),
      payload: { transactions: [...slotOf.keys()].slice(0, 300).map((transaction_id) => ({ transaction_id, features })) },
    });
    expect(new Set(none.json().results.map((r: { served_by: string }) => r.served_by))).toEqual(new Set(['champion']));
  });
});

describe('no champion loaded', () => {
  test('/ready and the scoring routes answer 503 with a clear message; /health stays 200', async () => {
    const models = new FakeModels();
    models.rejectedList = [{ slot: 'champion', release: 'bad-rel', reason: 'sha256 mismatch of xgboost/model.json', at: '2025-01-03T00:00:00.000Z' }];
    const app = await build(models);
    const ready = await app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready' });
    for (const [url, payload] of [
      ['/api/v1/predict', { transaction_id: 'a', features: FEATURES.map(() => 0) }],
      ['/api/v1/batch-predict', { transactions: [{ transaction_id: 'a', features: FEATURES.map(() => 0) }] }],
      ['/api/v1/explain/shap', { features: FEATURES.map(() => 0) }],
    ] as const) {
      const res = await app.inject({ method: 'POST', url, headers: bearer('admin'), payload });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'no_champion', message: expect.stringContaining('no champion') });
    }
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'degraded', champion: null, canary: null, rejected: models.rejectedList });

    // Once a champion appears, the same app is ready.
    models.championSet = makeSet({ slot: 'champion', id: 'good', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    expect((await app.inject({ url: '/ready' })).json()).toEqual({ status: 'ready', release: 'good' });
  });
});

describe('GET /health', () => {
  test('reports the loaded releases, the canary share and the uptime from the injected clock', async () => {
    let t = Date.parse('2025-05-01T10:00:00Z');
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1), random_forest: linear('random_forest', 2) }, weights: { xgboost: 1 } });
    models.canarySet = makeSet({ slot: 'canary', id: 'cand', models: { xgboost: linear('xgboost', 3) }, weights: { xgboost: 1 } });
    models.percent = 25;
    const app = await build(models, { now: () => t });
    t += 90_500;
    const body = (await app.inject({ url: '/health' })).json();
    expect(body).toEqual({
      status: 'ok',
      timestamp: '2025-05-01T10:01:30.500Z',
      uptime_seconds: 90.5,
      champion: { release: 'champ', loaded_at: '2025-01-02T00:00:00.000Z', members: [{ kind: 'xgboost', version: '3' }, { kind: 'random_forest', version: '4' }] },
      canary: { release: 'cand', loaded_at: '2025-01-02T00:00:00.000Z', members: [{ kind: 'xgboost', version: '3' }] },
      canary_percent: 25,
      rejected: [],
    });
  });
});

describe('GET /metrics', () => {
  test('exposes request, latency, score and prediction series after traffic, per app instance', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    models.canarySet = makeSet({ slot: 'canary', id: 'cand', models: { xgboost: linear('xgboost', 3) }, weights: { xgboost: 1 } });
    models.percent = 50;
    const app = await build(models);
    const other = await build(models);
    const features = FEATURES.map(() => 0.5);
    for (let i = 0; i < 40; i++) await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: `m${i}`, features } });
    await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: 'bad' } });
    await app.inject({ url: '/no/such/route' });
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const champion = value('fraud_api_requests_total{route="/api/v1/predict",status="200",served_by="champion"}') ?? 0;
    const canary = value('fraud_api_requests_total{route="/api/v1/predict",status="200",served_by="canary"}') ?? 0;
    expect(champion + canary).toBe(40);
    expect(champion).toBeGreaterThan(0);
    expect(canary).toBeGreaterThan(0);
    expect(value('fraud_api_requests_total{route="/api/v1/predict",status="400",served_by="none"}')).toBe(1);
    expect(value('fraud_api_requests_total{route="unmatched",status="404",served_by="none"}')).toBe(1);
    expect(value('fraud_api_request_duration_seconds_count{route="/api/v1/predict",served_by="champion"}')).toBe(champion);
    expect(value('fraud_api_prediction_score_count{served_by="canary",release="cand"}')).toBe(canary);
    expect(text).toContain('fraud_api_prediction_score_bucket{le="0.05",served_by="champion",release="champ"}');
    expect(text).toContain('fraud_api_prediction_score_bucket{le="1",served_by="champion",release="champ"}');
    const predicted = (p: 0 | 1) =>
      (value(`fraud_api_predictions_total{served_by="champion",release="champ",prediction="${p}"}`) ?? 0) +
      (value(`fraud_api_predictions_total{served_by="canary",release="cand",prediction="${p}"}`) ?? 0);
    expect(predicted(0) + predicted(1)).toBe(40);

    const otherText = (await other.inject({ url: '/metrics' })).body;
    expect(otherText).not.toContain('route="/api/v1/predict"');
  });
});

describe('GET /api/v1/admin/deployment', () => {
  test('counts requests, errors and scores per slot and restarts when a slot’s release changes', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ-1', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    models.canarySet = makeSet({ slot: 'canary', id: 'cand-1', models: { xgboost: linear('xgboost', 3) }, weights: { xgboost: 1 } });
    models.percent = 30;
    models.routingFile = { schemaVersion: 1, canaryPercent: 30, championRelease: 'champ-1', canaryRelease: 'cand-1', deploymentId: 'canary-wf-1', updatedAt: '2025-01-05T00:00:00.000Z' };
    const app = await build(models);
    const features = FEATURES.map((_, j) => j / 7);
    const ids = Array.from({ length: 60 }, (_, i) => `dep-${i}`);
    const served = { champion: 0, canary: 0 } as Record<'champion' | 'canary', number>;
    for (const id of ids) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: id, features } });
      served[res.json().served_by as 'champion' | 'canary'] += 1;
    }
    const status = async () => {
      const res = await app.inject({ url: '/api/v1/admin/deployment', headers: bearer('admin') });
      expect(res.statusCode).toBe(200);
      return res.json();
    };
    let s = await status();
    expect(s.routing).toEqual(models.routingFile);
    expect(s.champion).toEqual({ release: 'champ-1', members: models.championSet.manifest.members, loadedAt: '2025-01-02T00:00:00.000Z' });
    expect(s.canary.release).toBe('cand-1');
    expect(s.live.champion).toMatchObject({ release: 'champ-1', requests: served.champion, errors: 0 });
    expect(s.live.canary).toMatchObject({ release: 'cand-1', requests: served.canary, errors: 0 });
    expect(served.canary).toBeGreaterThan(0);
    for (const slot of ['champion', 'canary'] as const) {
      expect(s.live[slot].scoreHistogram).toHaveLength(20);
      expect(s.live[slot].scoreHistogram.reduce((a: number, b: number) => a + b, 0)).toBe(served[slot]);
      expect(s.live[slot].p95Ms).toBeGreaterThanOrEqual(s.live[slot].p50Ms);
      expect(s.live[slot].p50Ms).toBeGreaterThan(0);
    }

    // A new canary release: its stats start from zero, the champion's go on.
    models.canarySet = makeSet({ slot: 'canary', id: 'cand-2', models: { xgboost: linear('xgboost', 5) }, weights: { xgboost: 1 } });
    s = await status();
    expect(s.live.canary).toMatchObject({ release: 'cand-2', requests: 0, errors: 0, p50Ms: 0, p95Ms: 0 });
    expect(s.live.canary.scoreHistogram).toEqual(new Array(20).fill(0));
    expect(s.live.champion.requests).toBe(served.champion);

    // A canary that fails to score: 500 without internals, counted as canary errors; the server keeps serving.
    models.canarySet = makeSet({ slot: 'canary', id: 'cand-3', models: { xgboost: linear('xgboost', 5) }, weights: { xgboost: 1 }, broken: true });
    let failures = 0;
    for (const id of ids) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('score'), payload: { transaction_id: id, features } });
      if (res.statusCode === 500) {
        failures += 1;
        expect(res.json()).toEqual({ error: 'internal_error', message: expect.stringContaining('request id') });
        expect(res.body).not.toContain('/secret/path');
        expect(res.body).not.toMatch(/at .*\.ts/);
      } else {
        expect(res.statusCode).toBe(200);
      }
    }
    expect(failures).toBe(served.canary);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain(`fraud_api_requests_total{route="/api/v1/predict",status="500",served_by="canary"} ${failures}`);
    s = await status();
    expect(s.live.canary).toMatchObject({ release: 'cand-3', requests: failures, errors: failures });
    expect(s.live.champion).toMatchObject({ release: 'champ-1', requests: 2 * served.champion, errors: 0 });

    // Promotion: the champion slot now serves another release, so its stats restart.
    models.championSet = makeSet({ slot: 'champion', id: 'champ-2', models: { xgboost: linear('xgboost', 5) }, weights: { xgboost: 1 } });
    models.canarySet = undefined;
    s = await status();
    expect(s.live.champion).toMatchObject({ release: 'champ-2', requests: 0 });
    expect(s.live.canary).toMatchObject({ release: null, requests: 0 });
    expect(s.canary).toBeNull();
  });
});

describe('explain', () => {
  test('explains a champion member with the injected explainer and lists methods per kind', async () => {
    const models = new FakeModels();
    const xgb = linear('xgboost', 1);
    const nn = linear('neural_network', 2);
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: xgb, neural_network: nn }, weights: { xgboost: 0.7, neural_network: 0.3 } });
    const calls: { model: FraudModel; row: Float32Array; topK?: number }[] = [];
    const explain: ExplainFn = (model, row, opts) => {
      calls.push({ model, row: row.slice(), topK: opts.topK });
      return fakeExplain(model, row, opts);
    };
    const app = await build(models, { explain });
    const { values, object } = rowOf(sample, 2);

    const res = await app.inject({ method: 'POST', url: '/api/v1/explain/shap', headers: bearer('analyst'), payload: { transaction_id: 'e1', features: object, top_k: 5 } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.model).toBe(xgb);
    expect(Array.from(calls[0]?.row ?? [])).toEqual(values);
    expect(calls[0]?.topK).toBe(5);
    const expected = fakeExplain(xgb, Float32Array.from(values), { topK: 5 }) as ExplainResult;
    expect(body).toEqual({
      transaction_id: 'e1',
      model: 'xgboost',
      version: '3',
      release: 'champ',
      method: expected.method,
      output_space: 'margin',
      bias: expected.bias,
      output: expected.output,
      contributions: expected.contributions,
      top: expected.top,
      processing_time_ms: expect.any(Number),
    });

    // The neural network is explained with a kernel method: without background rows, 409.
    const nnRes = await app.inject({ method: 'POST', url: '/api/v1/explain/shap', headers: bearer('analyst'), payload: { features: values, model: 'neural_network' } });
    expect(nnRes.statusCode).toBe(409);
    expect(nnRes.json()).toEqual({ error: 'background_unavailable', message: expect.stringContaining('background') });

    const list = await app.inject({ url: '/api/v1/explain/models', headers: bearer('analyst') });
    expect(list.json()).toEqual({
      champion: {
        release: 'champ',
        models: [
          { kind: 'xgboost', version: '3', registered_model: 'fraud_detection_xgboost', weight: 0.7, method: 'tree_shap', needs_background: false, available: true },
          {
            kind: 'neural_network',
            version: '4',
            registered_model: 'fraud_detection_neural_network',
            weight: 0.3,
            method: 'kernel_shap',
            needs_background: true,
            available: false,
            unavailable_reason: expect.stringContaining('background'),
          },
        ],
      },
      canary: null,
    });
  });

  test('kernel methods get the configured background; a set without model objects answers 501', async () => {
    const models = new FakeModels();
    const nn = linear('neural_network', 2);
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { neural_network: nn }, weights: { neural_network: 1 } });
    const background = { features: sample.slice(0, 30 * 12), numRows: 12 };
    let seen: unknown;
    const app = await build(models, {
      background,
      explain: (model, row, opts) => {
        seen = opts.background;
        return fakeExplain(model, row, opts);
      },
    });
    const res = await app.inject({ method: 'POST', url: '/api/v1/explain/shap', headers: bearer('admin'), payload: { features: rowOf(sample, 0).values, model: 'neural_network' } });
    expect(res.statusCode).toBe(200);
    expect(seen).toBe(background);
    expect(res.json().top).toHaveLength(10);

    models.championSet = makeSet({ slot: 'champion', id: 'opaque', models: { neural_network: nn }, weights: { neural_network: 1 }, hideModels: true });
    const opaque = await app.inject({ method: 'POST', url: '/api/v1/explain/shap', headers: bearer('admin'), payload: { features: rowOf(sample, 0).values, model: 'neural_network' } });
    expect(opaque.statusCode).toBe(501);
    expect(opaque.json().error).toBe('explain_unavailable');
  });

  test('an explainer that throws gives a 500 without details', async () => {
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 } });
    const app = await build(models, {
      explain: () => {
        throw new Error('boom in /internal/shap.ts');
      },
    });
    const res = await app.inject({ method: 'POST', url: '/api/v1/explain/shap', headers: bearer('analyst'), payload: { features: FEATURES.map(() => 0) } });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('/internal/shap.ts');
  });
});

describe('logs', () => {
  test('bearer tokens never reach the log, even when a request’s headers are logged whole', async () => {
    const { logger, text } = captureLogger();
    const models = new FakeModels();
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 }, broken: false });
    const app = await build(models, { logger });
    const wrong = 'wrong-token-that-should-not-leak-1234';
    const payload = { transaction_id: 'l1', features: FEATURES.map(() => 0) };
    for (const role of Object.keys(TOKENS) as Role[]) {
      await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer(role), payload });
      await app.inject({ method: 'GET', url: '/api/v1/admin/deployment', headers: bearer(role) });
      await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer(role), payload: { transaction_id: 'x' } });
    }
    await app.inject({ method: 'POST', url: '/api/v1/predict', headers: { authorization: `Bearer ${wrong}` }, payload });
    models.championSet = makeSet({ slot: 'champion', id: 'champ', models: { xgboost: linear('xgboost', 1) }, weights: { xgboost: 1 }, broken: true });
    await app.inject({ method: 'POST', url: '/api/v1/predict', headers: bearer('admin'), payload });
    // Code that logs request headers whole (a debugging aid someone may add) is covered by redaction.
    app.log.info({ req: { headers: { authorization: `Bearer ${TOKENS.admin}` } }, headers: { authorization: `Bearer ${TOKENS.score}` } }, 'headers');

    const logged = text();
    expect(logged).toContain('incoming request');
    expect(logged).toContain('unhandled error');
    expect(logged).toContain('[redacted]');
    for (const token of [...Object.values(TOKENS), wrong]) expect(logged).not.toContain(token);
  });
});

describe('docs', () => {
  test('/docs serves the interactive docs and the OpenAPI document lists every route with its security', async () => {
    const app = await build(new FakeModels());
    const docs = await app.inject({ url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
    const page = docs.statusCode === 302 ? await app.inject({ url: new URL(docs.headers.location as string, 'http://x/docs/').pathname }) : docs;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('swagger');

    const spec = (await app.inject({ url: '/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths).sort()).toEqual(
      ['/api/v1/admin/deployment', '/api/v1/batch-predict', '/api/v1/explain/models', '/api/v1/explain/shap', '/api/v1/predict', '/health', '/metrics', '/ready'].sort(),
    );
    expect(spec.paths['/api/v1/predict'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(spec.paths['/health'].get.security).toBeUndefined();
    expect(spec.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(spec.paths['/api/v1/predict'].post.requestBody.content['application/json'].schema.properties.features).toBeDefined();
    expect(Object.keys(spec.paths['/api/v1/predict'].post.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '503']));
    expect(JSON.stringify(spec)).toContain('CRITICAL');
  });
});
