/**
 * `npm run simulate -- --rps 50 [--duration 60] [--url http://127.0.0.1:8000] [--token T]`:
 * synthetic transactions against a running serving API (lib/simulator). Ctrl-C stops sending and
 * prints the summary; a second Ctrl-C exits at once. Exits 1 when no request succeeded.
 */
import { runSimulateCli } from '../lib/simulator/cli';

const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});
process.once('SIGTERM', () => controller.abort());

runSimulateCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`simulate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
