import { checkModelsReport, formatTable, locationSummary, renderChecks, renderReport, visibleLength, type CheckResult, type ModelsReport, type VersionInspection, type VersionReport } from '../../lib/models-report';
import type { ModelSetManifest, TrafficRouting } from '../../lib/serving/contract';

/**
 * The report's pure half: the diagnostics over hand-built reports (one healthy stack, then one
 * fault at a time), the location summary and the terminal rendering.
 */

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const shaOf = (c: string) => c.repeat(64);
const ROOT = '/data/mlflow/artifacts';
const FILES = ['MLmodel', 'model.onnx', 'model.json', 'requirements.txt', 'python_env.yaml', 'conda.yaml', 'input_example.json'];

function inspection(name: string, version: string, checkedAs: string[], run: string, sha: string): VersionInspection {
  return {
    checkedAs,
    modelUri: `models:/${name}/${version}`,
    artifactUri: `mlflow-artifacts:/1/${run}/artifacts/model`,
    artifactPath: `${ROOT}/1/${run}/artifacts/model`,
    files: FILES.map((f) => ({ name: f, size: 100 })),
    missingFiles: [],
    listError: null,
    modelJsonSha256: sha,
    load: { status: 'ok', detail: 'loaded' },
    pyfunc: { status: 'ok', detail: 'loaded with mlflow.onnx' },
  };
}

function version(name: string, v: string, stage: string, run: string, sha: string, aliases: string[], checkedAs: string[] | null): VersionReport {
  return {
    version: v,
    stage,
    status: 'READY',
    aliases,
    source: `mlflow-artifacts:/1/${run}/artifacts/model`,
    runId: run,
    createdAt: '2025-11-04T10:00:00.000Z',
    tags: { workflow_id: 'training-1', dataset_digest: 'd'.repeat(64), gate: 'passed' },
    inspection: checkedAs ? inspection(name, v, checkedAs, run, sha) : null,
  };
}

/** xgboost and isolation_forest trained twice: v2 in Staging, v1 in Production and deployed as champion, which the API serves. */
function healthy(): ModelsReport {
  const routing: TrafficRouting = { schemaVersion: 1, canaryPercent: 0, championRelease: A, canaryRelease: null, deploymentId: 'canary-1', updatedAt: '2025-11-04T11:00:00.000Z' };
  const manifest: ModelSetManifest = {
    schemaVersion: 1,
    id: A,
    createdAt: '2025-11-04T11:00:00.000Z',
    members: [
      { kind: 'xgboost', registeredModel: 'fraud_detection_xgboost', version: '1', runId: 'run-x1', sha256: shaOf('1') },
      { kind: 'isolation_forest', registeredModel: 'fraud_detection_isolation_forest', version: '1', runId: 'run-i1', sha256: shaOf('3') },
    ],
    weights: { xgboost: 0.5, isolation_forest: 0.05 },
    threshold: 0.4,
  };
  const model = (kind: 'xgboost' | 'isolation_forest', short: string, shas: [string, string]) => {
    const name = `fraud_detection_${kind}`;
    return {
      kind,
      name,
      registered: true,
      error: null,
      aliases: { staging: '2', champion: '1', production: '1' },
      versions: [
        version(name, '2', 'Staging', `run-${short}2`, shas[1], ['staging'], ['Staging']),
        version(name, '1', 'Production', `run-${short}1`, shas[0], ['champion', 'production'], ['Production', 'champion/']),
      ],
    };
  };
  return {
    name: 'fraud-ml-models-report',
    formatVersion: 1,
    generatedAt: '2025-11-04T12:00:00.000Z',
    models: ['xgboost', 'isolation_forest'],
    mlflow: {
      trackingUri: 'http://127.0.0.1:5001',
      reachable: true,
      serverVersion: '3.17.2',
      error: null,
      artifactRootOnDisk: ROOT,
      experimentName: 'fraud_detection_training',
      experiment: { id: '1', artifactLocation: 'mlflow-artifacts:/1', artifactPath: `${ROOT}/1`, lifecycleStage: 'active' },
      experimentError: null,
      runs: (['xgboost', 'isolation_forest'] as const).map((kind) => ({
        kind,
        runName: `register_${kind}`,
        runId: `run-${kind[0]}2`,
        status: 'FINISHED',
        startTime: '2025-11-04T10:00:00.000Z',
        endTime: '2025-11-04T10:01:00.000Z',
        metrics: { test_pr_auc: 0.81234, test_recall: 0.7 },
        workflowId: 'training-1',
        artifactUri: `mlflow-artifacts:/1/run-${kind[0]}2/artifacts`,
        artifactPath: `${ROOT}/1/run-${kind[0]}2/artifacts`,
        modelFiles: FILES.map((f) => ({ name: f, size: 2048 })),
        filesError: null,
      })),
    },
    registry: [model('xgboost', 'x', [shaOf('1'), shaOf('2')]), model('isolation_forest', 'i', [shaOf('3'), shaOf('4')])],
    store: {
      dir: '/data/model-store',
      exists: true,
      routing,
      routingError: null,
      slots: [
        { slot: 'champion', path: '/data/model-store/champion', state: 'ok', release: A, since: '2025-11-04T11:00:00.000Z', manifest, load: { status: 'ok', detail: '2 model(s)' }, loadedByApi: true },
        { slot: 'canary', path: '/data/model-store/canary', state: 'empty', release: null, since: null, manifest: null, load: { status: 'skipped', detail: 'the slot is empty' }, loadedByApi: null },
      ],
    },
    api: {
      url: 'http://127.0.0.1:8000',
      reachable: true,
      error: null,
      status: 'ok',
      token: 'API_ADMIN_TOKEN',
      adminError: null,
      source: 'admin',
      champion: { release: A, loadedAt: '2025-11-04T11:00:01.000Z', members: [{ kind: 'xgboost', version: '1' }, { kind: 'isolation_forest', version: '1' }] },
      canary: null,
      canaryPercent: 0,
      routing: { ...routing },
      rejected: [],
    },
  };
}

const failures = (r: ModelsReport): CheckResult[] => checkModelsReport(r).filter((c) => !c.ok);
const reasons = (r: ModelsReport): string[] => failures(r).map((c) => `${c.code}: ${c.message}`);
const xgb = (r: ModelsReport) => r.registry.find((m) => m.kind === 'xgboost')!;
const champion = (r: ModelsReport) => r.store.slots.find((s) => s.slot === 'champion')!;
const canary = (r: ModelsReport) => r.store.slots.find((s) => s.slot === 'canary')!;

describe('checkModelsReport', () => {
  it('passes a healthy stack, with a result for every diagnostic', () => {
    const results = checkModelsReport(healthy());
    expect(results.filter((c) => !c.ok)).toEqual([]);
    expect(new Set(results.map((c) => c.code))).toEqual(
      new Set(['mlflow-reachable', 'model-registered', 'version-in-staging', 'artifacts-present', 'model-loads', 'pyfunc-loads', 'store-readable', 'store-routing', 'store-registry', 'registry-alias', 'api-reachable', 'api-serves-store']),
    );
    // Each checked version (2 models × v1 and v2) is checked for files and both loaders.
    expect(results.filter((c) => c.code === 'pyfunc-loads')).toHaveLength(4);
  });

  it('MLflow unreachable: one failure naming the URI; the store and API are still checked, the registry is not', () => {
    const r = healthy();
    r.mlflow = { ...r.mlflow, reachable: false, error: 'ECONNREFUSED after 2 attempt(s)', serverVersion: null, experiment: null, runs: [] };
    r.registry = [];
    expect(reasons(r)).toEqual(['mlflow-reachable: MLflow unreachable at http://127.0.0.1:5001: ECONNREFUSED after 2 attempt(s) (start it with npm run stack:up, or set MLFLOW_TRACKING_URI)']);
    const codes = new Set(checkModelsReport(r).map((c) => c.code));
    expect(codes.has('store-routing') && codes.has('api-serves-store')).toBe(true);
    expect(codes.has('store-registry') || codes.has('model-registered')).toBe(false);
  });

  it('a model that is not registered, or whose registry entry cannot be read', () => {
    const r = healthy();
    Object.assign(xgb(r), { registered: false, versions: [], aliases: {} });
    expect(reasons(r)).toContain('model-registered: fraud_detection_xgboost is not registered in MLflow: no trainingPipeline run has registered it (npm run train)');
    // The store deploys its v1, which the registry no longer has a model for.
    expect(reasons(r)).toContain(`store-registry: store drift: champion/ release ${A} deploys fraud_detection_xgboost v1, but fraud_detection_xgboost is not registered in MLflow`);
    const s = healthy();
    xgb(s).error = 'MLflow GET /registered-models/get failed with HTTP 500';
    expect(reasons(s)).toContain('model-registered: fraud_detection_xgboost: the MLflow registry could not be read: MLflow GET /registered-models/get failed with HTTP 500');
  });

  it('a model without a version in Staging: a failure when none is in Production either, fine once deployed', () => {
    const r = healthy();
    xgb(r).versions[0]!.stage = 'Archived';
    xgb(r).versions[0]!.inspection = null;
    // Deployment moved v1 on to Production: nothing left in Staging is normal.
    expect(reasons(r)).toEqual([]);
    expect(checkModelsReport(r)).toContainEqual(expect.objectContaining({ code: 'version-in-staging', ok: true, message: 'fraud_detection_xgboost: none in Staging, v1 in Production' }));
    xgb(r).versions[1]!.stage = 'Archived';
    expect(reasons(r)).toContain(
      'version-in-staging: fraud_detection_xgboost has no version in Staging (nor in Production): no trained version passed the quality gate; train it (npm run train)',
    );
  });

  it('missing artifacts: one line per version naming the files and where they should be', () => {
    const r = healthy();
    const i = xgb(r).versions[0]!.inspection!;
    i.missingFiles = ['model.onnx', 'MLmodel'];
    expect(reasons(r)).toEqual([`artifacts-present: fraud_detection_xgboost v2 (Staging): artifacts missing: model/model.onnx, model/MLmodel (in ${ROOT}/1/run-x2/artifacts/model)`]);
    i.artifactPath = null;
    expect(reasons(r)[0]).toMatch(/\(in mlflow-artifacts:\/1\/run-x2\/artifacts\/model\)$/);
    i.listError = 'MLflow GET /api/2.0/mlflow-artifacts/artifacts failed with HTTP 503';
    expect(reasons(r)).toEqual(['artifacts-present: fraud_detection_xgboost v2 (Staging): its model files cannot be listed: MLflow GET /api/2.0/mlflow-artifacts/artifacts failed with HTTP 503']);
  });

  it('a version our loader or pyfunc cannot load; a skipped pyfunc is no failure', () => {
    const r = healthy();
    const i = xgb(r).versions[1]!.inspection!;
    i.load = { status: 'failed', detail: 'Unexpected end of JSON input' };
    i.pyfunc = { status: 'failed', detail: 'ONNXRuntimeError: [ONNXRuntimeError] : 3 : NO_SUCHFILE' };
    expect(reasons(r)).toEqual([
      'model-loads: fraud_detection_xgboost v1 (Production, champion/): our loader cannot load model/model.json: Unexpected end of JSON input',
      "pyfunc-loads: fraud_detection_xgboost v1 (Production, champion/): mlflow.pyfunc.load_model('models:/fraud_detection_xgboost/1') failed: ONNXRuntimeError: [ONNXRuntimeError] : 3 : NO_SUCHFILE",
    ]);
    i.pyfunc = { status: 'skipped', detail: 'mlflow is not importable: ModuleNotFoundError' };
    expect(failures(r).map((c) => c.code)).toEqual(['model-loads']);
  });

  it('a broken champion slot is a store failure, not an API one (the API refuses it on purpose)', () => {
    const r = healthy();
    Object.assign(champion(r), { state: 'broken', manifest: null, load: { status: 'failed', detail: '/data/model-store/releases/aaaaaaaaaaaaaaaa/xgboost/model.json: xgboost model has sha256 0f…, but the manifest says 11…' } });
    expect(reasons(r)).toEqual([`store-readable: champion/ is broken: /data/model-store/releases/${A}/xgboost/model.json: xgboost model has sha256 0f…, but the manifest says 11…`]);
  });

  it('nothing deployed: an empty champion slot', () => {
    const r = healthy();
    Object.assign(champion(r), { state: 'empty', release: null, manifest: null, since: null, loadedByApi: null });
    r.store.routing = null;
    r.api.champion = null;
    r.api.routing = null;
    expect(reasons(r)).toEqual(['store-readable: nothing is deployed: /data/model-store/champion is empty (run the canaryDeployment workflow)']);
  });

  it('store drift: slots that hold other releases than the routing file names, or no routing file at all', () => {
    const r = healthy();
    champion(r).release = B;
    champion(r).manifest = { ...champion(r).manifest!, id: B };
    r.api.champion!.release = B;
    expect(reasons(r)).toEqual([`store-routing: store drift: champion/ holds release ${B} but traffic_routing.json names release ${A} for it`]);

    const c = healthy();
    Object.assign(canary(c), { state: 'ok', release: B, manifest: { ...champion(c).manifest!, id: B }, load: { status: 'ok', detail: '' } });
    c.api.canary = { release: B, loadedAt: null, members: [] };
    expect(reasons(c)).toEqual([`store-routing: store drift: canary/ holds release ${B} but traffic_routing.json names no release for it`]);

    const n = healthy();
    n.store.routing = null;
    n.api.routing = null;
    expect(reasons(n)).toEqual([`store-routing: store drift: champion/ holds release ${A} but there is no traffic_routing.json`]);

    const i = healthy();
    i.store.routing = null;
    i.store.routingError = '/data/model-store/traffic_routing.json: field canaryPercent: must be <= 100';
    expect(reasons(i)).toEqual(['store-readable: traffic_routing.json is invalid: /data/model-store/traffic_routing.json: field canaryPercent: must be <= 100']);
  });

  it('store drift against the registry: a version it lacks, another run, another model.json', () => {
    const missing = healthy();
    champion(missing).manifest!.members[0]!.version = '7';
    expect(reasons(missing)).toContain(`store-registry: store drift: champion/ release ${A} deploys fraud_detection_xgboost v7, a version the MLflow registry does not have`);

    const run = healthy();
    champion(run).manifest!.members[0]!.runId = 'run-other';
    expect(reasons(run)).toEqual([`store-registry: store drift: champion/ release ${A} deploys fraud_detection_xgboost v1 from run run-other, but the registry's v1 comes from run run-x1`]);

    const bytes = healthy();
    champion(bytes).manifest!.members[1]!.sha256 = shaOf('9');
    expect(reasons(bytes)).toEqual([
      `store-registry: store drift: champion/ release ${A} has isolation_forest/model.json with sha256 999999999999…, but MLflow's fraud_detection_isolation_forest v1 model/model.json has 333333333333…`,
    ]);
    // Without MLflow's model.json there is nothing to compare: artifacts-present says why, once.
    xgb(bytes).versions[1]!.inspection!.modelJsonSha256 = null;
    xgb(bytes).versions[1]!.inspection!.missingFiles = ['model.json'];
    xgb(bytes).versions[1]!.inspection!.load = { status: 'failed', detail: 'model.json is missing' };
    expect(failures(bytes).filter((c) => c.subject.includes('fraud_detection_xgboost')).map((c) => c.code)).toEqual(['artifacts-present', 'model-loads']);
  });

  it("registry drift: the champion alias points elsewhere than champion/, or nowhere", () => {
    const r = healthy();
    xgb(r).aliases.champion = '2';
    expect(reasons(r)).toEqual(['registry-alias: registry drift: fraud_detection_xgboost@champion is v2 but champion/ deploys v1']);
    delete xgb(r).aliases.champion;
    expect(reasons(r)).toEqual(["registry-alias: registry drift: fraud_detection_xgboost has no 'champion' alias but champion/ deploys v1"]);
  });

  it('API unreachable, or refusing the admin token; no token at all falls back to /health without failing', () => {
    const r = healthy();
    r.api = { ...r.api, reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:8000', status: null, source: null, champion: null, routing: null };
    expect(reasons(r)).toEqual(['api-reachable: API unreachable at http://127.0.0.1:8000: connect ECONNREFUSED 127.0.0.1:8000 (start it with npm run api, or set API_URL)']);

    const refused = healthy();
    refused.api = { ...refused.api, adminError: 'the API refused the admin token from API_ADMIN_TOKEN (HTTP 401)', source: 'health', routing: null };
    expect(reasons(refused)).toEqual(['api-reachable: API at http://127.0.0.1:8000: the API refused the admin token from API_ADMIN_TOKEN (HTTP 401)']);

    const none = healthy();
    none.api = { ...none.api, token: null, adminError: 'no admin token (set API_ADMIN_TOKEN): the routing the API acts on is not shown', source: 'health', routing: null };
    expect(reasons(none)).toEqual([]);
  });

  it('API not reloaded: another release in memory than in the slot (with the rejection reason when it refused it), or an older routing', () => {
    const r = healthy();
    r.api.champion!.release = B;
    expect(reasons(r)).toEqual([
      `api-serves-store: API not reloaded: it serves release ${B} as champion but champion/ holds release ${A}; it picks store changes up within seconds, so check its log or restart it`,
    ]);
    r.api.rejected = [{ slot: 'champion', release: A, reason: 'smoke test of the xgboost failed: NaN', at: '2025-11-04T11:00:02.000Z' }];
    expect(reasons(r)).toEqual([`api-serves-store: API not reloaded: it serves release ${B} as champion but champion/ holds release ${A}; it rejected ${A}: smoke test of the xgboost failed: NaN`]);

    const c = healthy();
    Object.assign(canary(c), { state: 'ok', release: B, manifest: { ...champion(c).manifest!, id: B }, load: { status: 'ok', detail: '' } });
    c.store.routing!.canaryRelease = B;
    c.api.routing!.canaryRelease = B;
    expect(reasons(c)).toEqual([
      `api-serves-store: API not reloaded: it serves nothing as canary but canary/ holds release ${B}; it picks store changes up within seconds, so check its log or restart it`,
    ]);

    const routing = healthy();
    routing.store.routing = { ...routing.store.routing!, canaryPercent: 25, canaryRelease: null, updatedAt: '2025-11-04T11:30:00.000Z' };
    expect(reasons(routing)).toEqual([
      'api-serves-store: API not reloaded: it acts on the routing of 2025-11-04T11:00:00.000Z (canary 0 %) but traffic_routing.json is of 2025-11-04T11:30:00.000Z (canary 25 %)',
    ]);
  });
});

describe('locationSummary', () => {
  it('has the seed table rows: tracking per model, registry per model, the store slots, routing, API', () => {
    const rows = locationSummary(healthy());
    expect(rows.map((r) => r.where)).toEqual([
      'MLflow tracking',
      'MLflow tracking',
      'MLflow registry',
      'MLflow registry',
      'Model store champion',
      'Model store canary',
      'Traffic routing',
      'Serving API',
    ]);
    expect(rows[0]).toEqual({
      where: 'MLflow tracking',
      path: `${ROOT}/1/run-x2/artifacts`,
      content: 'register_xgboost run-x2 (FINISHED); model/: MLmodel, model.onnx, model.json + 4 more (14.0 kB)',
      since: '2025-11-04T10:00:00.000Z',
    });
    expect(rows[2]).toMatchObject({ path: 'models:/fraud_detection_xgboost/Staging', content: 'v2 Staging @staging, v1 Production @champion @production' });
    expect(rows[4]).toMatchObject({ path: `/data/model-store/champion → releases/${A}`, content: 'xgboost v1, isolation_forest v1 (API serves it)' });
    expect(rows[7]).toMatchObject({ path: 'http://127.0.0.1:8000', content: 'champion aaaaaaaaaaaaaaaa, canary none' });
  });
});

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('formatTable', () => {
  it('aligns every column on its widest cell, two spaces apart, without trailing blanks', () => {
    const lines = formatTable(['A', 'LONGER', 'C'], [['xxxx', 'y', 'last'], ['z', 'yyyyyyyy', '']]);
    expect(lines).toEqual(['  A     LONGER    C', '  xxxx  y         last', '  z     yyyyyyyy']);
  });

  it('ignores colour codes when measuring, so coloured cells stay aligned', () => {
    const red = (s: string) => `\u001b[31m${s}\u001b[39m`;
    const plain = formatTable(['K', 'V', 'W'], [['✓', 'abc', 'x'], ['✗✗', 'd', 'y']]);
    const coloured = formatTable(['K', 'V', 'W'], [[red('✓'), 'abc', 'x'], [red('✗✗'), red('d'), 'y']]);
    expect(coloured.map(stripAnsi)).toEqual(plain);
    expect(visibleLength(red('✗✗'))).toBe(2);
  });
});

describe('renderChecks and renderReport', () => {
  it('--check output: one ✓ line per pass, one `✗ <reason>` line per failure, then a count', () => {
    const r = healthy();
    r.api.champion!.release = B;
    const checks = checkModelsReport(r);
    const lines = renderChecks(r, checks).split('\n');
    expect(lines.filter((l) => l.startsWith('✗ '))).toEqual(checks.filter((c) => !c.ok).map((c) => `✗ ${c.message}`));
    expect(lines.filter((l) => l.startsWith('✓ '))).toHaveLength(checks.filter((c) => c.ok).length);
    expect(lines.at(-1)).toBe(`1 of ${checks.length} checks failed`);
  });

  it('says once why pyfunc was not tried, when it was asked for but could not run', () => {
    const r = healthy();
    for (const m of r.registry) for (const v of m.versions) v.inspection!.pyfunc = { status: 'skipped', detail: 'no Python at /x/.venv/bin/python (npm run bootstrap creates it)' };
    const text = renderChecks(r, checkModelsReport(r));
    expect(text.split('\n').filter((l) => l.includes('pyfunc not tried'))).toEqual(['– mlflow.pyfunc not tried: no Python at /x/.venv/bin/python (npm run bootstrap creates it)']);
    expect(text.split('\n').at(-1)).toMatch(/^all \d+ checks passed$/);
  });

  it('shows every section and the problems; colours only when asked, and they change nothing but colour', () => {
    const r = healthy();
    champion(r).manifest!.members[1]!.sha256 = shaOf('9');
    const checks = checkModelsReport(r);
    const plain = renderReport(r, checks);
    const coloured = renderReport(r, checks, { color: true });
    expect(plain).not.toContain('\u001b[');
    expect(coloured).toContain('\u001b[31m✗');
    expect(stripAnsi(coloured)).toBe(plain);
    for (const title of ['MLflow tracking — http://127.0.0.1:5001 (MLflow 3.17.2)', 'MLflow registry', 'Model store — /data/model-store', 'Serving API — http://127.0.0.1:8000', 'Location summary', 'Problems (1):']) {
      expect(plain).toContain(title);
    }
    expect(plain).toContain(`    on disk  ${ROOT}/1/run-x2/artifacts`);
    expect(plain).toContain('model.onnx (2.0 kB)');
    expect(plain.split('\n').at(-1)).toBe(`✗ ${checks.find((c) => !c.ok)!.message}`);
    expect(plain.split('\n').filter((l) => /\s$/.test(l))).toEqual([]);
  });

  it('registry rows line up: every row has the STAGE column where the header has it', () => {
    const lines = renderReport(healthy(), []).split('\n');
    const header = lines.find((l) => l.startsWith('  MODEL ') && l.includes('STAGE'))!;
    const at = header.indexOf('STAGE');
    const rows = lines.filter((l) => l.startsWith('  fraud_detection_') && /Staging|Production/.test(l) && !l.includes('champion/') && !l.includes(', champion/'));
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) expect(row.slice(at)).toMatch(/^(Staging|Production)/);
  });

  it('an unreachable MLflow reads as a finding, not a stack trace', () => {
    const r = healthy();
    r.mlflow = { ...r.mlflow, reachable: false, error: 'ECONNREFUSED after 2 attempt(s)', serverVersion: null, experiment: null, runs: [] };
    r.registry = [];
    const text = renderReport(r, checkModelsReport(r));
    expect(text).toContain('  ✗ unreachable: ECONNREFUSED after 2 attempt(s)');
    expect(text).toContain('  — MLflow unreachable');
    expect(text).not.toMatch(/\n\s+at /);
  });
});
