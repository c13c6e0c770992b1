import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { hashToken } from '../../api/plugins/auth';
import { startServingRuntime, type ServingRuntime } from '../../api/runtime';
import { startApi, type RunningApi } from '../../api/server';
import { silentLogger } from '../../lib/logger';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import type { MlflowClient } from '../../lib/mlflow';
import { pointSlot, readRouting, readSlot, writeRelease } from '../../lib/model-store';
import type { ModelSetManifest } from '../../lib/serving/contract';
import type { CanaryResult, CanaryStatus } from '../../workflows/canary-deployment';
import type { TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';
import { startOwnMlflow } from '../support/own-mlflow';

/**
 * canaryDeployment end to end: the real Temporal and MLflow servers, the real serving API (on a
 * free port) reading a real model store, live traffic, short bakes.
 */
describe('canaryDeployment', () => {
  // An MLflow server of its own: deployments move versions between stages, which other test files
  // running at the same time must not see (nor this file theirs).
  const cfg = testConfig({ taskQueue: `canary-${randomUUID()}` }); // mlflowTrackingUri: set in beforeAll
  let mlflow: MlflowClient;
  let own: Awaited<ReturnType<typeof startOwnMlflow>> | undefined;
  const adminToken = `test-admin-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'canary-'));
  const storeDir = join(dir, 'store');
  let runtime: ServingRuntime;
  let api: RunningApi;
  let worker: Worker;
  let workerConnection: NativeConnection;
  let running: Promise<void>;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    own = await startOwnMlflow(dir);
    cfg.mlflowTrackingUri = own.uri;
    mlflow = own.client;
    runtime = await startServingRuntime({ modelStoreDir: storeDir }, silentLogger, { pollIntervalMs: 200 });
    api = await startApi({
      models: runtime.models,
      explain: runtime.explain,
      background: runtime.background,
      logger: silentLogger,
      auth: { tokens: [{ role: 'admin', sha256: hashToken(adminToken) }] },
      host: '127.0.0.1',
      port: 0,
      processMetrics: false,
    });
    ({ worker, connection: workerConnection } = await createWorker(cfg, {
      mlflow,
      logger: silentLogger,
      dataDir: join(dir, 'data'),
      modelStoreDir: storeDir,
      api: { url: api.url, adminToken },
    }));
    running = worker.run();
    connection = await Connection.connect({ address: cfg.temporalAddress });
    client = new Client({ connection, namespace: cfg.temporalNamespace });
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await workerConnection?.close();
    await connection?.close();
    await api?.close();
    await runtime?.stop();
    await own?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Steady traffic to the API, as the simulator sends it; counts answers by status and slot. */
  function traffic(rps: number) {
    const rows = generateTransactions({ rows: 5000, seed: 99, fraudRate: 0.01 });
    const counts = { sent: 0, ok: 0, errors: 0, champion: 0, canary: 0, statuses: {} as Record<number, number> };
    const inflight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      const i = counts.sent++ % rows.numRows;
      const features = Array.from(rows.features.subarray(i * 30, (i + 1) * 30));
      const p = fetch(`${api.url}/api/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ transaction_id: `tx-${randomUUID()}`, features }),
      })
        .then(async (res) => {
          counts.statuses[res.status] = (counts.statuses[res.status] ?? 0) + 1;
          if (res.status !== 200) return void counts.errors++;
          counts.ok++;
          const body = (await res.json()) as { served_by: 'champion' | 'canary' };
          counts[body.served_by]++;
        })
        .catch(() => void counts.errors++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }, 1000 / rps);
    return {
      counts,
      stop: async () => {
        clearInterval(timer);
        await Promise.all([...inflight]);
      },
    };
  }

  async function train(seed: number, hyperparameters: Record<string, unknown> = {}): Promise<Record<string, string>> {
    const summary = (await client.workflow.execute('trainingPipeline', {
      taskQueue: cfg.taskQueue,
      workflowId: `canary-train-${randomUUID()}`,
      args: [
        {
          dataset: { rows: 10_000, seed, fraudRate: 0.02 },
          models: ['xgboost', 'isolation_forest'],
          hyperparameters: { xgboost: { nRounds: 30 }, isolation_forest: { nTrees: 50 }, ...hyperparameters },
          qualityGate: { minPrAuc: 0, minRecall: 0, maxPrAucDrop: 1, perModel: { isolation_forest: { minPrAuc: 0, minRecall: 0 } } },
        },
      ],
    })) as TrainingSummary;
    expect(summary.models.every((m) => m.promoted)).toBe(true);
    return Object.fromEntries(summary.models.map((m) => [m.kind, m.version!]));
  }

  const loose = {
    models: ['xgboost', 'isolation_forest'],
    holdout: { rows: 10_000, seed: 5, fraudRate: 0.02 },
    comparison: { maxPrAucDrop: 1, maxRecallDrop: 1, maxFprIncrease: 1, maxLatencyRatio: 1000 },
    steps: [50, 100],
    bakeSeconds: 4,
    checkIntervalSeconds: 1,
    apiLoadTimeoutSeconds: 60,
  };

  async function stageOf(kind: string, version: string) {
    const v = await mlflow.registry.getModelVersion(`fraud_detection_${kind}`, version);
    return { stage: v.current_stage, aliases: v.aliases ?? [], tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value])) };
  }

  let first: Record<string, string>;
  let championRelease: string;

  it('deploys the first Staging set as champion directly, and the API serves it', async () => {
    first = await train(1);
    const result = (await client.workflow.execute('canaryDeployment', { taskQueue: cfg.taskQueue, workflowId: `canary-${randomUUID()}`, args: [{ ...loose, versions: first }] })) as CanaryResult;
    expect(result.outcome).toBe('deployed_as_champion');
    expect(result.reason).toMatch(/no champion/);
    championRelease = result.release!;
    expect(await readSlot(storeDir, 'champion')).toBe(championRelease);
    expect(runtime.models.champion()?.manifest.id).toBe(championRelease);
    expect((await fetch(`${api.url}/ready`)).status).toBe(200);
    for (const [kind, version] of Object.entries(first)) {
      const s = await stageOf(kind, version);
      expect(s.stage).toBe('Production');
      expect(s.aliases).toContain('champion');
    }
  });

  it('ramps a better-or-equal challenger through the steps under live traffic and promotes it, losing no request', async () => {
    const second = await train(2);
    const load = traffic(60);
    let result: CanaryResult;
    try {
      result = (await client.workflow.execute('canaryDeployment', {
        taskQueue: cfg.taskQueue,
        workflowId: `canary-${randomUUID()}`,
        // Two different models' score distributions differ on a few hundred requests: this test is about the mechanics.
        args: [{ ...loose, versions: second, analysis: { minCanaryRequests: 10, maxPsi: 10 } }],
      })) as CanaryResult;
      // A little traffic after the swap, too.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await load.stop();
    }
    expect(result.outcome).toBe('promoted');
    expect(result.analyses.map((a) => a.percent)).toEqual([50, 100]);
    expect(result.analyses.every((a) => a.analysis.canary.requests >= 10)).toBe(true);
    expect(load.counts.errors).toBe(0);
    expect(load.counts.canary).toBeGreaterThan(0);
    expect(load.counts.champion).toBeGreaterThan(0);

    expect(await readSlot(storeDir, 'champion')).toBe(result.release);
    expect(await readSlot(storeDir, 'canary')).toBeNull();
    expect((await readRouting(storeDir))?.canaryPercent).toBe(0);
    expect(runtime.models.champion()?.manifest.id).toBe(result.release);
    for (const [kind, version] of Object.entries(second)) {
      const s = await stageOf(kind, version);
      expect(s.stage).toBe('Production');
      expect(s.aliases).toContain('champion');
    }
    for (const [kind, version] of Object.entries(first)) expect((await stageOf(kind, version)).stage).toBe('Archived');
    championRelease = result.release!;
  });

  let broken: Record<string, string>;

  it('rolls back a canary whose scores are off, automatically, while the champion keeps serving', async () => {
    // One boosting round of depth 1: scores bunch around 0.5, far from the champion's.
    broken = await train(3, { xgboost: { nRounds: 1, maxDepth: 1, eta: 0.3 } });
    const load = traffic(60);
    let result: CanaryResult;
    try {
      result = (await client.workflow.execute('canaryDeployment', {
        taskQueue: cfg.taskQueue,
        workflowId: `canary-${randomUUID()}`,
        args: [{ ...loose, versions: broken, analysis: { minCanaryRequests: 10 } }],
      })) as CanaryResult;
    } finally {
      await load.stop();
    }
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/at 50 % canary traffic: .*PSI/);
    expect(load.counts.errors).toBe(0);
    expect(await readSlot(storeDir, 'canary')).toBeNull();
    expect(await readSlot(storeDir, 'champion')).toBe(championRelease);
    expect((await readRouting(storeDir))?.canaryPercent).toBe(0);
    expect(runtime.models.champion()?.manifest.id).toBe(championRelease);
    for (const [kind, version] of Object.entries(broken)) {
      const s = await stageOf(kind, version);
      expect(s.stage).toBe('Staging');
      expect(s.tags.canary_rollback_reason).toMatch(/PSI/);
    }
  });

  it('waits for approval when asked, allows one canary at a time, and rolls back on the abort signal', async () => {
    const workflowId = `canary-${randomUUID()}`;
    const handle = await client.workflow.start('canaryDeployment', {
      taskQueue: cfg.taskQueue,
      workflowId,
      args: [{ ...loose, versions: broken, requireApproval: true }],
    });
    for (;;) {
      const s = await handle.query<CanaryStatus>('status');
      if (s.phase === 'awaiting_approval') break;
      if (['rolled_back', 'rejected', 'promoted'].includes(s.phase)) throw new Error(`unexpected phase ${s.phase}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // The canary is loaded, at 0 % until approved.
    expect(runtime.models.canary()).toBeDefined();
    expect(runtime.models.canaryPercent()).toBe(0);

    const second = await client.workflow
      .execute('canaryDeployment', { taskQueue: cfg.taskQueue, workflowId: `canary-${randomUUID()}`, args: [{ ...loose, versions: broken }] })
      .catch((e: unknown) => e);
    expect(second).toBeInstanceOf(WorkflowFailedError);
    const cause = (second as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('CanaryInProgress');
    expect((cause as ApplicationFailure).message).toContain(workflowId);

    await handle.signal('abort', 'stopped by the on-call engineer');
    const result = (await handle.result()) as CanaryResult;
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toBe('stopped by the on-call engineer');
    expect(await readSlot(storeDir, 'canary')).toBeNull();
  });

  it('refuses a corrupt canary file: the API keeps serving the champion and reports the rejected candidate', async () => {
    const championDir = join(storeDir, 'releases', championRelease);
    const manifest = JSON.parse(readFileSync(join(championDir, 'manifest.json'), 'utf8')) as ModelSetManifest;
    // A valid release of the same models with other weights, then damaged on disk.
    const release = await writeRelease(storeDir, {
      members: manifest.members.map(({ sha256: _, ...member }) => ({ member, modelJson: readFileSync(join(championDir, member.kind, 'model.json')) })),
      weights: { xgboost: 0.9, isolation_forest: 0.1 },
      threshold: manifest.threshold,
    });
    truncateSync(join(storeDir, 'releases', release.id, 'xgboost', 'model.json'), 100);
    await pointSlot(storeDir, 'canary', release.id);
    const deadline = Date.now() + 30_000;
    let health: { status: string; champion: { release: string } | null; rejected: { slot: string; release: string; reason: string }[] };
    for (;;) {
      health = (await (await fetch(`${api.url}/health`)).json()) as typeof health;
      if (health.rejected.some((r) => r.release === release.id) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const rejected = health.rejected.find((r) => r.release === release.id);
    expect(rejected?.slot).toBe('canary');
    expect(rejected?.reason).toMatch(/xgboost/);
    expect(health.status).toBe('ok');
    expect(health.champion?.release).toBe(championRelease);
    const row = generateTransactions({ rows: 1, seed: 4 });
    const res = await fetch(`${api.url}/api/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ transaction_id: 'after-corrupt', features: Array.from(row.features) }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { release: string }).release).toBe(championRelease);
    await pointSlot(storeDir, 'canary', null);
  });
});
