import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';

export const NIGHTLY_SCHEDULE_ID = 'nightly-training';

/**
 * The nightly run of trainingPipeline: 02:00 UTC, default input, a run still going at the next
 * fire is not doubled (SKIP), and an execution timeout so one stuck run cannot block every later one.
 */
export function nightlyTrainingSchedule(taskQueue: string): ScheduleOptions {
  return {
    scheduleId: NIGHTLY_SCHEDULE_ID,
    spec: { cronExpressions: ['0 2 * * *'], timezone: 'UTC' },
    action: {
      type: 'startWorkflow',
      workflowType: 'trainingPipeline',
      args: [{}],
      taskQueue,
      workflowId: 'nightly-training',
      workflowExecutionTimeout: '6 hours',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false },
    state: { note: 'managed by `npm run schedule` / `npm run stack:up`' },
  };
}

/** Creates the schedule, or brings an existing one to this definition: safe to run any number of times. */
export async function ensureNightlySchedule(client: Client, taskQueue: string): Promise<'created' | 'updated'> {
  const options = nightlyTrainingSchedule(taskQueue);
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: options.policies,
    }));
    return 'updated';
  }
}
