import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure, Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import type { TrainingHeartbeat } from '../../activities/training';
import { silentLogger } from '../../lib/logger';
import { MlflowClient } from '../../lib/mlflow';
import type { PipelineProgress, TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';
import { waitFor } from '../support/own-mlflow';

/**
 * trainingPipeline when things go wrong, on the real dev server and the real MLflow server:
 * responses lost after MLflow did the work, a worker stopping mid-training, a user cancelling,
 * and a run started from the `temporal` CLI the way the README shows.
 */
const run = promisify(execFile);

describe('trainingPipeline under faults', () => {
  const cfg = testConfig({ taskQueue: `training-faults-${randomUUID()}` });
  const experimentName = `training-faults-${randomUUID().slice(0, 8)}`;
  const mlflow = new MlflowClient({ trackingUri: cfg.mlflowTrackingUri });
  const small = {
    dataset: { rows: 10_000, seed: 11, fraudRate: 0.02 },
    hyperparameters: { xgboost: { nRounds: 20 }, random_forest: { nTrees: 10 }, neural_network: { epochs: 2 }, isolation_forest: { nTrees: 50 } },
    qualityGate: { minPrAuc: 0.01, minRecall: 0, perModel: { isolation_forest: { minPrAuc: 0.001, minRecall: 0 } } },
    experimentName,
  };
  // A neural network that would train for many minutes: long enough to interrupt it.
  const slow = { ...small, models: ['neural_network'], hyperparameters: { neural_network: { epochs: 500, patience: 0, batchSize: 64 } } };
  let dataDir: string;
  let connection: Connection;
  let client: Client;
  const workers: { worker: Worker; connection: NativeConnection; running: Promise<void> }[] = [];

  async function startWorker(opts: Parameters<typeof createWorker>[2] = {}) {
    const handle = await createWorker(cfg, { mlflow, logger: silentLogger, dataDir }, opts);
    const entry = { ...handle, running: handle.worker.run() };
    workers.push(entry);
    return entry;
  }

  async function stopWorker(entry: (typeof workers)[number]) {
    if (entry.worker.getState() === 'RUNNING') entry.worker.shutdown();
    await entry.running;
    await entry.connection.close();
    workers.splice(workers.indexOf(entry), 1);
  }


  /** The training activity's latest heartbeat, once it reports an epoch done. */
  async function trainingHeartbeat(handle: WorkflowHandle): Promise<{ beat: TrainingHeartbeat; attempt: number } | undefined> {
    const description = await handle.describe();
    for (const a of description.raw.pendingActivities ?? []) {
      const payload = a.heartbeatDetails?.payloads?.[0];
      if (a.activityType?.name !== 'trainModel' || !payload) continue;
      const beat = defaultPayloadConverter.fromPayload<TrainingHeartbeat>(payload);
      if (beat.unit === 'epoch' && beat.done >= 1) return { beat, attempt: a.attempt ?? 1 };
    }
    return undefined;
  }

  /** Child runs of a pipeline run, by model kind. */
  async function childRuns(summaryOrParent: { experimentId: string; pipelineRunId: string }) {
    const page = await mlflow.tracking.searchRuns({
      experimentIds: [summaryOrParent.experimentId],
      filter: `tags.mlflow.parentRunId = '${summaryOrParent.pipelineRunId}'`,
      maxResults: 100,
    });
    return page.items;
  }

  async function versionsOfRuns(kind: string, runIds: readonly string[]) {
    const all = await mlflow.registry.searchAllModelVersions(`name='fraud_detection_${kind}'`);
    return all.filter((v) => runIds.includes(v.run_id ?? ''));
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pipeline-faults-'));
    connection = await Connection.connect({ address: cfg.temporalAddress });
    client = new Client({ connection, namespace: cfg.temporalNamespace });
  });

  afterAll(async () => {
    for (const w of [...workers]) await stopWorker(w);
    await connection?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates exactly one run and one version per model when MLflow calls succeed but their responses are lost', async () => {
    const calls: Record<string, number> = {};
    // Every MLflow-writing activity does its real work, then fails its first attempt as if the
    // response had been lost on the way back: the retry must find what the first attempt made.
    const loseFirstResponse = (acts: Activities): Activities => {
      const wrap = <K extends 'startPipelineRun' | 'logModelRun' | 'registerModel' | 'endRun'>(name: K, keyOf: (input: Parameters<Activities[K]>[0]) => string) =>
        (async (input: Parameters<Activities[K]>[0]) => {
          const result = await (acts[name] as (i: typeof input) => Promise<unknown>)(input);
          const key = `${name}:${keyOf(input)}`;
          calls[key] = (calls[key] ?? 0) + 1;
          if (calls[key] === 1) throw ApplicationFailure.retryable(`simulated lost response of ${key}`, 'SimulatedNetworkError');
          return result;
        }) as Activities[K];
      return {
        ...acts,
        startPipelineRun: wrap('startPipelineRun', () => 'pipeline'),
        logModelRun: wrap('logModelRun', (i) => i.result.kind),
        registerModel: wrap('registerModel', (i) => i.run.kind),
        endRun: wrap('endRun', (i) => i.runId),
      };
    };
    const w = await startWorker({ decorateActivities: loseFirstResponse });
    try {
      const summary = (await client.workflow.execute('trainingPipeline', {
        taskQueue: cfg.taskQueue,
        workflowId: `training-lost-${randomUUID()}`,
        args: [small],
        workflowExecutionTimeout: '15 minutes',
      })) as TrainingSummary;
      // Each activity really ran twice (the first response was dropped).
      for (const kind of ['xgboost', 'random_forest', 'neural_network', 'isolation_forest']) {
        expect(calls[`logModelRun:${kind}`]).toBe(2);
        expect(calls[`registerModel:${kind}`]).toBe(2);
      }
      expect(calls['startPipelineRun:pipeline']).toBe(2);

      const children = await childRuns(summary);
      expect(children.map((r) => r.info.run_name).sort()).toEqual(['register_isolation_forest', 'register_neural_network', 'register_random_forest', 'register_xgboost']);
      const parents = await mlflow.tracking.searchRuns({ experimentIds: [summary.experimentId], filter: `tags.workflow_id = '${summary.workflowId}'` });
      // One parent run plus the four children carry this workflow's id.
      expect(parents.items.filter((r) => !r.data.tags.some((t) => t.key === 'mlflow.parentRunId'))).toHaveLength(1);
      for (const m of summary.models) {
        expect(m.promoted).toBe(true);
        const versions = await versionsOfRuns(m.kind, children.map((r) => r.info.run_id));
        expect(versions.map((v) => v.version)).toEqual([m.version]);
      }
      expect((await mlflow.tracking.getRun(summary.pipelineRunId)).info.status).toBe('FINISHED');
    } finally {
      await stopWorker(w);
    }
  });

  it('retries training on another worker when its worker shuts down mid-training, and still registers one version', async () => {
    const first = await startWorker({ shutdownGraceTime: '1 second' });
    const workflowId = `training-shutdown-${randomUUID()}`;
    const input = { ...slow, hyperparameters: { neural_network: { epochs: 60, patience: 0, batchSize: 32 } } };
    const handle = await client.workflow.start('trainingPipeline', { taskQueue: cfg.taskQueue, workflowId, args: [input], workflowExecutionTimeout: '15 minutes' });
    const before = await waitFor('the first epoch', () => trainingHeartbeat(handle));
    expect(before.attempt).toBe(1);
    expect(before.beat.done).toBeLessThan(before.beat.total);
    await stopWorker(first);
    // The interrupted attempt failed retryably (not "cancelled"): the workflow is still running.
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const second = await startWorker();
    try {
      const summary = (await handle.result()) as TrainingSummary;
      expect(summary.models).toHaveLength(1);
      expect(summary.models[0]?.promoted).toBe(true);
      const history = await handle.fetchHistory();
      const trainingStarts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== undefined);
      const attempts = trainingStarts.map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
      // Started events of retried activities are written once, with the final attempt number.
      expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
      const children = await childRuns(summary);
      expect(children).toHaveLength(1);
      expect(await versionsOfRuns('neural_network', [children[0]!.info.run_id])).toHaveLength(1);
    } finally {
      await stopWorker(second);
    }
  });

  it('stops training when the workflow is cancelled: parent run KILLED, nothing registered', async () => {
    const w = await startWorker();
    try {
      const workflowId = `training-cancel-${randomUUID()}`;
      const handle = await client.workflow.start('trainingPipeline', { taskQueue: cfg.taskQueue, workflowId, args: [slow], workflowExecutionTimeout: '30 minutes' });
      const { beat } = await waitFor('the first epoch', () => trainingHeartbeat(handle));
      expect(beat.total).toBe(500);
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);

      // The training activity reported its cancellation (it stopped; the workflow waited for it).
      const history = await handle.fetchHistory();
      expect((history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
      const progress = await handle.query<PipelineProgress>('progress');
      expect(progress.step).toBe('cancelled');
      const experiment = await mlflow.tracking.getExperimentByName(experimentName);
      const parents = await mlflow.tracking.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.workflow_id = '${workflowId}'` });
      expect(parents.items.map((r) => r.info.status)).toEqual(['KILLED']);
      const ofThisWorkflow = (await mlflow.registry.searchAllModelVersions("name='fraud_detection_neural_network'")).filter((v) =>
        v.tags.some((t) => t.key === 'workflow_id' && t.value === workflowId),
      );
      expect(ofThisWorkflow).toEqual([]);
    } finally {
      await stopWorker(w);
    }
  });

  it('runs when started with the temporal CLI, as the README shows, training on its own task queue', async () => {
    const w = await startWorker();
    // A "big machine" worker serving only the training queue.
    const trainingQueue = `${cfg.taskQueue}-training`;
    const trainingWorker = await createWorker({ ...cfg, taskQueue: trainingQueue }, { mlflow, logger: silentLogger, dataDir });
    const trainingRunning = trainingWorker.worker.run();
    try {
      const workflowId = `training-cli-${randomUUID()}`;
      const input = JSON.stringify({ ...small, models: ['isolation_forest'], trainingTaskQueue: trainingQueue });
      const temporal = join(cfg.venvDir, 'bin', 'temporal');
      // Asynchronously: the worker in this process must keep running while the CLI waits.
      const started = await run(temporal, ['workflow', 'start', '--address', cfg.temporalAddress, '--namespace', cfg.temporalNamespace, '--type', 'trainingPipeline', '--task-queue', cfg.taskQueue, '--workflow-id', workflowId, '--input', input]);
      expect(started.stderr).toBe('');
      // `temporal workflow result` waits for the summary, as the README shows.
      const result = await run(temporal, ['workflow', 'result', '--address', cfg.temporalAddress, '--namespace', cfg.temporalNamespace, '--workflow-id', workflowId, '--output', 'json']);
      const { result: summary } = JSON.parse(result.stdout) as { result: TrainingSummary };
      expect(summary.models.map((m) => [m.kind, m.promoted])).toEqual([['isolation_forest', true]]);
      expect(summary.workflowId).toBe(workflowId);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'trainModel');
      expect(scheduled.map((a) => a?.taskQueue?.name)).toEqual([trainingQueue]);
    } finally {
      trainingWorker.worker.shutdown();
      await trainingRunning;
      await trainingWorker.connection.close();
      await stopWorker(w);
    }
  });
});
