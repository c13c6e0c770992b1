import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { silentLogger } from '../../lib/logger';
import { MlflowClient } from '../../lib/mlflow';
import type { PipelineProgress, TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';

const KINDS = ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'] as const;

/** trainingPipeline end to end on the real dev server and the real MLflow server, on a small dataset. */
describe('trainingPipeline', () => {
  const cfg = testConfig({ taskQueue: `training-${randomUUID()}` });
  const experimentName = `training-test-${randomUUID().slice(0, 8)}`;
  const mlflow = new MlflowClient({ trackingUri: cfg.mlflowTrackingUri });
  let dataDir: string;
  let worker: Worker;
  let workerConnection: NativeConnection;
  let connection: Connection;
  let client: Client;
  let running: Promise<void>;

  // Small and quick, with enough fraud rows that every model clears these test floors.
  const input = {
    dataset: { rows: 20_000, seed: 7, fraudRate: 0.01 },
    hyperparameters: { xgboost: { nRounds: 60 }, random_forest: { nTrees: 30 }, neural_network: { epochs: 5 } },
    qualityGate: { minPrAuc: 0.05, minRecall: 0.05, perModel: { isolation_forest: { minPrAuc: 0.005, minRecall: 0 } } },
    experimentName,
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pipeline-'));
    ({ worker, connection: workerConnection } = await createWorker(cfg, { mlflow, logger: silentLogger, dataDir }));
    running = worker.run();
    connection = await Connection.connect({ address: cfg.temporalAddress });
    client = new Client({ connection, namespace: cfg.temporalNamespace });
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
    await workerConnection?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let summary: TrainingSummary;
  let workflowId: string;

  it('trains four models, logs them to MLflow, registers them in Staging with the alias, and reports progress', async () => {
    workflowId = `training-${randomUUID()}`;
    const handle = await client.workflow.start('trainingPipeline', { taskQueue: cfg.taskQueue, workflowId, args: [input], workflowExecutionTimeout: '20 minutes' });
    summary = (await handle.result()) as TrainingSummary;
    expect(summary.models.map((m) => m.kind).sort()).toEqual([...KINDS].sort());
    for (const m of summary.models) {
      expect(m.promoted).toBe(true);
      expect(m.stage).toBe('Staging');
      const byAlias = await mlflow.registry.getModelVersionByAlias(`fraud_detection_${m.kind}`, 'staging');
      expect(byAlias.version).toBe(m.version);
      expect(byAlias.current_stage).toBe('Staging');
      expect(byAlias.run_id).toBe(m.runId);
      const run = await mlflow.tracking.getRun(m.runId);
      expect(run.info.run_name).toBe(`register_${m.kind}`);
      const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
      expect(tags['mlflow.parentRunId']).toBe(summary.pipelineRunId);
      expect(tags.workflow_id).toBe(workflowId);
      expect(tags.dataset_digest).toBe(summary.dataset.digest);
      const metrics = Object.fromEntries(run.data.metrics.map((x) => [x.key, x.value]));
      expect(metrics.test_pr_auc).toBeCloseTo(m.metrics.prAuc, 10);
      const files = (await mlflow.artifacts.listArtifacts(m.runId, 'model')).map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining(['model/MLmodel', 'model/model.json']));
      const plots = (await mlflow.artifacts.listArtifacts(m.runId, 'plots')).map((f) => f.path);
      expect(plots).toEqual(expect.arrayContaining(['plots/roc_curve.png', 'plots/precision_recall_curve.png', 'plots/confusion_matrix.png']));
    }
    const progress = await handle.query<PipelineProgress>('progress');
    expect(progress.step).toBe('done');
    expect(Object.values(progress.models).every((m) => m?.status === 'registered')).toBe(true);
    const parent = await mlflow.tracking.getRun(summary.pipelineRunId);
    expect(parent.info.status).toBe('FINISHED');

    // Determinism guard: the recorded history replays on the current workflow code.
    await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, await handle.fetchHistory())).resolves.toBeUndefined();
  });

  it('is seen the same way by the Python MLflow client', () => {
    const python = join(cfg.venvDir, 'bin', 'python');
    const script = `
import json, mlflow
c = mlflow.MlflowClient()
out = {}
for kind in ${JSON.stringify(KINDS)}:
    v = c.get_latest_versions(f"fraud_detection_{kind}", ["Staging"])[0]
    files = [f.path for f in c.list_artifacts(v.run_id, "model")]
    out[kind] = {"version": v.version, "run_id": v.run_id, "files": files}
print(json.dumps(out))
`;
    const r = spawnSync(python, ['-c', script], { env: { ...process.env, MLFLOW_TRACKING_URI: cfg.mlflowTrackingUri }, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/Traceback/);
    const seen = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { version: string; run_id: string; files: string[] }>;
    for (const m of summary.models) {
      expect(seen[m.kind]?.version).toBe(m.version);
      expect(seen[m.kind]?.run_id).toBe(m.runId);
      expect(seen[m.kind]?.files).toEqual(expect.arrayContaining(['model/MLmodel', 'model/model.json']));
    }
  });

  it('does not promote a model that fails the gate, and says why', async () => {
    const before = await mlflow.registry.getModelVersionByAlias('fraud_detection_xgboost', 'staging');
    const result = (await client.workflow.execute('trainingPipeline', {
      taskQueue: cfg.taskQueue,
      workflowId: `training-gate-${randomUUID()}`,
      args: [{ ...input, models: ['xgboost'], qualityGate: { minPrAuc: 0.999 } }],
    })) as TrainingSummary;
    expect(result.models[0]?.promoted).toBe(false);
    expect(result.models[0]?.reasons.join(' ')).toMatch(/PR-AUC .* below the floor 0.999/);
    const after = await mlflow.registry.getModelVersionByAlias('fraud_detection_xgboost', 'staging');
    expect(after.version).toBe(before.version);
  });

  it('fails at once on bad input, naming the field, and registers nothing', async () => {
    const versionsBefore = (await mlflow.registry.searchModelVersions({ filter: "name='fraud_detection_xgboost'" })).items.length;
    for (const [bad, field] of [
      [{ models: ['xgboost', 'svm'] }, 'models[1]'],
      [{ ...input, hyperparameters: { xgboost: { eta: 5 } } }, 'hyperparameters.xgboost'],
    ] as const) {
      const err = await client.workflow
        .execute('trainingPipeline', { taskQueue: cfg.taskQueue, workflowId: `training-bad-${randomUUID()}`, args: [bad] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('InvalidWorkflowInput');
      expect((cause as ApplicationFailure).message).toContain(field);
    }
    expect((await mlflow.registry.searchModelVersions({ filter: "name='fraud_detection_xgboost'" })).items.length).toBe(versionsBefore);
  });
});
