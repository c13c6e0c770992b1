/**
 * Training time and quality of the neural network on the synthetic credit-card data (a
 * measurement, not a test: run it alone, it keeps a CPU core busy for minutes at full size).
 *
 *   nice -n 10 npx tsx scripts/experiments/nn-benchmark.ts --options '{"epochs":5,"patience":0}'
 *   nice -n 10 npx tsx scripts/experiments/nn-benchmark.ts --options '{"epochs":20}'
 *   TFJS_BACKEND=cpu nice -n 10 npx tsx scripts/experiments/nn-benchmark.ts --rows 100000 --options '{"epochs":2,"patience":0}'
 *   flags: --rows N (default 284807), --seed N (training seed, default 42), --options JSON (NeuralNetworkOptions)
 *
 * Split: stratified 70/15/15 with seed 42 (the same as xgboost-benchmark.ts). Prints one JSON
 * line per epoch and one with the result.
 */
import { parseArgs } from 'node:util';

import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { averagePrecision, rocAuc } from '../../lib/ml/metrics';
import { NeuralNetworkModel, tfBackendInfo, type NeuralNetworkOptions } from '../../lib/ml/neural-network';


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '284807' },
      seed: { type: 'string', default: '42' },
      options: { type: 'string', default: '{}' },
    },
  });
  const options = JSON.parse(values.options) as NeuralNetworkOptions;
  const data = generateTransactions({ rows: Number(values.rows) });
  const { train, validation, test } = stratifiedSplit(data, { seed: 42 });
  const backend = await tfBackendInfo();

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const model = await NeuralNetworkModel.train(
    train,
    {
      ...options,
      seed: Number(values.seed),
      onProgress: (p) => console.log(JSON.stringify({ epoch: p.done, seconds: +p.elapsedSeconds.toFixed(2), ...p.metrics })),
    },
    validation,
  );
  const trainSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);

  const predictStarted = performance.now();
  const p = model.predictProba(data.features, data.numRows);
  const predictSeconds = (performance.now() - predictStarted) / 1000;
  const testP = model.predictProba(test.features, test.numRows);
  const { history: _history, backend: _backend, ...training } = model.training;
  console.log(
    JSON.stringify({
      rows: data.numRows,
      trainRows: train.numRows,
      backend,
      trainSeconds: +trainSeconds.toFixed(2),
      cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      secondsPerEpoch: +(trainSeconds / model.training.epochsRun).toFixed(2),
      predictAllRowsSeconds: +predictSeconds.toFixed(2),
      testPrAuc: +averagePrecision(test.labels, testP).toFixed(4),
      testRocAuc: +rocAuc(test.labels, testP).toFixed(4),
      meanProbability: +(p.reduce((a, b) => a + b, 0) / p.length).toFixed(5),
      jsonBytes: JSON.stringify(model.toJSON()).length,
      ...training,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
