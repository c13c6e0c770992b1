// Stops the test servers when the Jest process that started them dies without running its global
// teardown (killed by a timeout, Ctrl-C twice, an OOM): otherwise they would outlive it for good.
// usage: node orphan-reaper.mjs <ownerPid> <dirToRemove> <pgid> [pgid...]
import { rmSync } from 'node:fs';

const [owner, dir, ...groups] = process.argv.slice(2);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
setInterval(() => {
  if (alive(Number(owner))) return;
  for (const g of groups) {
    try {
      process.kill(-Number(g), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}, 2000);
