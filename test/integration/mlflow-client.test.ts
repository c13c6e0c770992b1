import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashTree, sha256 } from '../support/files';
import {
  IDEMPOTENCY_TAG,
  InvalidModelUriError,
  MlflowApiError,
  MlflowClient,
  MlflowValidationError,
  modelVersionFilter,
  toRecord,
  UnsupportedArtifactUriError,
  type Run,
} from '../../lib/mlflow';

/**
 * The client against the real MLflow server started by the jest global setup. Every name gets a
 * random suffix so reruns against the same server never collide.
 */

function trackingUri(): string {
  const uri = process.env.MLFLOW_TRACKING_URI;
  if (!uri) throw new Error('MLFLOW_TRACKING_URI is not set: run through jest, whose global setup starts an MLflow server, or point it at one.');
  return uri;
}

const suffix = (): string => randomUUID().slice(0, 8);



/** A model-like directory with text, binary, empty, nested and non-ASCII files. */
function makeModelDir(root: string): string {
  const dir = join(root, 'model-src');
  mkdirSync(join(dir, 'data', 'nested', 'deeper'), { recursive: true });
  mkdirSync(join(dir, 'with space'), { recursive: true });
  writeFileSync(join(dir, 'MLmodel'), 'artifact_path: model\nflavors:\n  onnx:\n    data: model.onnx\n');
  writeFileSync(join(dir, 'model.onnx'), randomBytes(300_000));
  writeFileSync(join(dir, 'data', 'empty.txt'), '');
  writeFileSync(join(dir, 'data', 'nested', 'deeper', 'weights.f32'), Buffer.from(new Float32Array([1.5, -2, Math.PI, NaN]).buffer));
  writeFileSync(join(dir, 'with space', 'naïve ü.txt'), 'unicode names survive\n');
  return dir;
}

let client: MlflowClient;
let work: string;
let experimentId: string;

beforeAll(async () => {
  client = new MlflowClient({ trackingUri: trackingUri(), retry: { maxRetries: 3, initialDelayMs: 200, maxDelayMs: 2000 } });
  work = mkdtempSync(join(tmpdir(), 'mlflow-client-it-'));
  experimentId = (await client.tracking.getOrCreateExperiment(`it-client-${suffix()}`)).experiment_id;
});

afterAll(() => {
  client.close();
  rmSync(work, { recursive: true, force: true });
});

describe('server', () => {
  it('is healthy and reports its version', async () => {
    expect(await client.isHealthy()).toBe(true);
    expect(await client.serverVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('experiments', () => {
  it('creates an experiment once and returns the same one afterwards, also under concurrent callers', async () => {
    const name = `it-exp-${suffix()}`;
    const results = await Promise.all(Array.from({ length: 5 }, () => client.tracking.getOrCreateExperiment(name, { tags: { team: 'fraud' } })));
    const ids = new Set(results.map((e) => e.experiment_id));
    expect(ids.size).toBe(1);
    const again = await client.tracking.getOrCreateExperiment(name);
    expect(again.experiment_id).toBe(results[0]?.experiment_id);
    expect(again).toMatchObject({ name, lifecycle_stage: 'active' });
    expect(again.artifact_location).toBe(`mlflow-artifacts:/${again.experiment_id}`);
    expect(toRecord(again.tags).team).toBe('fraud');
  });

  it('restores a deleted experiment instead of failing on its taken name', async () => {
    const name = `it-deleted-${suffix()}`;
    const created = await client.tracking.getOrCreateExperiment(name);
    await client.tracking.deleteExperiment(created.experiment_id);
    expect((await client.tracking.getExperimentByName(name))?.lifecycle_stage).toBe('deleted');

    const restored = await client.tracking.getOrCreateExperiment(name);
    expect(restored.experiment_id).toBe(created.experiment_id);
    expect(restored.lifecycle_stage).toBe('active');
  });

  it('returns undefined for an unknown experiment name', async () => {
    await expect(client.tracking.getExperimentByName(`it-missing-${suffix()}`)).resolves.toBeUndefined();
  });
});

describe('runs', () => {
  it('creates a named, tagged run, updates it and ends it with a status', async () => {
    const started = Date.now() - 5000;
    const run = await client.tracking.createRun({ experimentId, runName: 'train-xgb', startTime: started, tags: { 'fraud.model': 'xgboost' } });
    expect(run.info).toMatchObject({ experiment_id: experimentId, run_name: 'train-xgb', status: 'RUNNING', start_time: started, lifecycle_stage: 'active' });
    expect(run.info.artifact_uri).toBe(`mlflow-artifacts:/${experimentId}/${run.info.run_id}/artifacts`);
    const tags = toRecord(run.data.tags);
    expect(tags['fraud.model']).toBe('xgboost');
    expect(tags['mlflow.runName']).toBe('train-xgb');
    expect(tags[IDEMPOTENCY_TAG]).toMatch(/^[0-9a-f-]{36}$/);

    await client.tracking.updateRun(run.info.run_id, { runName: 'train-xgb-renamed' });
    const ended = await client.tracking.endRun(run.info.run_id, 'FAILED');
    expect(ended.status).toBe('FAILED');
    expect(ended.end_time).toBeGreaterThanOrEqual(started);
    const fetched = await client.tracking.getRun(run.info.run_id);
    expect(fetched.info).toMatchObject({ status: 'FAILED', run_name: 'train-xgb-renamed' });
  });

  it('returns the same run for the same idempotency key, and a new one for another key', async () => {
    const key = `wf-${suffix()}/xgb`;
    const first = await client.tracking.createRun({ experimentId, runName: 'a', idempotencyKey: key });
    const second = await client.tracking.createRun({ experimentId, runName: 'a', idempotencyKey: key });
    const other = await client.tracking.createRun({ experimentId, runName: 'a', idempotencyKey: `${key}-other` });
    expect(second.info.run_id).toBe(first.info.run_id);
    expect(other.info.run_id).not.toBe(first.info.run_id);
    const tagged = await client.tracking.searchRuns({ experimentIds: [experimentId], filter: `tags.\`${IDEMPOTENCY_TAG}\` = '${key}'` });
    expect(tagged.items.map((r) => r.info.run_id)).toEqual([first.info.run_id]);
  });

  it('creates nested runs that the parent tag finds', async () => {
    const parent = await client.tracking.createRun({ experimentId, runName: 'parent' });
    const children = await Promise.all(['rf', 'xgb'].map((m) => client.tracking.createRun({ experimentId, runName: m, parentRunId: parent.info.run_id })));
    for (const child of children) expect(toRecord(child.data.tags)['mlflow.parentRunId']).toBe(parent.info.run_id);
    const found = await client.tracking.searchRuns({ experimentIds: [experimentId], filter: `tags.mlflow.parentRunId = '${parent.info.run_id}'` });
    expect(found.items.map((r) => r.info.run_id).sort()).toEqual(children.map((c) => c.info.run_id).sort());
  });

  it('pages through search results', async () => {
    const exp = (await client.tracking.getOrCreateExperiment(`it-paging-${suffix()}`)).experiment_id;
    for (const name of ['r1', 'r2', 'r3']) await client.tracking.createRun({ experimentId: exp, runName: name });
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.tracking.searchRuns({ experimentIds: [exp], maxResults: 2, orderBy: ['attributes.run_name ASC'], pageToken });
      seen.push(...page.items.map((r) => r.info.run_name ?? ''));
      pageToken = page.next_page_token;
      pages += 1;
    } while (pageToken !== undefined);
    expect(seen).toEqual(['r1', 'r2', 'r3']);
    expect(pages).toBe(2);
  });

  it('logs more than 1000 metrics and 100 params in one call, all of which the server keeps', async () => {
    const run = await client.tracking.createRun({ experimentId, runName: 'big-batch' });
    const runId = run.info.run_id;
    const t0 = 1_700_000_000_000;
    const loss = Array.from({ length: 2500 }, (_, step) => ({ key: 'loss', value: 1 / (step + 1), step, timestamp: t0 + step }));
    const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`hp_${i}`, `value-${i}`]));
    const tags = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`tag_${i}`, `t${i}`]));
    await client.tracking.logBatch(runId, { metrics: [...loss, { key: 'auc', value: 0.97 }, { key: 'undefined_metric', value: NaN }], params, tags });

    const fetched = await client.tracking.getRun(runId);
    expect(toRecord(fetched.data.params)).toEqual(params);
    expect(toRecord(fetched.data.tags)).toMatchObject(tags);
    const metrics = toRecord(fetched.data.metrics);
    expect(metrics.auc).toBeCloseTo(0.97, 12);
    expect(metrics.undefined_metric).toBeNaN();
    expect(metrics.loss).toBeCloseTo(1 / 2500, 12);

    const history = await client.tracking.getMetricHistory(runId, 'loss');
    expect(history).toHaveLength(2500);
    const byStep = [...history].sort((a, b) => a.step - b.step);
    expect(byStep.map((m) => m.step)).toEqual(loss.map((m) => m.step));
    expect(byStep.map((m) => m.value)).toEqual(loss.map((m) => m.value));
    expect(byStep.map((m) => m.timestamp)).toEqual(loss.map((m) => m.timestamp));
  });

  it('re-logging an identical batch is harmless (what a retried call does)', async () => {
    const run = await client.tracking.createRun({ experimentId });
    const batch = { metrics: [{ key: 'acc', value: 0.5, step: 1, timestamp: 1_700_000_000_000 }], params: { seed: 42 }, tags: { phase: 'train' } };
    await client.tracking.logBatch(run.info.run_id, batch);
    await client.tracking.logBatch(run.info.run_id, batch);
    expect(await client.tracking.getMetricHistory(run.info.run_id, 'acc')).toHaveLength(1);
  });

  it('sets tags, truncating values over 5000 characters', async () => {
    const run = await client.tracking.createRun({ experimentId });
    await client.tracking.setTag(run.info.run_id, 'mlflow.note.content', 'n'.repeat(9000));
    await client.tracking.setTag(run.info.run_id, 'status', 'first');
    await client.tracking.setTag(run.info.run_id, 'status', 'second');
    const tags = toRecord((await client.tracking.getRun(run.info.run_id)).data.tags);
    expect(tags['mlflow.note.content']).toBe('n'.repeat(5000));
    expect(tags.status).toBe('second');
  });

  it('rejects invalid keys before sending anything', async () => {
    const run = await client.tracking.createRun({ experimentId });
    await expect(client.tracking.logBatch(run.info.run_id, { params: { ok: 1 }, metrics: [{ key: '../escape', value: 1 }] })).rejects.toBeInstanceOf(MlflowValidationError);
    expect((await client.tracking.getRun(run.info.run_id)).data.params).toEqual([]);
  });

  it('reports a missing run as a typed 404', async () => {
    const err = (await client.tracking.getRun('0'.repeat(32)).catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err).toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST', method: 'GET', endpoint: '/api/2.0/mlflow/runs/get', isNotFound: true, retryable: false });
  });
});

describe('artifacts', () => {
  let run: Run;
  let source: string;

  beforeAll(async () => {
    run = await client.tracking.createRun({ experimentId, runName: 'artifacts' });
    source = makeModelDir(work);
  });

  it('uploads a directory recursively and downloads it back byte for byte', async () => {
    const written = await client.artifacts.logArtifacts(run.info.run_id, source, 'model');
    expect(written.sort()).toEqual(Object.keys(hashTree(source)).map((p) => `model/${p}`).sort());

    const dst = mkdtempSync(join(work, 'dl-'));
    const local = await client.artifacts.downloadArtifacts(run.info.run_id, 'model', dst);
    expect(local).toBe(join(dst, 'model'));
    expect(hashTree(local)).toEqual(hashTree(source));
  });

  it('lists a run path and an mlflow-artifacts URI', async () => {
    const top = await client.artifacts.listArtifacts(run.info.run_id, 'model');
    expect(top.map((f) => [f.path, f.is_dir]).sort()).toEqual([
      ['model/MLmodel', false],
      ['model/data', true],
      ['model/model.onnx', false],
      ['model/with space', true],
    ]);
    expect(top.find((f) => f.path === 'model/model.onnx')?.file_size).toBe(300_000);

    const nested = await client.artifacts.listArtifactsAtUri(`${run.info.artifact_uri}/model/data/nested`);
    expect(nested).toEqual([{ path: 'deeper', is_dir: true }]);
    expect(await client.artifacts.listArtifactsAtUri(`${run.info.artifact_uri}/model/data/nested/deeper`)).toEqual([
      { path: 'weights.f32', is_dir: false, file_size: 16 },
    ]);
  });

  it('uploads single files from a path and from bytes, and reads and downloads single files', async () => {
    const path = await client.artifacts.logArtifact(run.info.run_id, join(source, 'model.onnx'), 'single');
    expect(path).toBe('single/model.onnx');
    const report = Buffer.from(JSON.stringify({ auc: 0.97, note: 'éè' }));
    await client.artifacts.logArtifactBytes(run.info.run_id, 'reports/eval.json', report);
    expect(await client.artifacts.readArtifact(run.info.run_id, 'reports/eval.json')).toEqual(report);

    const dst = mkdtempSync(join(work, 'single-'));
    const local = await client.artifacts.downloadArtifacts(run.info.run_id, 'single/model.onnx', dst);
    expect(local).toBe(join(dst, 'single', 'model.onnx'));
    // Compared by digest: jest's deep equality walks a 300 kB Buffer byte by byte, slowly.
    expect(sha256(readFileSync(local))).toBe(sha256(readFileSync(join(source, 'model.onnx'))));
    const viaUri = await client.artifacts.downloadArtifactsFromUri(`${run.info.artifact_uri}/reports/eval.json`, dst);
    expect(viaUri).toBe(join(dst, 'eval.json'));
    expect(readFileSync(viaUri)).toEqual(report);
  });

  it('overwrites an artifact uploaded again', async () => {
    await client.artifacts.logArtifactBytes(run.info.run_id, 'overwrite.txt', 'one');
    await client.artifacts.logArtifactBytes(run.info.run_id, 'overwrite.txt', 'two');
    expect((await client.artifacts.readArtifact(run.info.run_id, 'overwrite.txt')).toString()).toBe('two');
  });

  it('reports a missing artifact as a typed 404', async () => {
    const dst = mkdtempSync(join(work, 'missing-'));
    await expect(client.artifacts.downloadArtifacts(run.info.run_id, 'nope/missing.bin', dst)).rejects.toMatchObject({ name: 'MlflowApiError', status: 404 });
    expect(readdirSync(dst)).toEqual([]);
  });

  it('fails loudly for a run whose artifacts are not served through the proxy', async () => {
    const exp = await client.tracking.getOrCreateExperiment(`it-local-artifacts-${suffix()}`, { artifactLocation: join(work, 'server-local-artifacts') });
    const localRun = await client.tracking.createRun({ experimentId: exp.experiment_id });
    const err = (await client.artifacts.logArtifactBytes(localRun.info.run_id, 'x.txt', 'x').catch((e: unknown) => e)) as UnsupportedArtifactUriError;
    expect(err).toBeInstanceOf(UnsupportedArtifactUriError);
    expect(err.artifactUri).toBe(localRun.info.artifact_uri);
    expect(err.message).toContain(`Run ${localRun.info.run_id}`);
  });
});

describe('model registry', () => {
  let name: string;
  let runA: Run;
  let runB: Run;
  let source: string;

  beforeAll(async () => {
    name = `it-model-${suffix()}`;
    source = makeModelDir(mkdtempSync(join(work, 'reg-')));
    [runA, runB] = await Promise.all([client.tracking.createRun({ experimentId, runName: 'a' }), client.tracking.createRun({ experimentId, runName: 'b' })]);
    await client.artifacts.logArtifacts(runA.info.run_id, source, 'model');
    await client.artifacts.logArtifacts(runB.info.run_id, source, 'model');
  });

  const register = (run: Run, extra: { idempotencyKey?: string; tags?: Record<string, string> } = {}) =>
    client.registry.createModelVersion({ name, source: `${run.info.artifact_uri}/model`, runId: run.info.run_id, ...extra });

  it('creates a registered model, and creating it again returns the existing one', async () => {
    const first = await client.registry.getOrCreateRegisteredModel(name, { description: 'fraud model', tags: { owner: 'ml' } });
    const second = await client.registry.getOrCreateRegisteredModel(name, { description: 'ignored' });
    expect(first.name).toBe(name);
    expect(second).toMatchObject({ name, description: 'fraud model' });
    expect(toRecord(second.tags).owner).toBe('ml');
    expect((await client.registry.getRegisteredModel(name)).name).toBe(name);
  });

  it('creates versions that are READY, moves them through stages and archives the previous Staging version', async () => {
    const v1 = await register(runA);
    expect(v1).toMatchObject({ name, version: '1', status: 'READY', run_id: runA.info.run_id, source: `${runA.info.artifact_uri}/model` });
    const staged1 = await client.registry.transitionModelVersionStage(name, v1.version, 'Staging', { archiveExistingVersions: true });
    expect(staged1.current_stage).toBe('Staging');

    const v2 = await register(runB);
    expect(v2.version).toBe('2');
    await client.registry.transitionModelVersionStage(name, v2.version, 'staging', { archiveExistingVersions: true });
    expect((await client.registry.getModelVersion(name, 1)).current_stage).toBe('Archived');
    expect((await client.registry.getModelVersion(name, 2)).current_stage).toBe('Staging');
    expect((await client.registry.getLatestVersions(name, ['Staging'])).map((v) => v.version)).toEqual(['2']);

    // Without archiving, the previous holder of the stage keeps it.
    await client.registry.transitionModelVersionStage(name, 1, 'Production');
    const v3 = await register(runA);
    await client.registry.transitionModelVersionStage(name, v3.version, 'Production');
    expect((await client.registry.getModelVersion(name, 1)).current_stage).toBe('Production');
    expect((await client.registry.getLatestVersions(name, ['Production'])).map((v) => v.version)).toEqual(['3']);
  });

  it('returns the same version for the same idempotency key', async () => {
    const key = `wf-${suffix()}/xgb`;
    const before = (await client.registry.searchAllModelVersions(modelVersionFilter({ name }))).length;
    const a = await register(runB, { idempotencyKey: key });
    const b = await register(runB, { idempotencyKey: key });
    expect(b.version).toBe(a.version);
    expect((await client.registry.searchAllModelVersions(modelVersionFilter({ name }))).length).toBe(before + 1);
    expect(toRecord(a.tags)[IDEMPOTENCY_TAG]).toBe(key);
  });

  it('sets and deletes version tags, and searches versions by tag', async () => {
    await client.registry.setModelVersionTag(name, 2, 'gate', 'passed');
    await client.registry.setModelVersionTag(name, 1, 'gate', 'failed');
    await client.registry.setModelVersionTag(name, 1, 'temp', 'x');
    expect(toRecord((await client.registry.getModelVersion(name, 1)).tags)).toMatchObject({ gate: 'failed', temp: 'x' });
    await client.registry.deleteModelVersionTag(name, 1, 'temp');
    expect(toRecord((await client.registry.getModelVersion(name, 1)).tags).temp).toBeUndefined();

    const passed = await client.registry.searchAllModelVersions(modelVersionFilter({ name, tags: { gate: 'passed' } }));
    expect(passed.map((v) => v.version)).toEqual(['2']);
    const byRun = await client.registry.searchAllModelVersions(modelVersionFilter({ name, runId: runB.info.run_id }), { orderBy: ['version_number ASC'] });
    expect(byRun.map((v) => v.run_id)).toEqual(byRun.map(() => runB.info.run_id));
    expect(byRun.length).toBeGreaterThanOrEqual(2);
  });

  it('pages through version search results', async () => {
    const all = await client.registry.searchAllModelVersions(modelVersionFilter({ name }), { orderBy: ['version_number ASC'] });
    const first = await client.registry.searchModelVersions({ filter: modelVersionFilter({ name }), maxResults: 1, orderBy: ['version_number ASC'] });
    expect(first.items.map((v) => v.version)).toEqual(['1']);
    expect(first.next_page_token).toEqual(expect.any(String));
    const paged = await client.registry.searchAllModelVersions(modelVersionFilter({ name }), { orderBy: ['version_number ASC'], pageSize: 1 });
    expect(paged.map((v) => v.version)).toEqual(all.map((v) => v.version));
    expect(paged.map((v) => Number(v.version))).toEqual(Array.from({ length: paged.length }, (_, i) => i + 1));
  });

  it('sets, reads, moves and deletes aliases', async () => {
    await client.registry.setRegisteredModelAlias(name, 'champion', 1);
    expect((await client.registry.getModelVersionByAlias(name, 'champion')).version).toBe('1');
    await client.registry.setRegisteredModelAlias(name, 'champion', '2');
    const mv = await client.registry.getModelVersionByAlias(name, 'champion');
    expect(mv).toMatchObject({ version: '2', aliases: ['champion'] });
    expect((await client.registry.getRegisteredModel(name)).aliases).toEqual([{ alias: 'champion', version: '2' }]);

    await client.registry.setRegisteredModelAlias(name, 'challenger', 3);
    await client.registry.deleteRegisteredModelAlias(name, 'challenger');
    await expect(client.registry.findModelVersionByAlias(name, 'challenger')).resolves.toBeUndefined();
    expect((await client.registry.findModelVersionByAlias(name, 'champion'))?.version).toBe('2');
    const err = (await client.registry.getModelVersionByAlias(name, 'challenger').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err).toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE', retryable: false });
    await expect(client.registry.setRegisteredModelAlias(name, 'latest', 1)).rejects.toBeInstanceOf(MlflowValidationError);
  });

  it('resolves models:/ URIs by stage, alias, number and latest, and runs:/ URIs', async () => {
    const versions = await client.registry.searchAllModelVersions(modelVersionFilter({ name }), { orderBy: ['version_number DESC'] });
    const newest = versions[0];
    if (newest === undefined) throw new Error('no versions registered');
    const cases: Array<[string, string, string]> = [
      [`models:/${name}/Staging`, '2', runB.info.run_id],
      [`models:/${name}/production`, '3', runA.info.run_id],
      [`models:/${name}@champion`, '2', runB.info.run_id],
      [`models:/${name}/1`, '1', runA.info.run_id],
      [`models:/${name}/latest`, newest.version, newest.run_id ?? ''],
    ];
    for (const [uri, version, runId] of cases) {
      const r = await client.resolveModelUri(uri);
      expect({ uri, version: r.version, runId: r.runId, name: r.name }).toEqual({ uri, version, runId, name });
      expect(r.downloadUri).toBe(`mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`);
      expect(r.source).toBe(r.downloadUri);
    }
    const viaRun = await client.resolveModelUri(`runs:/${runA.info.run_id}/model`);
    expect(viaRun).toEqual({ uri: `runs:/${runA.info.run_id}/model`, runId: runA.info.run_id, source: `runs:/${runA.info.run_id}/model`, downloadUri: `${runA.info.artifact_uri}/model` });
  });

  it('resolves a version registered from a runs:/ source to the run artifacts', async () => {
    const mv = await client.registry.createModelVersion({ name, source: `runs:/${runA.info.run_id}/model`, runId: runA.info.run_id });
    const r = await client.resolveModelUri(`models:/${name}/${mv.version}`);
    expect(r.source).toBe(`runs:/${runA.info.run_id}/model`);
    expect(r.downloadUri).toBe(`${runA.info.artifact_uri}/model`);
  });

  it('downloads a model by URI byte for byte', async () => {
    const dst = mkdtempSync(join(work, 'model-dl-'));
    const got = await client.downloadModel(`models:/${name}@champion`, dst);
    expect(got).toMatchObject({ version: '2', localPath: join(dst, 'model') });
    expect(hashTree(got.localPath)).toEqual(hashTree(source));
  });

  it('throws InvalidModelUriError for URIs that point at nothing', async () => {
    // Nothing is in Archived at this point: version 1 left it for Production above.
    for (const uri of [`models:/${name}-missing/1`, `models:/${name}/999`, `models:/${name}@nobody`, `models:/${name}/Archived`, `runs:/${'f'.repeat(32)}/model`]) {
      const err = await client.resolveModelUri(uri).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidModelUriError);
      expect((err as InvalidModelUriError).uri).toBe(uri);
    }
  });
});
