import { rmSync } from 'node:fs';
import { stopRecord } from '../../lib/stack/processes';

/** Stops the servers of global-setup.ts; their state is thrown away unless KEEP_TEST_STACK=1. */
export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__testStack;
  if (!stack) return;
  try {
    if (stack.reaperPid) process.kill(stack.reaperPid, 'SIGTERM');
  } catch {
    /* it already exited */
  }
  await Promise.all(stack.records.map((r) => stopRecord(r)));
  if (process.env.KEEP_TEST_STACK !== '1') rmSync(stack.dir, { recursive: true, force: true });
  else process.stdout.write(`[test stack] kept ${stack.dir}\n`);
}
