import type { Duration } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type Activities, type ActivityDeps } from '../activities';
import type { AppConfig } from '../lib/config';

export interface WorkerHandle {
  worker: Worker;
  connection: NativeConnection;
}

/**
 * A worker for `cfg.taskQueue` serving every workflow of `workflows/` and the activities built from deps.
 * The caller runs it (`worker.run()` or `worker.runUntil(...)`) and closes the connection afterwards.
 */
export async function createWorker(
  cfg: Pick<AppConfig, 'temporalAddress' | 'temporalNamespace' | 'taskQueue'>,
  deps: ActivityDeps,
  opts: {
    identity?: string;
    /** How long in-flight activities may run on after `shutdown()` before they are interrupted. @default '10 seconds' */
    shutdownGraceTime?: Duration;
    /** Wraps the activities built from `deps`, e.g. to add tracing or fault injection. */
    decorateActivities?: (activities: Activities) => Activities;
  } = {},
): Promise<WorkerHandle> {
  const connection = await NativeConnection.connect({ address: cfg.temporalAddress });
  // A stale canary lock is taken over only when its workflow no longer runs.
  const isWorkflowRunning = async (workflowId: string): Promise<boolean> => {
    try {
      const res = await connection.workflowService.describeWorkflowExecution({ namespace: cfg.temporalNamespace, execution: { workflowId } });
      return res.workflowExecutionInfo?.status === 1; // WORKFLOW_EXECUTION_STATUS_RUNNING
    } catch (err) {
      if ((err as { code?: number }).code === 5) return false; // NOT_FOUND
      throw err;
    }
  };
  try {
    const worker = await Worker.create({
      connection,
      namespace: cfg.temporalNamespace,
      taskQueue: cfg.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: (opts.decorateActivities ?? ((a: Activities) => a))(createActivities({ isWorkflowRunning, ...deps })),
      ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
      // Lets in-flight activities finish (and report) when the worker is asked to stop.
      shutdownGraceTime: opts.shutdownGraceTime ?? '10 seconds',
      // Training progress reaches the server (and the Web UI's pending-activity view) every few
      // seconds instead of every 80 % of the heartbeat timeout.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    return { worker, connection };
  } catch (e) {
    await connection.close();
    throw e;
  }
}
