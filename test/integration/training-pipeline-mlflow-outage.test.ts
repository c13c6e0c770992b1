import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { silentLogger } from '../../lib/logger';
import type { MlflowClient } from '../../lib/mlflow';
import type { TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';
import { startOwnMlflow, waitFor } from '../support/own-mlflow';

/**
 * MLflow goes down in the middle of a training pipeline (after the pipeline run was created,
 * while a model trains) and comes back: the logging activities retry with backoff, the workflow
 * completes, and nothing is duplicated. Uses an MLflow server of its own (the shared one must stay
 * up for the other test files), restarted on the same store.
 */
describe('trainingPipeline while MLflow restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-outage-'));
  let own: Awaited<ReturnType<typeof startOwnMlflow>>;
  let mlflow: MlflowClient;
  const cfg = testConfig({ taskQueue: `training-outage-${randomUUID()}` });
  let worker: Worker;
  let workerConnection: NativeConnection;
  let running: Promise<void>;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    own = await startOwnMlflow(dir);
    mlflow = own.client;
    ({ worker, connection: workerConnection } = await createWorker(cfg, { mlflow, logger: silentLogger, dataDir: join(dir, 'data') }));
    running = worker.run();
    connection = await Connection.connect({ address: cfg.temporalAddress });
    client = new Client({ connection, namespace: cfg.temporalNamespace });
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await workerConnection?.close();
    await connection?.close();
    await own?.stop();
    rmSync(dir, { recursive: true, force: true });
  });


  it('retries through the outage and completes with one run and one version per model', async () => {
    const workflowId = `training-outage-${randomUUID()}`;
    const handle = await client.workflow.start('trainingPipeline', {
      taskQueue: cfg.taskQueue,
      workflowId,
      workflowExecutionTimeout: '20 minutes',
      args: [
        {
          dataset: { rows: 10_000, seed: 5, fraudRate: 0.02 },
          models: ['isolation_forest', 'neural_network'],
          hyperparameters: { neural_network: { epochs: 40, patience: 0, batchSize: 32 }, isolation_forest: { nTrees: 50 } },
          qualityGate: { minPrAuc: 0.001, minRecall: 0 },
        },
      ],
    });
    // The pipeline run exists once training is under way; then MLflow goes away.
    await waitFor('training to start', async () => {
      const d = await handle.describe();
      return (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'trainModel') ? true : undefined;
    }, 180_000);
    await own.stop();

    // Logging fails and is retried while MLflow is down.
    const failing = await waitFor('a logging attempt to fail', async () => {
      const d = await handle.describe();
      const a = (d.raw.pendingActivities ?? []).find((p) => p.activityType?.name === 'logModelRun' && (p.attempt ?? 1) >= 2);
      return a ?? undefined;
    }, 180_000);
    expect(failing.lastFailure?.message ?? '').toMatch(/MLflow|ECONNREFUSED|connect/i);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    await own.restart();
    const summary = (await handle.result()) as TrainingSummary;
    expect(summary.models.map((m) => m.promoted)).toEqual([true, true]);

    const children = await mlflow.tracking.searchRuns({ experimentIds: [summary.experimentId], filter: `tags.mlflow.parentRunId = '${summary.pipelineRunId}'` });
    expect(children.items.map((r) => r.info.run_name).sort()).toEqual(['register_isolation_forest', 'register_neural_network']);
    for (const m of summary.models) {
      const versions = await mlflow.registry.searchAllModelVersions(`name='fraud_detection_${m.kind}'`);
      expect(versions.map((v) => v.version)).toEqual([m.version]);
    }
    expect((await mlflow.tracking.getRun(summary.pipelineRunId)).info.status).toBe('FINISHED');
  });
});
