import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../lib/stack/net';
import { groupAlive, readRecord, type ServiceRecord } from '../../lib/stack/processes';

const root = join(__dirname, '../..');

/**
 * `npm run stack:up|status|down` and `npm start` as a user runs them (the same script, on free ports
 * and a scratch data dir so the test stack and a developer's stack are left alone).
 */
describe('local stack commands', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const records: ServiceRecord[] = [];

  const stack = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/stack.ts'), ...args], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const remember = () => {
    for (const name of ['temporal', 'mlflow', 'api', 'worker']) {
      const r = readRecord({ runDir: join(dataDir, 'run'), logDir: '' }, name);
      if (r) records.push(r);
    }
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'stack-cli-'));
    env = {
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_TASK_QUEUE: 'stack-cli-test',
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${await freePort()}`,
      API_PORT: String(await freePort()),
      DATA_DIR: dataDir,
      LOG_FORMAT: 'json',
    };
  });

  afterAll(() => {
    stack('down'); // even when an assertion failed half-way
    for (const r of records) if (groupAlive(r.pid)) process.kill(-r.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('brings the stack up, reports it, runs the main job, brings it down leaving no process, and keeps workflow history', async () => {
    const up = stack('up');
    expect(up.out).toContain('Web UI');
    expect(up.code).toBe(0);
    remember();
    expect(records.map((r) => r.command)).toHaveLength(4);

    const status = stack('status');
    expect(status.code).toBe(0);
    expect(status.out.match(/healthy \(pid/g)).toHaveLength(4);

    const again = stack('up');
    expect(again.code).toBe(0);
    expect(again.out.match(/already running/g)).toHaveLength(4);

    // `npm start` reuses what runs, runs the main job (trainingPipeline, here on a small dataset),
    // prints its summary and stops nothing it did not start.
    const input = {
      dataset: { rows: 20_000, fraudRate: 0.01 },
      hyperparameters: { xgboost: { nRounds: 30 }, random_forest: { nTrees: 20 }, neural_network: { epochs: 3 } },
      qualityGate: { minPrAuc: 0, minRecall: 0, perModel: {} },
      experimentName: 'stack-cli-test',
    };
    const start = stack('start', '--once', '--input', JSON.stringify(input), '--deploy-input', JSON.stringify({ holdout: { rows: 10_000 } }));
    expect(start.code).toBe(0);
    const done = start.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; workflowId?: string })
      .find((l) => l.msg.startsWith('trainingPipeline started'));
    expect(done?.workflowId).toBeDefined();
    expect(start.out).toContain('fraud_detection_xgboost v1 → Staging');
    expect(start.out).toContain('schedule nightly-training');
    // …then deploys them: the first time, straight to champion, served by the API.
    const release = /canaryDeployment: release ([0-9a-f]{16}) deployed as champion/.exec(start.out)?.[1];
    expect(release).toBeDefined();
    const health = (await (await fetch(`http://127.0.0.1:${env.API_PORT}/health`)).json()) as { champion: { release: string } | null };
    expect(health.champion?.release).toBe(release);
    expect(stack('status').code).toBe(0);

    const down = stack('down');
    expect(down.code).toBe(0);
    for (const r of records) expect(groupAlive(r.pid)).toBe(false);
    expect(stack('status').code).toBe(3);

    // Temporal keeps its state in DATA_DIR/temporal.db: the workflow is still there after a restart.
    expect(stack('up').code).toBe(0);
    remember();
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
    try {
      const described = await new Client({ connection }).workflow.getHandle(done!.workflowId!).describe();
      expect(described.status.name).toBe('COMPLETED');
    } finally {
      await connection.close();
    }
    expect(stack('down').code).toBe(0);
  });

  it('fails with a message naming the port when a port is taken by another program', async () => {
    const { createServer } = await import('node:net');
    const port = Number(new URL(env.MLFLOW_TRACKING_URI!).port);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const up = stack('up');
      expect(up.code).toBe(1);
      expect(up.out).toContain(`Port ${port}`);
      expect(up.out).toContain('MLFLOW_TRACKING_URI');
    } finally {
      blocker.close();
      remember();
      stack('down');
    }
  });
});
