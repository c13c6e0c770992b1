import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { hashToken } from '../../api/plugins/auth';
import { startServingRuntime, type ServingRuntime } from '../../api/runtime';
import { startApi, type RunningApi } from '../../api/server';
import { projectRoot } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { MlflowClient, parseArtifactUri } from '../../lib/mlflow';
import { pointSlot, readRouting, writeRelease } from '../../lib/model-store';
import type { ModelsReportOutput } from '../../lib/models-report';
import type { ModelSetManifest } from '../../lib/serving/contract';
import type { CanaryResult } from '../../workflows/canary-deployment';
import type { TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';

/**
 * `npm run models` against the real stack: a training run and a first canary deployment (the
 * deployed set becomes the champion), then the CLI as a user runs it, in its own process. The
 * registered model names are shared with other test files running at the same time, so the
 * assertions are about the versions, runs, store and API this file created.
 */
describe('npm run models', () => {
  const cfg = testConfig({ taskQueue: `models-cli-${randomUUID()}` });
  const stackDir = process.env.TEST_STACK_DIR!;
  const experimentName = `models-cli-${randomUUID()}`;
  const kinds = ['random_forest', 'neural_network'] as const;
  const mlflow = new MlflowClient({ trackingUri: cfg.mlflowTrackingUri });
  const adminToken = `test-admin-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'models-cli-'));
  const storeDir = join(dir, 'store');
  let runtime: ServingRuntime;
  let api: RunningApi;
  let worker: Worker;
  let workerConnection: NativeConnection;
  let running: Promise<void>;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
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
    // Leave no Production baseline behind for other test files' quality gates.
    for (const m of summary?.models ?? []) {
      if (m.version) await mlflow.registry.transitionModelVersionStage(m.registeredModel, m.version, 'Archived').catch(() => undefined);
    }
    worker?.shutdown();
    await running;
    await workerConnection?.close();
    await connection?.close();
    await api?.close();
    await runtime?.stop();
    mlflow.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The CLI in its own process, as `npm run models -- …` runs it; asynchronous, so this process's worker and API keep serving. */
  function models(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = {
      ...process.env,
      MLFLOW_TRACKING_URI: cfg.mlflowTrackingUri,
      DATA_DIR: stackDir,
      MODEL_STORE_DIR: storeDir,
      API_URL: api.url,
      API_ADMIN_TOKEN: adminToken,
      NO_COLOR: '1',
    };
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(projectRoot, 'scripts', 'models.ts'), '--experiment', experimentName, '--models', kinds.join(','), ...args],
        { cwd: projectRoot, env, timeout: 150_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
    });
  }

  const failures = (stdout: string) => stdout.split('\n').filter((line) => line.startsWith('✗ '));
  const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  let summary: TrainingSummary;
  let deployment: CanaryResult;
  const versionOf = (kind: string) => summary.models.find((m) => m.kind === kind)!.version!;
  const runOf = (kind: string) => summary.models.find((m) => m.kind === kind)!.runId;
  /** `<TEST_STACK_DIR>/mlflow/artifacts/<exp>/<run>/artifacts/model`, from the run's artifact URI: where the test MLflow keeps it. */
  async function modelDirOnDisk(runId: string): Promise<string> {
    const run = await mlflow.tracking.getRun(runId);
    return join(stackDir, 'mlflow', 'artifacts', ...parseArtifactUri(run.info.artifact_uri).path.split('/'), 'model');
  }

  it('after a training run and a first deployment, --check --json shows the runs, their files on disk, the versions, the store and the API', async () => {
    summary = (await client.workflow.execute('trainingPipeline', {
      taskQueue: cfg.taskQueue,
      workflowId: `models-cli-train-${randomUUID()}`,
      args: [
        {
          dataset: { rows: 4000, seed: 21, fraudRate: 0.03 },
          models: [...kinds],
          // Deliberately weak: deployed, they become the Production baseline other test files' quality gates compare with.
          hyperparameters: { random_forest: { nTrees: 1, maxDepth: 1 }, neural_network: { epochs: 1 } },
          qualityGate: { minPrAuc: 0, minRecall: 0, maxPrAucDrop: 1 },
          experimentName,
        },
      ],
    })) as TrainingSummary;
    expect(summary.models.every((m) => m.promoted)).toBe(true);
    const canaryWorkflowId = `models-cli-canary-${randomUUID()}`;
    deployment = (await client.workflow.execute('canaryDeployment', {
      taskQueue: cfg.taskQueue,
      workflowId: canaryWorkflowId,
      args: [
        {
          models: [...kinds],
          versions: Object.fromEntries(kinds.map((k) => [k, versionOf(k)])),
          holdout: { rows: 4000, seed: 5, fraudRate: 0.03 },
          steps: [100],
          bakeSeconds: 1,
          checkIntervalSeconds: 1,
          apiLoadTimeoutSeconds: 60,
        },
      ],
    })) as CanaryResult;
    expect(deployment.outcome).toBe('deployed_as_champion');
    const release = deployment.release!;

    const stagesBefore = await Promise.all(kinds.map(async (k) => (await mlflow.registry.getModelVersion(`fraud_detection_${k}`, versionOf(k))).current_stage));
    const result = await models(['--check', '--json']);
    const stagesAfter = await Promise.all(kinds.map(async (k) => (await mlflow.registry.getModelVersion(`fraud_detection_${k}`, versionOf(k))).current_stage));
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as ModelsReportOutput;
    expect(result.code).toBe(report.ok ? 0 : 1);
    expect(report.name).toBe('fraud-ml-models-report');

    // 1. MLflow tracking: our experiment, one register_<kind> run per model, its model/ files as they are on disk.
    expect(report.mlflow.reachable).toBe(true);
    expect(report.mlflow.experiment?.id).toBe(summary.experimentId);
    expect(report.mlflow.experiment?.artifactPath).toBe(join(stackDir, 'mlflow', 'artifacts', summary.experimentId));
    for (const kind of kinds) {
      const runs = report.mlflow.runs.filter((r) => r.kind === kind);
      expect(runs.map((r) => r.runId)).toEqual([runOf(kind)]);
      const run = runs[0]!;
      expect(run).toMatchObject({ runName: `register_${kind}`, status: 'FINISHED', workflowId: summary.workflowId });
      expect(run.metrics.test_pr_auc).toBeCloseTo(summary.models.find((m) => m.kind === kind)!.metrics.prAuc, 6);
      const onDisk = await modelDirOnDisk(run.runId);
      expect(run.artifactPath).toBe(join(onDisk, '..'));
      const names = run.modelFiles!.map((f) => f.name);
      for (const name of ['MLmodel', 'model.onnx', 'model.json', 'requirements.txt', 'python_env.yaml', 'conda.yaml', 'input_example.json']) {
        expect(names).toContain(name);
        expect(run.modelFiles!.find((f) => f.name === name)!.size).toBe(statSync(join(onDisk, name)).size);
      }
    }

    // 2. Registry: our versions with their lineage tags, checked because the store deploys them, loadable by us and by pyfunc.
    for (const [i, kind] of kinds.entries()) {
      const model = report.registry.find((m) => m.name === `fraud_detection_${kind}`)!;
      expect(model.registered).toBe(true);
      const v = model.versions.find((x) => x.version === versionOf(kind))!;
      expect(v).toMatchObject({ runId: runOf(kind), tags: { workflow_id: summary.workflowId, dataset_digest: summary.dataset.digest, gate: 'passed', deployed_by: canaryWorkflowId } });
      // Another test file may deploy over ours meanwhile; when nothing moved during the run, the CLI saw MLflow's stage.
      if (stagesBefore[i] === stagesAfter[i]) expect(v.stage).toBe(stagesBefore[i]);
      expect(['Production', 'Archived']).toContain(v.stage);
      expect(v.inspection?.checkedAs).toContain('champion/');
      expect(v.inspection?.artifactPath).toBe(await modelDirOnDisk(runOf(kind)));
      expect(v.inspection?.missingFiles).toEqual([]);
      expect(v.inspection?.load.status).toBe('ok');
      expect(v.inspection?.pyfunc).toMatchObject({ status: 'ok' });
      expect(report.checks).toContainEqual(expect.objectContaining({ code: 'pyfunc-loads', ok: true, subject: expect.stringMatching(new RegExp(`^fraud_detection_${kind} v${versionOf(kind)} `)) }));
      expect(report.checks).toContainEqual(expect.objectContaining({ code: 'version-in-staging', ok: true, subject: `fraud_detection_${kind}` }));
    }

    // 3. + 4. The store's champion is the deployed release, and it is what the API serves.
    const champion = report.store.slots.find((s) => s.slot === 'champion')!;
    expect(champion).toMatchObject({ state: 'ok', release, loadedByApi: true, load: { status: 'ok' } });
    expect(champion.manifest!.members.map((m) => [m.kind, m.version]).sort()).toEqual(kinds.map((k) => [k, versionOf(k)]).sort());
    expect(report.store.slots.find((s) => s.slot === 'canary')!.state).toBe('empty');
    expect(report.store.routing).toEqual(await readRouting(storeDir));
    expect(report.api).toMatchObject({ reachable: true, source: 'admin', token: 'API_ADMIN_TOKEN', adminError: null });
    expect(report.api.champion?.release).toBe(champion.release);
    expect(report.api.canary).toBeNull();

    // 5. The location summary names the champion's path on disk.
    expect(report.summary).toContainEqual(expect.objectContaining({ where: 'Model store champion', path: `${join(storeDir, 'champion')} → releases/${release}` }));

    // Nothing this file owns fails (a concurrent deployment may move the shared champion alias: registry-alias is not ours to assert).
    const ours = report.checks.filter((c) => !c.ok && c.code !== 'registry-alias' && (c.code.startsWith('store') || c.code.startsWith('api') || kinds.some((k) => c.subject.startsWith(`fraud_detection_${k} v${versionOf(k)} `))));
    expect(ours).toEqual([]);

    // Without options: the tables for a terminal, exit 0 whatever they show.
    const table = await models([]);
    expect(table.code).toBe(0);
    for (const title of ['MLflow tracking — ', 'MLflow registry', `Model store — ${storeDir}`, `Serving API — ${api.url}`, 'Location summary']) expect(table.stdout).toContain(title);
    expect(table.stdout).toMatch(new RegExp(`^  Model store champion +${join(storeDir, 'champion')} → releases/${release} +`, 'm'));
  });

  it('--check reports a deliberately removed artifact file, naming the file and where it was', async () => {
    const modelDir = await modelDirOnDisk(runOf('random_forest'));
    const onnx = join(modelDir, 'model.onnx');
    expect(existsSync(onnx)).toBe(true);
    unlinkSync(onnx);

    const result = await models(['--check']);
    expect(result.code).toBe(1);
    const lines = failures(result.stdout);
    const v = versionOf('random_forest');
    const ours = lines.filter((l) => l.startsWith(`✗ fraud_detection_random_forest v${v} (`));
    const escaped = modelDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(ours).toContainEqual(expect.stringMatching(new RegExp(`^✗ fraud_detection_random_forest v${v} \\((Production, )?champion/\\): artifacts missing: model/model\\.onnx \\(in ${escaped}\\)$`)));
    // Python cannot load it without its ONNX file; our loader (model.json) still can.
    expect(ours).toContainEqual(expect.stringContaining(`: mlflow.pyfunc.load_model('models:/fraud_detection_random_forest/${v}') failed: `));
    expect(ours.filter((l) => l.includes('our loader'))).toEqual([]);
    expect(ours).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith(`✗ fraud_detection_neural_network v${versionOf('neural_network')} (`))).toEqual([]);
  });

  it('--check reports a stale champion directory: store drift against the routing file and the registry, and an API that did not reload', async () => {
    const release = deployment.release!;
    // The API keeps what it has in memory from now on, as a stuck API process would.
    await runtime.stop();
    const championDir = join(storeDir, 'releases', release);
    const manifest = JSON.parse(readFileSync(join(championDir, 'manifest.json'), 'utf8')) as ModelSetManifest;
    // The same models, but the random forest's model.json rewritten (same model, other bytes): not what MLflow has.
    const stale = await writeRelease(storeDir, {
      members: manifest.members.map(({ sha256: _, ...member }) => {
        const text = readFileSync(join(championDir, member.kind, 'model.json'), 'utf8');
        return { member, modelJson: member.kind === 'random_forest' ? JSON.stringify(JSON.parse(text), null, 1) : text };
      }),
      weights: manifest.weights,
      threshold: manifest.threshold,
    });
    expect(stale.id).not.toBe(release);
    await pointSlot(storeDir, 'champion', stale.id);

    const result = await models(['--check', '--no-python']);
    expect(result.code).toBe(1);
    const lines = failures(result.stdout);
    expect(lines).toContain(`✗ store drift: champion/ holds release ${stale.id} but traffic_routing.json names release ${release} for it`);
    const storeSha = sha256(readFileSync(join(storeDir, 'releases', stale.id, 'random_forest', 'model.json')));
    const mlflowSha = sha256(await mlflow.artifacts.readArtifact(runOf('random_forest'), 'model/model.json'));
    expect(storeSha).not.toBe(mlflowSha);
    expect(lines).toContain(
      `✗ store drift: champion/ release ${stale.id} has random_forest/model.json with sha256 ${storeSha.slice(0, 12)}…, but MLflow's fraud_detection_random_forest v${versionOf('random_forest')} model/model.json has ${mlflowSha.slice(0, 12)}…`,
    );
    // The neural network's bytes are MLflow's: no drift reported for it.
    expect(lines.filter((l) => l.includes('neural_network/model.json'))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^✗ API not reloaded: it serves release ${release} as champion but champion/ holds release ${stale.id};`)));
  });
});
