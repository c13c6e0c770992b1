import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StackReport } from '../activities/smoke';

const { reportStack } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

export interface StackSmokeResult extends StackReport {
  workflowId: string;
}

/**
 * Proves the local stack works end to end.
 * 1. Run one activity on a worker of the task queue; it asks the MLflow server for its version.
 * 2. Return what the activity saw, with this workflow's id.
 */
export async function stackSmoke(): Promise<StackSmokeResult> {
  const report = await reportStack();
  return { ...report, workflowId: workflowInfo().workflowId };
}
