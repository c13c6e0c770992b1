import { Worker } from 'node:worker_threads';
import * as path from 'node:path';

import { stratifiedSplit, subsetRows } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { DatasetError } from '../../lib/ml/data/errors';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../../lib/ml/errors';
import { averagePrecision } from '../../lib/ml/metrics';
import { loadTf, NeuralNetworkModel, tfBackendInfo, type NeuralNetworkOptions } from '../../lib/ml/neural-network';
import type { TrainProgress } from '../../lib/ml/types';

const ROOT = path.resolve(__dirname, '../..');


const FRAUD_RATE = 0.03;
const { train, validation, test } = stratifiedSplit(generateTransactions({ rows: 8000, seed: 7, fraudRate: FRAUD_RATE }), { train: 0.6, validation: 0.2, test: 0.2, seed: 1 });
/** Small data: a learning rate 10x the default so a few epochs of 10 batches learn something. */
const OPTIONS: NeuralNetworkOptions = { epochs: 6, learningRate: 1e-2, patience: 2 };

let model: NeuralNetworkModel;
const progress: TrainProgress[] = [];

beforeAll(async () => {
  model = await NeuralNetworkModel.train(train, { ...OPTIONS, seed: 11, onProgress: (p) => progress.push(p) }, validation);
});

describe('NeuralNetworkModel', () => {
  it('gives a probability per row', () => {
    const p = model.predictProba(test.features, test.numRows);
    expect(p).toBeInstanceOf(Float32Array);
    expect(p).toHaveLength(test.numRows);
    for (const v of p) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('estimates the real fraud probability despite a class weight (mean probability near the fraud rate)', async () => {
    const weighted = await NeuralNetworkModel.train(train, { ...OPTIONS, seed: 11, classWeight: 'balanced' }, validation);
    expect(weighted.training.positiveWeight).toBeGreaterThan(30); // 97:3
    expect(model.training.positiveWeight).toBe(1); // the default
    for (const m of [model, weighted]) {
      const p = m.predictProba(test.features, test.numRows);
      const meanP = p.reduce((a, b) => a + b, 0) / p.length;
      expect(meanP).toBeGreaterThan(FRAUD_RATE / 1.5);
      expect(meanP).toBeLessThan(FRAUD_RATE * 1.5);
    }
  });

  it('ranks held-out fraud well above the base rate', () => {
    const ap = averagePrecision(test.labels, model.predictProba(test.features, test.numRows));
    expect(ap).toBeGreaterThan(4 * FRAUD_RATE);
  });

  it('reports progress once per epoch with loss and validation PR-AUC', () => {
    const { epochsRun } = model.training;
    expect(epochsRun).toBeGreaterThanOrEqual(3);
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: epochsRun }, (_, i) => i + 1));
    for (const p of progress) {
      expect(p).toMatchObject({ unit: 'epoch', total: 6 });
      expect(Number.isFinite(p.metrics?.loss)).toBe(true);
      expect(p.metrics?.val_pr_auc).toBeGreaterThan(0);
      expect(p.elapsedSeconds).toBeGreaterThanOrEqual(0);
    }
    expect(model.training.history.valPrAuc).toEqual(progress.map((p) => p.metrics?.val_pr_auc));
    // The loss goes down over training (first vs last epoch).
    expect(progress.at(-1)!.metrics!.loss).toBeLessThan(progress[0]!.metrics!.loss!);
  });

  it('gives identical predictions for the same seed and different ones for another seed, even when trainings interleave', async () => {
    // Two trainings at once in this thread share the tfjs engine, and their batches interleave.
    const [again, other] = await Promise.all([
      NeuralNetworkModel.train(train, { ...OPTIONS, seed: 11 }, validation),
      NeuralNetworkModel.train(train, { ...OPTIONS, seed: 12 }, validation),
    ]);
    expect(again.predictProba(test.features, test.numRows)).toEqual(model.predictProba(test.features, test.numRows));
    expect(other.predictProba(test.features, test.numRows)).not.toEqual(model.predictProba(test.features, test.numRows));
  });

  it('round-trips through JSON with identical predictions', async () => {
    const json = JSON.parse(JSON.stringify(model.toJSON())) as unknown;
    const loaded = await NeuralNetworkModel.load(json);
    expect(loaded.kind).toBe('neural_network');
    expect(loaded.featureNames).toEqual(train.featureNames);
    expect(loaded.predictProba(test.features, test.numRows)).toEqual(model.predictProba(test.features, test.numRows));
    expect(loaded.toJSON()).toEqual(model.toJSON());
  });

  it('rejects JSON that is not a neural network of this format', async () => {
    const json = model.toJSON();
    await expect(NeuralNetworkModel.load({ ...json, name: 'RFClassifier' })).rejects.toThrow(ModelFormatError);
    await expect(NeuralNetworkModel.load({ ...json, formatVersion: 99 })).rejects.toThrow(ModelFormatError);
    await expect(NeuralNetworkModel.load({ ...json, kind: 'xgboost' })).rejects.toThrow(ModelFormatError);
    const truncated = { ...json, layers: json.layers.map((layer, l) => (l === 0 ? { ...layer, kernel: layer.kernel.slice(0, 8) } : layer)) };
    await expect(NeuralNetworkModel.load(truncated)).rejects.toThrow(ModelFormatError);
    await expect(NeuralNetworkModel.load(null)).rejects.toThrow(ModelFormatError);
  });

  it('scales with the raw feature values it was trained on: a wrong row width is an error', () => {
    expect(() => model.predictProba(test.features.subarray(0, 29), 1)).toThrow(RangeError);
  });

  it.each<[string, NeuralNetworkOptions]>([
    ['hiddenLayers with a zero', { hiddenLayers: [64, 0] }],
    ['fractional hidden units', { hiddenLayers: [8.5] }],
    ['dropout of 1', { dropout: 1 }],
    ['negative dropout', { dropout: -0.1 }],
    ['zero learning rate', { learningRate: 0 }],
    ['zero batch size', { batchSize: 0 }],
    ['fractional epochs', { epochs: 2.5 }],
    ['negative patience', { patience: -1 }],
    ['unknown activation', { activation: 'swish' as never }],
    ['negative class weight', { classWeight: -3 }],
    ['unknown class weight', { classWeight: 'inverse' as never }],
    ['unknown log1p feature', { log1pFeatures: ['NoSuchColumn'] }],
  ])('rejects %s with InvalidHyperparameterError', async (_, options) => {
    await expect(NeuralNetworkModel.train(train, options, validation)).rejects.toThrow(InvalidHyperparameterError);
  });

  it('rejects a validation split without fraud (early stopping needs PR-AUC)', async () => {
    const legit = subsetRows(validation, Array.from(validation.labels.keys()).filter((i) => validation.labels[i] === 0));
    await expect(NeuralNetworkModel.train(train, OPTIONS, legit)).rejects.toThrow(DatasetError);
  });

  it('keeps the weights of the best validation epoch and stops after `patience` epochs without improvement', async () => {
    // A learning rate this small cannot move validation PR-AUC by the required 1e-4 after epoch 1.
    const stalled = await NeuralNetworkModel.train(train, { ...OPTIONS, epochs: 10, patience: 2, learningRate: 1e-9 }, validation);
    expect(stalled.training).toMatchObject({ stoppedEarly: true, bestEpoch: 1, epochsRun: 3 });
    // patience 0: no early stopping, the last epoch's weights.
    const unstopped = await NeuralNetworkModel.train(train, { ...OPTIONS, epochs: 2, patience: 0, learningRate: 1e-9 }, validation);
    expect(unstopped.training).toMatchObject({ stoppedEarly: false, bestEpoch: 2, epochsRun: 2 });

    const { history, bestEpoch, bestValPrAuc, stoppedEarly, epochsRun } = model.training;
    // An epoch only counts as better by at least 1e-4.
    expect(bestValPrAuc).toBeGreaterThanOrEqual(Math.max(...history.valPrAuc) - 1e-4);
    expect(bestValPrAuc).toBe(history.valPrAuc[bestEpoch - 1]);
    if (stoppedEarly) expect(epochsRun - bestEpoch).toBe(2);
    // The model scores validation as in its best epoch, not its last (up to float32 ties: the
    // saved output bias differs by the class-weight correction).
    expect(averagePrecision(validation.labels, model.predictProba(validation.features, validation.numRows))).toBeCloseTo(bestValPrAuc, 6);
  });

  it('leaks no tensors in training, prediction or a cancelled training', async () => {
    const tf = await loadTf();
    const before = tf.memory().numTensors;
    const trained = await NeuralNetworkModel.train(train, { ...OPTIONS, epochs: 1 }, validation);
    expect(tf.memory().numTensors).toBe(before);
    trained.predictProba(test.features, test.numRows);
    trained.predictProba(test.features.subarray(0, 30), 1);
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    await expect(NeuralNetworkModel.train(train, { ...OPTIONS, signal: controller.signal, onProgress: () => controller.abort() }, validation)).rejects.toThrow(
      TrainingCancelledError,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops at the next batch when aborted during an epoch', async () => {
    const controller = new AbortController();
    const seen: TrainProgress[] = [];
    const training = NeuralNetworkModel.train(train, { ...OPTIONS, batchSize: 64, epochs: 50, signal: controller.signal, onProgress: (p) => seen.push(p) }, validation);
    // Abort from this thread while training runs: it only lands because training yields between batches.
    setImmediate(() => controller.abort());
    const error: unknown = await training.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingCancelledError);
    expect((error as TrainingCancelledError).progress).toEqual({ done: 0, total: 50 });
    expect(seen).toHaveLength(0);
  });

  it('does not start when the signal is already aborted', async () => {
    const onProgress = jest.fn();
    await expect(NeuralNetworkModel.train(train, { ...OPTIONS, signal: AbortSignal.abort(), onProgress }, validation)).rejects.toThrow(TrainingCancelledError);
    expect(onProgress).not.toHaveBeenCalled();
  });

  it('runs on tfjs-node when installed, otherwise on the wasm backend', async () => {
    const info = await tfBackendInfo();
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    expect(info.backend).toBe(nodeInstalled ? 'tensorflow' : 'wasm');
    expect(model.training.backend).toEqual(info);
  });

  it('trains inside a worker thread, giving the same model as this thread', async () => {
    // `--require tsx/cjs`, not `--import tsx`: Node 20 does not apply `--import` loader hooks in workers.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { generateTransactions } = require(workerData.root + '/lib/ml/data/synthetic.ts');
      const { NeuralNetworkModel, tfBackendInfo } = require(workerData.root + '/lib/ml/neural-network/index.ts');
      (async () => {
        const { train, validation, options } = workerData;
        const model = await NeuralNetworkModel.train(train, options, validation);
        parentPort.postMessage({ info: await tfBackendInfo(), json: model.toJSON() });
      })().catch((error) => parentPort.postMessage({ error: String(error && error.stack) }));
    `;
    const worker = new Worker(code, { eval: true, execArgv: ['--require', 'tsx/cjs'], workerData: { root: ROOT, train, validation, options: { ...OPTIONS, seed: 11 } } });
    try {
      const message = await new Promise<{ info?: unknown; json?: unknown; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(message.error).toBeUndefined();
      expect(message.info).toEqual(await tfBackendInfo());
      const fromWorker = await NeuralNetworkModel.load(message.json);
      expect(fromWorker.predictProba(test.features, test.numRows)).toEqual(model.predictProba(test.features, test.numRows));
    } finally {
      await worker.terminate();
    }
  });
});
