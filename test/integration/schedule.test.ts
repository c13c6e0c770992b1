import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { NIGHTLY_SCHEDULE_ID, ensureNightlySchedule } from '../../lib/schedule';
import { testConfig } from '../support/env';

/** The nightly schedule on the real dev server: created once, updated in place after that. */
describe('nightly-training schedule', () => {
  it('is created, then updated idempotently, with the nightly spec', async () => {
    const cfg = testConfig();
    const connection = await Connection.connect({ address: cfg.temporalAddress });
    try {
      const client = new Client({ connection, namespace: cfg.temporalNamespace });
      expect(await ensureNightlySchedule(client, 'queue-a')).toBe('created');
      expect(await ensureNightlySchedule(client, 'queue-b')).toBe('updated');
      const d = await client.schedule.getHandle(NIGHTLY_SCHEDULE_ID).describe();
      expect(d.action.type).toBe('startWorkflow');
      expect(d.action.type === 'startWorkflow' && d.action.workflowType).toBe('trainingPipeline');
      expect(d.action.type === 'startWorkflow' && d.action.taskQueue).toBe('queue-b');
      expect(d.action.type === 'startWorkflow' && d.action.workflowExecutionTimeout).toBe(6 * 3600 * 1000);
      expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      const calendar = d.spec.calendars?.[0];
      expect(calendar?.hour).toEqual([{ start: 2, end: 2, step: 1 }]);
      expect(calendar?.minute).toEqual([{ start: 0, end: 0, step: 1 }]);
      expect(d.spec.timezone).toBe('UTC');
      const next = d.info.nextActionTimes[0];
      expect(next?.getUTCHours()).toBe(2);
      expect(next?.getUTCMinutes()).toBe(0);
      const listed = [];
      for await (const s of client.schedule.list()) listed.push(s.scheduleId);
      expect(listed.filter((id) => id === NIGHTLY_SCHEDULE_ID)).toHaveLength(1);
    } finally {
      await connection.close();
    }
  });
});
