/**
 * One side of `npm run bench:train` for ONE model, in a process of its own so its peak memory is
 * its own: loads the benchmark's CSV splits, trains, scores the test split, prints one JSON line.
 *
 * usage: node --import tsx bench/train-one.ts --model xgboost --data DIR --params '{...}'
 */
import { join } from 'node:path';
import { loadCsv } from '../lib/ml/data/csv';
import { averagePrecision } from '../lib/ml/metrics';
import { trainModel } from '../lib/ml/models';
import { MODEL_KINDS, type ModelKind } from '../lib/ml/types';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

async function main(): Promise<void> {
  const kind = arg('model') as ModelKind;
  if (!MODEL_KINDS.includes(kind)) throw new Error(`unknown model ${kind}`);
  const dir = arg('data');
  const params = JSON.parse(arg('params')) as Record<string, unknown>;
  const [train, validation, test] = await Promise.all(['train', 'validation', 'test'].map((p) => loadCsv(join(dir, `${p}.csv`))));
  const started = performance.now();
  const { model, backend } = await trainModel(kind, { train: train!, validation: validation! }, params);
  const seconds = (performance.now() - started) / 1000;
  const scores = model.predictProba(test!.features, test!.numRows);
  process.stdout.write(
    `${JSON.stringify({
      model: kind,
      seconds,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      prAuc: averagePrecision(test!.labels, scores),
      backend,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
