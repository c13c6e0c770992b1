import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { silentLogger } from '../../lib/logger';
import { MlflowClient } from '../../lib/mlflow';
import { probeMlflow } from '../../lib/stack/health';
import type { stackSmoke } from '../../workflows';
import { createWorker } from '../../workers/create-worker';
import { testConfig } from '../support/env';

/** A workflow started through the client runs on a worker against the real dev server and reaches the real MLflow. */
describe('Temporal smoke', () => {
  it('runs stackSmoke on a worker, whose activity reaches MLflow', async () => {
    const cfg = testConfig({ taskQueue: `smoke-${randomUUID()}` });
    const mlflow = new MlflowClient({ trackingUri: cfg.mlflowTrackingUri, logger: silentLogger });
    const { worker, connection: workerConnection } = await createWorker(cfg, { mlflow, logger: silentLogger, dataDir: cfg.mlDataDir }, { identity: 'smoke-test-worker' });
    const connection = await Connection.connect({ address: cfg.temporalAddress });
    try {
      const client = new Client({ connection, namespace: cfg.temporalNamespace });
      const workflowId = `smoke-${randomUUID()}`;
      const result = await worker.runUntil(
        client.workflow.execute<typeof stackSmoke>('stackSmoke', { taskQueue: cfg.taskQueue, workflowId, workflowExecutionTimeout: '1 minute' }),
      );
      expect(result.workflowId).toBe(workflowId);
      expect(result.mlflowTrackingUri).toBe(cfg.mlflowTrackingUri);
      expect(result.mlflowVersion).toBe(await probeMlflow(cfg.mlflowTrackingUri));
      expect(result.mlflowVersion).toMatch(/^3\.\d+\.\d+/);
      const described = await client.workflow.getHandle(workflowId).describe();
      expect(described.status.name).toBe('COMPLETED');
      expect(described.taskQueue).toBe(cfg.taskQueue);
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  });
});
