import { Client, Connection } from '@temporalio/client';
import type { AppConfig } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { stackSmoke } from '../workflows';

/**
 * What `npm start` runs once the stack is up. For now the stack smoke workflow; the training
 * pipeline takes its place once it exists.
 */
export async function runMainJob(cfg: AppConfig, logger: Logger): Promise<unknown> {
  const connection = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    const workflowId = `stack-smoke-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    logger.info({ workflowId }, 'starting workflow stackSmoke');
    const result = await client.workflow.execute<typeof stackSmoke>('stackSmoke', {
      taskQueue: cfg.taskQueue,
      workflowId,
      workflowExecutionTimeout: '2 minutes',
    });
    logger.info({ workflowId, result }, 'workflow stackSmoke completed');
    return result;
  } finally {
    await connection.close();
  }
}
