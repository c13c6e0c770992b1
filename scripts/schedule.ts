/** `npm run schedule`: creates or updates the nightly-training schedule (idempotent). */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../lib/config';
import { NIGHTLY_SCHEDULE_ID, ensureNightlySchedule } from '../lib/schedule';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const connection = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const outcome = await ensureNightlySchedule(new Client({ connection, namespace: cfg.temporalNamespace }), cfg.taskQueue);
    console.log(`schedule ${NIGHTLY_SCHEDULE_ID} ${outcome}: trainingPipeline every day at 02:00 UTC on task queue ${cfg.taskQueue}`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
