import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { hashTree, sha256 } from '../support/files';
import { MlflowClient, toRecord, type Metric } from '../../lib/mlflow';

/**
 * What the TypeScript client writes, the official Python client reads the same, and the reverse.
 * MLflow's own client is the reference: if the two disagree, the TypeScript side is wrong.
 */

const run = promisify(execFile);
const repoRoot = resolve(__dirname, '..', '..');
const python = join(process.env.VENV_DIR ?? join(repoRoot, '.venv'), 'bin', 'python');
const script = join(__dirname, 'python', 'read_mlflow.py');

function trackingUri(): string {
  const uri = process.env.MLFLOW_TRACKING_URI;
  if (!uri) throw new Error('MLFLOW_TRACKING_URI is not set: run through jest, whose global setup starts an MLflow server, or point it at one.');
  return uri;
}

/** Runs read_mlflow.py and returns the JSON it prints after `RESULT:`. */
async function py<T>(...args: string[]): Promise<T> {
  let stdout: string;
  try {
    ({ stdout } = await run(python, [script, ...args], {
      env: { ...process.env, MLFLOW_TRACKING_URI: trackingUri(), PYTHONIOENCODING: 'utf-8' },
      timeout: 150_000,
      maxBuffer: 64 * 1024 * 1024,
    }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`read_mlflow.py ${args[0]} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (line === undefined) throw new Error(`read_mlflow.py printed no RESULT line:\n${stdout}`);
  return JSON.parse(line.slice('RESULT:'.length)) as T;
}



interface PyVersion {
  name: string;
  version: string;
  run_id: string;
  source: string;
  current_stage: string;
  aliases: string[];
  tags: Record<string, string>;
}

interface PyRead {
  run_id: string;
  run_name: string;
  status: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  histories: Record<string, Array<Pick<Metric, 'step' | 'value' | 'timestamp'>>>;
  artifacts: Record<string, string>;
  staging: PyVersion[];
  alias: PyVersion;
  model_files: Record<string, string>;
}

interface PyWrite {
  run_id: string;
  experiment_id: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  loss_history: Array<Pick<Metric, 'step' | 'value' | 'timestamp'>>;
  artifacts: Record<string, string>;
}

let client: MlflowClient;
let work: string;

beforeAll(() => {
  client = new MlflowClient({ trackingUri: trackingUri() });
  work = mkdtempSync(join(tmpdir(), 'mlflow-crosscheck-'));
});

afterAll(() => {
  client.close();
  rmSync(work, { recursive: true, force: true });
});

it('what TypeScript writes, Python reads identically', async () => {
  const id = randomUUID().slice(0, 8);
  const exp = await client.tracking.getOrCreateExperiment(`crosscheck-ts-${id}`);

  // A run with params, stepped metrics, tags and artifacts (nested directories, binary data).
  const r = await client.tracking.createRun({ experimentId: exp.experiment_id, runName: 'ts-writer', tags: { origin: 'typescript' } });
  const runId = r.info.run_id;
  const t0 = 1_700_000_000_000;
  const loss = Array.from({ length: 60 }, (_, step) => ({ key: 'loss', value: Math.exp(-step / 10) / 3, step, timestamp: t0 + step * 1000 }));
  const auc = [0.71, 0.83, 0.9].map((value, i) => ({ key: 'val/auc', value, step: i * 10, timestamp: t0 + i }));
  const params = { n_estimators: 200, learning_rate: 0.05, objective: 'binary:logistic', balanced: true };
  const tags = { 'fraud.dataset': 'creditcard-2024', 'mlflow.note.content': 'cross-check run' };
  await client.tracking.logBatch(runId, { metrics: [...loss, ...auc, { key: 'threshold', value: 0.42, timestamp: t0 }], params, tags });

  const src = join(work, 'ts-src');
  mkdirSync(join(src, 'model', 'data', 'nested'), { recursive: true });
  writeFileSync(join(src, 'model', 'MLmodel'), 'artifact_path: model\nflavors: {}\n');
  writeFileSync(join(src, 'model', 'model.bin'), randomBytes(123_457));
  writeFileSync(join(src, 'model', 'data', 'nested', 'weights.f64'), Buffer.from(new Float64Array([0.1, -0, 1e-300, 42]).buffer));
  writeFileSync(join(src, 'model', 'data', 'empty'), '');
  await client.artifacts.logArtifacts(runId, join(src, 'model'), 'model');
  const report = Buffer.from('{"auc": 0.9}\n');
  await client.artifacts.logArtifactBytes(runId, 'reports/eval.json', report);
  await client.tracking.endRun(runId, 'FINISHED');

  // Two versions: the second goes to Staging and archives the first; the alias points at it.
  const name = `crosscheck-model-${id}`;
  await client.registry.getOrCreateRegisteredModel(name);
  const v1 = await client.registry.createModelVersion({ name, source: `${r.info.artifact_uri}/model`, runId });
  await client.registry.transitionModelVersionStage(name, v1.version, 'Staging');
  const v2 = await client.registry.createModelVersion({ name, source: `${r.info.artifact_uri}/model`, runId, tags: { gate: 'passed' } });
  await client.registry.transitionModelVersionStage(name, v2.version, 'Staging', { archiveExistingVersions: true });
  await client.registry.setRegisteredModelAlias(name, 'champion', v2.version);

  const seen = await py<PyRead>('read', '--run-id', runId, '--metric', 'loss', '--metric', 'val/auc', '--model', name, '--alias', 'champion');

  expect(seen).toMatchObject({ run_id: runId, run_name: 'ts-writer', status: 'FINISHED' });
  expect(seen.params).toEqual(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])));
  expect(seen.metrics).toEqual({ loss: loss[59]?.value, 'val/auc': 0.9, threshold: 0.42 });
  expect(seen.histories.loss).toEqual(loss.map(({ step, value, timestamp }) => ({ step, value, timestamp })));
  expect(seen.histories['val/auc']).toEqual(auc.map(({ step, value, timestamp }) => ({ step, value, timestamp })));
  expect(seen.tags).toMatchObject({ ...tags, origin: 'typescript' });
  // And the TypeScript reader agrees with the Python one on every tag, MLflow's own included.
  expect(toRecord((await client.tracking.getRun(runId)).data.tags)).toEqual(seen.tags);

  const expectedArtifacts = { ...Object.fromEntries(Object.entries(hashTree(join(src, 'model'))).map(([p, h]) => [`model/${p}`, h])), 'reports/eval.json': sha256(report) };
  expect(seen.artifacts).toEqual(expectedArtifacts);
  expect(seen.model_files).toEqual(hashTree(join(src, 'model')));

  expect(seen.staging.map((v) => [v.version, v.current_stage, v.run_id])).toEqual([[v2.version, 'Staging', runId]]);
  expect(seen.alias).toMatchObject({ version: v2.version, aliases: ['champion'], run_id: runId, source: `${r.info.artifact_uri}/model`, tags: { gate: 'passed' } });
  expect((await client.registry.getModelVersion(name, v1.version)).current_stage).toBe('Archived');
});

it('what Python writes, TypeScript reads identically', async () => {
  const id = randomUUID().slice(0, 8);
  const written = await py<PyWrite>('write', '--experiment', `crosscheck-py-${id}`);

  const got = await client.tracking.getRun(written.run_id);
  expect(got.info).toMatchObject({ run_id: written.run_id, experiment_id: written.experiment_id, run_name: 'python-writer', status: 'FINISHED' });
  expect(toRecord(got.data.params)).toEqual(written.params);
  expect(toRecord(got.data.params)).toEqual({ alpha: '0.5', solver: 'lbfgs', layers: '[64, 32]' });
  expect(toRecord(got.data.metrics)).toEqual(written.metrics);
  expect(toRecord(got.data.tags)).toEqual(written.tags);
  expect(written.tags).toMatchObject({ origin: 'python', stage: 'crosscheck' });

  const history = await client.tracking.getMetricHistory(written.run_id, 'loss');
  expect([...history].sort((a, b) => a.step - b.step).map(({ step, value, timestamp }) => ({ step, value, timestamp }))).toEqual(written.loss_history);
  expect(written.loss_history).toHaveLength(7);

  const dst = mkdtempSync(join(work, 'py-dl-'));
  const local = await client.artifacts.downloadArtifacts(written.run_id, '', dst);
  expect(hashTree(local)).toEqual(written.artifacts);
  expect(Object.keys(written.artifacts).sort()).toEqual(['py/report/plots/blob.bin', 'py/report/summary.json']);
});
