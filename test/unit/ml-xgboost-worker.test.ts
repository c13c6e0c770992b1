import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { RandomForestModel } from '../../lib/ml/random-forest';
import { XGBoostModel } from '../../lib/ml/xgboost';

/**
 * The worker trains both models from the TypeScript sources (through tsx's require hook, since the
 * worker thread runs outside Jest's module system) and posts back predictions and saved models.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { XGBoostModel } = require(workerData.xgboostModule);
const { RandomForestModel } = require(workerData.forestModule);
(async () => {
  const { train, test } = workerData;
  const xgb = await XGBoostModel.train(train, workerData.xgboostOptions);
  const forest = await RandomForestModel.train(train, workerData.forestOptions);
  parentPort.postMessage({
    xgboost: xgb.predictProba(test.features, test.numRows),
    forest: forest.predictProba(test.features, test.numRows),
    xgboostJson: xgb.toJSON(),
  });
})().catch((error) => parentPort.postMessage({ error: String((error && error.stack) || error) }));
`;

interface WorkerResult {
  xgboost: Float32Array;
  forest: Float32Array;
  xgboostJson: ReturnType<XGBoostModel['toJSON']>;
  error?: string;
}

function runInWorker(workerData: unknown): Promise<WorkerResult> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, execArgv: ['--require', require.resolve('tsx/cjs')] });
    worker.once('message', (message: WorkerResult) => {
      void worker.terminate();
      if (message.error) reject(new Error(message.error));
      else resolvePromise(message);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
  });
}

describe('training in a worker thread', () => {
  it('trains both models in a worker, concurrently with the main thread, with identical predictions', async () => {
    const data = generateTransactions({ rows: 4_000, seed: 31, fraudRate: 0.03 });
    const d = data.numFeatures;
    const test = { features: data.features.slice(0, 500 * d), numRows: 500 };
    const xgboostOptions = { nRounds: 15, maxDepth: 4 };
    const forestOptions = { nTrees: 10, maxDepth: 5 };

    const [fromWorker, xgb, forest] = await Promise.all([
      runInWorker({
        xgboostModule: resolve(__dirname, '../../lib/ml/xgboost/index.ts'),
        forestModule: resolve(__dirname, '../../lib/ml/random-forest.ts'),
        train: data,
        test,
        xgboostOptions,
        forestOptions,
      }),
      XGBoostModel.train(data, xgboostOptions),
      RandomForestModel.train(data, forestOptions),
    ]);

    expect(fromWorker.xgboost).toStrictEqual(xgb.predictProba(test.features, test.numRows));
    expect(fromWorker.forest).toStrictEqual(forest.predictProba(test.features, test.numRows));
    // A model saved in the worker loads and predicts the same on the main thread.
    expect(XGBoostModel.load(fromWorker.xgboostJson).predictProba(test.features, test.numRows)).toStrictEqual(fromWorker.xgboost);
  });
});
