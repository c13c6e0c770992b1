/**
 * Training time and quality of the XGBoost and random-forest models on the synthetic credit-card
 * data (a measurement, not a test: run it alone, it uses a full CPU core for up to a minute).
 *
 *   nice -n 10 npx tsx scripts/experiments/xgboost-benchmark.ts --model xgboost
 *   nice -n 10 npx tsx scripts/experiments/xgboost-benchmark.ts --model random_forest --options '{"chunks":4}'
 *   flags: --rows N (default 284807), --repeat N (trainings in a row, to watch memory), --options JSON,
 *          --all (train on every row, no validation; test metrics are then on training rows)
 *
 * Split: stratified 70/15/15 with seed 42. Prints one JSON line per training.
 */
import { parseArgs } from 'node:util';
import { createRandom } from '../../lib/ml/data/random';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { averagePrecision } from '../../lib/ml/metrics';
import { RandomForestModel } from '../../lib/ml/random-forest';
import type { Dataset } from '../../lib/ml/types';
import { XGBoostModel } from '../../lib/ml/xgboost';

function subset(data: Dataset, rows: number[]): Dataset {
  const d = data.numFeatures;
  const features = new Float32Array(rows.length * d);
  const labels = new Uint8Array(rows.length);
  rows.forEach((row, i) => {
    features.set(data.features.subarray(row * d, (row + 1) * d), i * d);
    labels[i] = data.labels[row]!;
  });
  return { ...data, features, labels, numRows: rows.length };
}

/** Stratified 70/15/15 split: each class shuffled on its own, then cut in the same proportions. */
function split(data: Dataset, seed: number): { train: Dataset; validation: Dataset; test: Dataset } {
  const rng = createRandom(seed);
  const parts: [number[], number[], number[]] = [[], [], []];
  for (const label of [0, 1]) {
    const rows: number[] = [];
    for (let i = 0; i < data.numRows; i++) if (data.labels[i] === label) rows.push(i);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    const a = Math.round(rows.length * 0.7);
    const b = Math.round(rows.length * 0.85);
    rows.forEach((row, k) => parts[k < a ? 0 : k < b ? 1 : 2].push(row));
  }
  for (const part of parts) part.sort((x, y) => x - y);
  return { train: subset(data, parts[0]), validation: subset(data, parts[1]), test: subset(data, parts[2]) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'xgboost' },
      rows: { type: 'string', default: '284807' },
      repeat: { type: 'string', default: '1' },
      options: { type: 'string', default: '{}' },
      all: { type: 'boolean', default: false },
    },
  });
  const options = JSON.parse(values.options) as Record<string, unknown>;
  const data = generateTransactions({ rows: Number(values.rows) });
  const parts = split(data, 42);
  const train = values.all ? data : parts.train;
  const validation = values.all ? undefined : parts.validation;
  const test = values.all ? data : parts.test;
  for (let r = 0; r < Number(values.repeat); r++) {
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let lastProgress = '';
    const onProgress = (p: { done: number; total: number; unit: string }) => {
      lastProgress = `${p.done}/${p.total} ${p.unit}s`;
    };
    const model =
      values.model === 'random_forest'
        ? await RandomForestModel.train(train, { ...options, onProgress }, validation)
        : await XGBoostModel.train(train, { ...options, onProgress }, validation);
    const trainSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const predictStart = performance.now();
    const scores = model.predictProba(test.features, test.numRows);
    const predictSeconds = (performance.now() - predictStart) / 1000;
    const json = JSON.stringify(model.toJSON());
    model.dispose();
    console.log(
      JSON.stringify({
        model: values.model,
        rows: { train: train.numRows, validation: validation?.numRows ?? 0, test: test.numRows, trainFraud: train.labels.reduce((s, v) => s + v, 0) },
        options: model.options,
        trainSeconds: Number(trainSeconds.toFixed(2)),
        // CPU time of this process: less sensitive than wall time to other load on a shared machine.
        trainCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
        lastProgress,
        validationPrAuc: model.training.validationPrAuc,
        testPrAuc: averagePrecision(test.labels, scores),
        testPredictSeconds: Number(predictSeconds.toFixed(3)),
        trees: model.trees().trees.length,
        savedJsonMB: Number((json.length / 1e6).toFixed(2)),
        rssMB: Math.round(process.memoryUsage().rss / 1e6),
      }),
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
