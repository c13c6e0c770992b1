import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { readSplit } from '../../lib/datasets/store';
import { silentLogger } from '../../lib/logger';
import { subsetRows } from '../../lib/ml/data/split';
import { loadModel } from '../../lib/ml/models';
import type { MlflowClient } from '../../lib/mlflow';
import type { PipelineProgress, TrainingSummary } from '../../workflows/training-pipeline';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';
import { startOwnMlflow } from '../support/own-mlflow';

const KINDS = ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'] as const;

/** trainingPipeline end to end on the real dev server and the real MLflow server, on a small dataset. */
describe('trainingPipeline', () => {
  // An MLflow server of its own: other test files deploy (move Staging versions to Production)
  // concurrently, and this file checks what `models:/…/Staging` resolves to.
  const cfg = testConfig({ taskQueue: `training-${randomUUID()}` }); // mlflowTrackingUri: set in beforeAll
  const experimentName = `training-test-${randomUUID().slice(0, 8)}`;
  let mlflow: MlflowClient;
  let own: Awaited<ReturnType<typeof startOwnMlflow>> | undefined;
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
    own = await startOwnMlflow(dataDir);
    cfg.mlflowTrackingUri = own.uri;
    mlflow = own.client;
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
    await own?.stop();
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
      expect(files).toEqual(
        expect.arrayContaining(['model/MLmodel', 'model/model.json', 'model/model.onnx', 'model/requirements.txt', 'model/python_env.yaml', 'model/conda.yaml', 'model/input_example.json']),
      );
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

  it('gives the same predictions in TypeScript and in Python (mlflow.pyfunc from the Staging models), to 1e-5', async () => {
    // 1,000 test rows of the pipeline's own split, and each model's TypeScript predictions from
    // the model.json it logged.
    const test = (await readSplit({ dir: join(dataDir, 'datasets', summary.dataset.digest) })).test;
    const rows = subsetRows(test, Uint32Array.from({ length: Math.min(1000, test.numRows) }, (_, i) => i));
    const ours: Record<string, number[]> = {};
    for (const m of summary.models) {
      const json = JSON.parse((await mlflow.artifacts.readArtifact(m.runId, 'model/model.json')).toString('utf8')) as unknown;
      ours[m.kind] = Array.from((await loadModel(json)).predictProba(rows.features, rows.numRows));
    }
    const scratch = mkdtempSync(join(tmpdir(), 'pyfunc-'));
    try {
      const matrix = Array.from({ length: rows.numRows }, (_, i) => Array.from(rows.features.subarray(i * rows.numFeatures, (i + 1) * rows.numFeatures)));
      writeFileSync(join(scratch, 'rows.json'), JSON.stringify({ columns: rows.featureNames, data: matrix }));
      // A plain float64 DataFrame, as a Python user would build it; schema enforcement must accept it.
      const script = `
import json, sys, numpy as np, pandas as pd, mlflow
d = json.load(open(sys.argv[1]))
df = pd.DataFrame(np.array(d["data"], dtype=np.float64), columns=d["columns"])
out = {}
for kind in ${JSON.stringify(KINDS)}:
    model = mlflow.pyfunc.load_model(f"models:/fraud_detection_{kind}/Staging")
    pred = model.predict(df)
    out[kind] = {"columns": list(pred.columns), "probability": [float(x) for x in pred["probability"]], "label": [int(x) for x in pred["label"]]}
print(json.dumps(out))
`;
      const r = spawnSync(join(cfg.venvDir, 'bin', 'python'), ['-c', script, join(scratch, 'rows.json')], {
        env: { ...process.env, MLFLOW_TRACKING_URI: cfg.mlflowTrackingUri },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(r.stderr).not.toMatch(/Traceback/);
      const python = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { columns: string[]; probability: number[]; label: number[] }>;
      for (const m of summary.models) {
        const py = python[m.kind]!;
        expect(py.columns).toEqual(['probability', 'label']);
        const mine = ours[m.kind]!;
        expect(py.probability).toHaveLength(mine.length);
        const maxDiff = Math.max(...mine.map((p, i) => Math.abs(p - py.probability[i]!)));
        expect(maxDiff).toBeLessThanOrEqual(1e-5);
        // The label output uses the threshold chosen on validation.
        expect(py.label).toEqual(py.probability.map((p) => (p >= m.metrics.threshold ? 1 : 0)));
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it("runs the seed document's diagnostics unchanged (but for the tracking URI) and they succeed", () => {
    const seed = readFileSync(join(__dirname, '../fixtures/seed/000_b67219e1e5ea890c.txt'), 'utf8');
    // The seed document (a verbatim copy in the fixtures): its snippets are `docker exec fraud-training python -c "…"` blocks, taken as they are.
    const snippets = [...seed.matchAll(/docker exec fraud-training python -c "\n([\s\S]*?)\n\s*"\n/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
    const listing = snippets.find((s) => s.includes("print(f'✅ {len(models)} models in Registry')"));
    const loading = snippets.find((s) => s.includes("models:/fraud_detection_xgboost/Staging"));
    expect(listing).toBeDefined();
    expect(loading).toBeDefined();
    for (const snippet of [listing!, loading!]) {
      const code = snippet.replace("mlflow.set_tracking_uri('http://mlflow:5000')", `mlflow.set_tracking_uri('${cfg.mlflowTrackingUri}')`);
      expect(code).not.toContain('mlflow:5000');
      const r = spawnSync(join(cfg.venvDir, 'bin', 'python'), ['-c', code], { encoding: 'utf8' });
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.status).toBe(0);
      if (snippet === listing) {
        for (const kind of KINDS) expect(r.stdout).toMatch(new RegExp(`- fraud_detection_${kind}: \\d+ version`));
        expect(r.stdout).toMatch(/Version \d+ \(Staging\)/);
      } else {
        expect(r.stdout).toContain('✅ Model loaded successfully from models:/fraud_detection_xgboost/Staging');
      }
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
