import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { trainModel } from '../../lib/ml/models';
import {
  artifactPathOnDisk,
  findAdminToken,
  gatherApi,
  gatherStore,
  localArtifactRoot,
  ModelsCliUsageError,
  parseModelsArgs,
  pyfuncLoadAll,
  REQUIRED_MODEL_FILES,
  runModelsCli,
  useColor,
  withDefaults,
  type ModelsReportOutput,
} from '../../lib/models-report';
import { mlflowModelFiles } from '../../lib/packaging/mlflow-model';
import { freePort } from '../../lib/stack/net';

/** The command line, where things are on disk, and the gatherers' handling of what is broken or unreachable. */

describe('parseModelsArgs', () => {
  it('defaults: the table, no Python; --check turns Python on unless --no-python', () => {
    expect(parseModelsArgs([])).toEqual({ check: false, json: false, report: withDefaults({ python: false }) });
    expect(parseModelsArgs([])!.report).toMatchObject({ experimentName: 'fraud_detection_training', models: ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'], runsPerModel: 3 });
    expect(parseModelsArgs(['--check'])!.report.python).toBe(true);
    expect(parseModelsArgs(['--check', '--no-python'])!.report.python).toBe(false);
    expect(parseModelsArgs(['--python'])!.report.python).toBe(true);
    expect(parseModelsArgs(['--json', '--experiment', 'exp', '--models', 'xgboost, isolation_forest,xgboost', '--runs', '0'])).toMatchObject({
      json: true,
      report: { experimentName: 'exp', models: ['xgboost', 'isolation_forest'], runsPerModel: 0 },
    });
    expect(parseModelsArgs(['--help'])).toBeUndefined();
  });

  it.each([
    [['--bogus'], /bogus/],
    [['--models', 'xgboost,svm'], /--models takes a comma-separated list of xgboost, random_forest, neural_network, isolation_forest; got "xgboost,svm"/],
    [['--models', ''], /--models/],
    [['--runs=-1'], /--runs must be an integer >= 0, got "-1"/],
    [['--runs', '1.5'], /--runs/],
    [['--experiment', ' '], /--experiment must not be empty/],
    [['--python', '--no-python'], /contradict/],
    [['extra'], /positional|Unexpected argument/i],
  ])('refuses %j', (argv, message) => {
    expect(() => parseModelsArgs(argv)).toThrow(ModelsCliUsageError);
    expect(() => parseModelsArgs(argv)).toThrow(message);
  });

  it('withDefaults refuses options that cannot work', () => {
    expect(() => withDefaults({ models: [] })).toThrow(TypeError);
    expect(() => withDefaults({ runsPerModel: 2.5 })).toThrow(/runsPerModel/);
    expect(() => withDefaults({ httpTimeoutMs: 0 })).toThrow(/httpTimeoutMs/);
    expect(() => withDefaults({ models: ['svm' as never] })).toThrow(/unknown model kind "svm"/);
  });
});

describe('where artifacts are on disk', () => {
  it('the local stack keeps them under <DATA_DIR>/mlflow/artifacts; another server’s disk is not ours to show', () => {
    expect(localArtifactRoot({ mlflowTrackingUri: 'http://127.0.0.1:5001', dataDir: '/d' })).toBe('/d/mlflow/artifacts');
    expect(localArtifactRoot({ mlflowTrackingUri: 'http://localhost:5001', dataDir: '/d' })).toBe('/d/mlflow/artifacts');
    expect(localArtifactRoot({ mlflowTrackingUri: 'http://mlflow.internal:5000', dataDir: '/d' })).toBeNull();
    expect(localArtifactRoot({ mlflowTrackingUri: 'https://127.0.0.1:5001', dataDir: '/d' })).toBeNull();
  });

  it('maps mlflow-artifacts: URIs below the root, and nothing else', () => {
    const root = '/d/mlflow/artifacts';
    expect(artifactPathOnDisk('mlflow-artifacts:/1/abc/artifacts/model', root)).toBe('/d/mlflow/artifacts/1/abc/artifacts/model');
    expect(artifactPathOnDisk('mlflow-artifacts://127.0.0.1:5001/1/abc', root)).toBe('/d/mlflow/artifacts/1/abc');
    expect(artifactPathOnDisk('mlflow-artifacts:/1/a%20b', root)).toBe('/d/mlflow/artifacts/1/a b');
    expect(artifactPathOnDisk('mlflow-artifacts:/', root)).toBe(root);
    expect(artifactPathOnDisk('mlflow-artifacts://other-host:5000/1/abc', root)).toBeNull();
    expect(artifactPathOnDisk('mlflow-artifacts:/1/../../etc', root)).toBeNull();
    expect(artifactPathOnDisk('mlflow-artifacts:/1/%2E%2E/x', root)).toBeNull();
    expect(artifactPathOnDisk('s3://bucket/1/abc', root)).toBeNull();
    expect(artifactPathOnDisk('mlflow-artifacts:/1/abc', null)).toBeNull();
  });

  it('the required model files are ones the packaging writes', async () => {
    const split = stratifiedSplit(generateTransactions({ rows: 600, seed: 4, fraudRate: 0.1 }), { seed: 4 });
    const { model } = await trainModel('isolation_forest', split, { nTrees: 5 });
    const saved = model.toJSON();
    const files = mlflowModelFiles({ saved, modelJson: JSON.stringify(saved), runId: 'r', threshold: 0.5, example: { features: split.test.features.subarray(0, 30), numRows: 1 }, mlflowVersion: '3.17.2' });
    for (const name of REQUIRED_MODEL_FILES) expect([...files.keys()]).toContain(name);
  });
});

describe('gatherers report what is broken instead of throwing', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'models-report-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a store with a champion directory that is not a symlink and an invalid routing file', async () => {
    mkdirSync(join(dir, 'champion'));
    writeFileSync(join(dir, 'traffic_routing.json'), '{"schemaVersion": 1, "canaryPercent": 250}');
    const store = await gatherStore(dir);
    expect(store.exists).toBe(true);
    expect(store.routing).toBeNull();
    expect(store.routingError).toMatch(/traffic_routing\.json/);
    expect(store.slots.map((s) => [s.slot, s.state])).toEqual([
      ['champion', 'broken'],
      ['canary', 'empty'],
    ]);
    expect(store.slots[0]!.load).toEqual({ status: 'failed', detail: expect.stringContaining('is not a symlink to releases/<id>') });
  });

  it('a store directory that does not exist yet', async () => {
    const store = await gatherStore(join(dir, 'nope'));
    expect(store).toMatchObject({ exists: false, routing: null, routingError: null });
    expect(store.slots.every((s) => s.state === 'empty')).toBe(true);
  });

  it('the API: unreachable, refusing the token, or asked without one', async () => {
    const down = await gatherApi('http://127.0.0.1:1', null, { timeoutMs: 2000, fetch: () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') })) });
    expect(down).toMatchObject({ reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:1', source: null });

    const health = { status: 'ok', champion: { release: 'a'.repeat(16), loaded_at: '2025-11-04T11:00:00.000Z', members: [{ kind: 'xgboost', version: '3' }] }, canary: null, canary_percent: 0, rejected: [] };
    const seen: string[] = [];
    const fake = (adminStatus: number): typeof fetch =>
      (async (url: string | URL | Request, init?: RequestInit) => {
        seen.push(`${String(url)} ${JSON.stringify(init?.headers ?? {})}`);
        if (String(url).endsWith('/health')) return new Response(JSON.stringify(health), { status: 200 });
        return new Response(JSON.stringify({ error: 'nope' }), { status: adminStatus });
      }) as typeof fetch;
    const refused = await gatherApi('http://api', { value: 'secret', source: 'API_ADMIN_TOKEN' }, { timeoutMs: 2000, fetch: fake(401) });
    expect(refused).toMatchObject({ reachable: true, source: 'health', adminError: 'the API refused the admin token from API_ADMIN_TOKEN (HTTP 401)' });
    expect(refused.champion).toEqual({ release: 'a'.repeat(16), loadedAt: '2025-11-04T11:00:00.000Z', members: [{ kind: 'xgboost', version: '3' }] });
    expect(seen).toEqual(['http://api/health {}', 'http://api/api/v1/admin/deployment {"authorization":"Bearer secret"}']);

    const anonymous = await gatherApi('http://api', null, { timeoutMs: 2000, fetch: fake(500) });
    expect(anonymous).toMatchObject({ reachable: true, source: 'health', token: null, adminError: expect.stringMatching(/no admin token/) });
  });

  it('the admin token: the workers’ variable, then the API’s, then the stack’s secrets file', () => {
    const cfg = { apiAdminToken: undefined, dataDir: dir };
    expect(findAdminToken(cfg, {})).toBeNull();
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', 'api-admin-token'), 'from-file\n');
    expect(findAdminToken(cfg, {})).toEqual({ value: 'from-file', source: 'secrets file' });
    expect(findAdminToken(cfg, { API_TOKEN_ADMIN: 'api-side' })).toEqual({ value: 'api-side', source: 'API_TOKEN_ADMIN' });
    expect(findAdminToken({ ...cfg, apiAdminToken: 'worker-side' }, { API_TOKEN_ADMIN: 'api-side' })).toEqual({ value: 'worker-side', source: 'API_ADMIN_TOKEN' });
  });

  it('pyfunc without a venv: every version skipped, with the reason', async () => {
    const results = await pyfuncLoadAll(['models:/m/1', 'models:/m/2'], { venvDir: join(dir, 'no-venv'), trackingUri: 'http://127.0.0.1:1', timeoutMs: 1000 });
    expect([...results.values()]).toEqual([
      { status: 'skipped', detail: `no Python at ${join(dir, 'no-venv', 'bin', 'python')} (npm run bootstrap creates it)` },
      { status: 'skipped', detail: `no Python at ${join(dir, 'no-venv', 'bin', 'python')} (npm run bootstrap creates it)` },
    ]);
  });
});

describe('runModelsCli', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'models-cli-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(argv: string[], extra: { isTTY?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    const [mlflowPort, apiPort] = [await freePort(), await freePort()];
    let out = '';
    let err = '';
    const code = await runModelsCli(argv, {
      env: { MLFLOW_TRACKING_URI: `http://127.0.0.1:${mlflowPort}`, API_URL: `http://127.0.0.1:${apiPort}`, DATA_DIR: dir, VENV_DIR: join(dir, 'venv'), ...extra.env },
      out: (t) => void (out += t),
      err: (t) => void (err += t),
      isTTY: extra.isTTY ?? false,
    });
    return { code, out, err, mlflowPort, apiPort };
  }

  it('bad usage exits 2 with the reason and the usage; --help exits 0', async () => {
    const bad = await run(['--models', 'svm']);
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err).toMatch(/^models: --models takes/);
    expect(bad.err).toContain('Usage: npm run models');
    const badEnv = await run([], { env: { MLFLOW_TRACKING_URI: 'ftp://x' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.err).toMatch(/MLFLOW_TRACKING_URI=ftp:\/\/x must be an http\(s\) URL/);
    const help = await run(['--help']);
    expect(help).toMatchObject({ code: 0, err: '' });
    expect(help.out).toContain('--check');
  });

  it('with nothing running, --check --json reports unreachable servers and an empty store as failures, and exits 1', async () => {
    const r = await run(['--check', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as ModelsReportOutput;
    expect(report.ok).toBe(false);
    expect(report.mlflow).toMatchObject({ reachable: false, trackingUri: `http://127.0.0.1:${r.mlflowPort}`, artifactRootOnDisk: join(dir, 'mlflow', 'artifacts') });
    expect(report.api).toMatchObject({ reachable: false, url: `http://127.0.0.1:${r.apiPort}` });
    expect(report.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual(['mlflow-reachable', 'store-readable', 'api-reachable']);
    expect(report.summary.map((s) => s.where)).toEqual(['MLflow', 'Model store champion', 'Model store canary', 'Traffic routing', 'Serving API']);
  });

  it('without --check the report exits 0 even with problems; colours only on a TTY without NO_COLOR', async () => {
    const plain = await run([]);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('Problems (3):');
    expect(plain.out).not.toContain('\u001b[');
    expect((await run(['--check', '--no-python'], { isTTY: true })).out).toContain('\u001b[31m✗');
    expect((await run(['--check', '--no-python'], { isTTY: true, env: { NO_COLOR: '1' } })).out).not.toContain('\u001b[');
    expect(useColor({ isTTY: true, env: { NO_COLOR: '' } })).toBe(true);
  });
});
