#!/usr/bin/env -S node --import tsx
/**
 * `npm run models [-- --check] [-- --json]`: where the models are (MLflow runs and artifacts, the
 * registry, the model store, the serving API) and, with `--check`, whether they are all where they
 * should be. See lib/models-report and `npm run models -- --help`.
 */
import { runModelsCli } from '../lib/models-report/cli';

runModelsCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`models failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
