import { Worker } from 'node:worker_threads';
import * as path from 'node:path';

import { stratifiedSplit, subsetRows } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { DatasetError } from '../../lib/ml/data/errors';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../../lib/ml/errors';
import { averagePrecision } from '../../lib/ml/metrics';
import { averagePathLength, IsolationForestModel, IsotonicCalibrator, PlattCalibrator, type IsolationForestOptions } from '../../lib/ml/isolation-forest';
import type { TrainProgress } from '../../lib/ml/types';

const ROOT = path.resolve(__dirname, '../..');


function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

const FRAUD_RATE = 0.03;
const { train, validation, test } = stratifiedSplit(generateTransactions({ rows: 10_000, seed: 7, fraudRate: FRAUD_RATE }), { train: 0.6, validation: 0.2, test: 0.2, seed: 1 });

let model: IsolationForestModel;
const progress: TrainProgress[] = [];

beforeAll(async () => {
  model = await IsolationForestModel.train(train, { seed: 5, onProgress: (p) => progress.push(p) }, validation);
});

describe('IsolationForestModel', () => {
  it('gives anomaly scores in (0, 1] and probabilities in [0, 1]', () => {
    const scores = model.anomalyScores(test.features, test.numRows);
    const p = model.predictProba(test.features, test.numRows);
    expect(p).toBeInstanceOf(Float32Array);
    expect(p).toHaveLength(test.numRows);
    for (const s of scores) expect(s > 0 && s <= 1).toBe(true);
    for (const v of p) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('ranks held-out fraud above the base rate without ever seeing a label', () => {
    expect(averagePrecision(test.labels, model.anomalyScores(test.features, test.numRows))).toBeGreaterThan(3 * FRAUD_RATE);
    expect(averagePrecision(test.labels, model.predictProba(test.features, test.numRows))).toBeGreaterThan(3 * FRAUD_RATE);
  });

  it('grows the same forest whatever the training labels are', async () => {
    const unlabelled = { ...train, labels: new Uint8Array(train.numRows) };
    const blind = await IsolationForestModel.train(unlabelled, { seed: 5 }, validation);
    expect(blind.anomalyScores(test.features, test.numRows)).toEqual(model.anomalyScores(test.features, test.numRows));
  });

  it('scores an obvious outlier above an ordinary row', () => {
    const d = train.numFeatures;
    // The per-feature median-ish row: the mean of the training rows; the outlier: far outside every range.
    const typical = new Float32Array(d);
    for (let j = 0; j < d; j++) typical[j] = mean(Array.from({ length: train.numRows }, (_, i) => train.features[i * d + j]!));
    const outlier = typical.map((v) => v + 1e6);
    const [typicalScore, outlierScore] = model.anomalyScores(Float32Array.from([...typical, ...outlier]), 2);
    expect(typicalScore).toBeLessThan(0.5);
    expect(outlierScore).toBeGreaterThan(0.7);
  });

  it('has the average path length c(n) of Liu et al. (values from scikit-learn)', () => {
    // sklearn.ensemble._iforest._average_path_length([1, 2, 3, 10, 256, 1000])
    const expected = [0, 1, 1.20739236, 3.74888048, 10.24477092, 12.96994089];
    [1, 2, 3, 10, 256, 1000].forEach((n, i) => expect(averagePathLength(n)).toBeCloseTo(expected[i]!, 7));
  });

  it('calibrates with isotonic regression by default: monotone, and exact on average over the validation split', () => {
    const p = model.predictProba(validation.features, validation.numRows);
    // Pool-adjacent-violators preserves the sum of the labels it fits.
    expect(mean(p)).toBeCloseTo(mean(validation.labels), 6);
    const json = model.calibration;
    expect(json.method).toBe('isotonic');
    if (json.method === 'isotonic') {
      for (let k = 1; k < json.scores.length; k++) expect(json.probabilities[k]!).toBeGreaterThanOrEqual(json.probabilities[k - 1]!);
    }
  });

  it('calibrates with Platt scaling on request: same ranking as the anomaly score, mean probability near the fraud rate', async () => {
    const platt = await IsolationForestModel.train(train, { seed: 5, calibration: 'platt' }, validation);
    expect(platt.calibration.method).toBe('platt');
    const scores = platt.anomalyScores(validation.features, validation.numRows);
    expect(scores).toEqual(model.anomalyScores(validation.features, validation.numRows)); // the same forest
    const p = platt.predictProba(validation.features, validation.numRows);
    const order = Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]!);
    for (let k = 1; k < order.length; k++) expect(p[order[k]!]!).toBeGreaterThanOrEqual(p[order[k - 1]!]!);
    expect(averagePrecision(validation.labels, p)).toBeCloseTo(averagePrecision(validation.labels, scores), 3);
    const rate = mean(validation.labels);
    expect(Math.abs(mean(p) - rate)).toBeLessThan(0.1 * rate);
  });

  it('fits PAV and Platt as their definitions say on a tiny example', () => {
    // Labels by increasing score: 0 1 0 1 1 -> PAV pools the violating pair (1, 0) into 0.5.
    const iso = IsotonicCalibrator.fit([0.1, 0.2, 0.3, 0.4, 0.5], Uint8Array.from([0, 1, 0, 1, 1]));
    expect([0.1, 0.2, 0.3, 0.4, 0.5].map((s) => iso.probability(s))).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(iso.probability(0.25)).toBe(0.5);
    expect(iso.probability(0.35)).toBeCloseTo(0.75, 12); // linear between the steps
    const platt = PlattCalibrator.fit([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], Uint8Array.from([0, 0, 1, 0, 1, 1]));
    expect(platt.slope).toBeGreaterThan(0);
    expect(platt.probability(0.6)).toBeGreaterThan(platt.probability(0.1));
  });

  it('reports progress once per tree', () => {
    expect(progress).toHaveLength(200);
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const p of progress) expect(p).toMatchObject({ unit: 'tree', total: 200 });
  });

  it('gives identical predictions for the same seed and different ones for another seed', async () => {
    const again = await IsolationForestModel.train(train, { seed: 5 }, validation);
    expect(again.predictProba(test.features, test.numRows)).toEqual(model.predictProba(test.features, test.numRows));
    const other = await IsolationForestModel.train(train, { seed: 6 }, validation);
    expect(other.anomalyScores(test.features, test.numRows)).not.toEqual(model.anomalyScores(test.features, test.numRows));
  });

  it('round-trips through JSON with identical scores and predictions', () => {
    const loaded = IsolationForestModel.load(JSON.parse(JSON.stringify(model.toJSON())));
    expect(loaded.kind).toBe('isolation_forest');
    expect(loaded.featureNames).toEqual(train.featureNames);
    expect(loaded.anomalyScores(test.features, test.numRows)).toEqual(model.anomalyScores(test.features, test.numRows));
    expect(loaded.predictProba(test.features, test.numRows)).toEqual(model.predictProba(test.features, test.numRows));
    expect(loaded.toJSON()).toEqual(model.toJSON());
  });

  it('round-trips a Platt calibration too', async () => {
    const platt = await IsolationForestModel.train(train, { seed: 5, nTrees: 20, calibration: 'platt' }, validation);
    const loaded = IsolationForestModel.load(JSON.parse(JSON.stringify(platt.toJSON())));
    expect(loaded.predictProba(test.features, test.numRows)).toEqual(platt.predictProba(test.features, test.numRows));
  });

  it('rejects JSON that is not an isolation forest of this format', () => {
    const json = model.toJSON();
    expect(() => IsolationForestModel.load({ ...json, name: 'PCA' })).toThrow(ModelFormatError);
    expect(() => IsolationForestModel.load({ ...json, formatVersion: 2 })).toThrow(ModelFormatError);
    expect(() => IsolationForestModel.load({ ...json, kind: 'neural_network' })).toThrow(ModelFormatError);
    expect(() => IsolationForestModel.load({ ...json, forest: { ...json.forest, feature: json.forest.feature.slice(0, 10) } })).toThrow(ModelFormatError);
    // A child pointing back at its parent would make scoring loop forever.
    const left = Buffer.from(json.forest.left, 'base64');
    left.writeInt32LE(0, 0);
    expect(() => IsolationForestModel.load({ ...json, forest: { ...json.forest, left: left.toString('base64') } })).toThrow(ModelFormatError);
    expect(() => IsolationForestModel.load({ ...json, calibration: { method: 'magic' } })).toThrow(ModelFormatError);
    expect(() => IsolationForestModel.load(undefined)).toThrow(ModelFormatError);
  });

  it('rejects rows of the wrong width', () => {
    expect(() => model.predictProba(test.features.subarray(0, 31), 1)).toThrow(RangeError);
  });

  it('can restrict each tree to a share of the features', async () => {
    const narrow = await IsolationForestModel.train(train, { seed: 5, nTrees: 50, maxFeatures: 0.2 }, validation);
    const { forest } = narrow.toJSON();
    const ints = (base64: string): number[] => {
      const bytes = Buffer.from(base64, 'base64');
      return Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readInt32LE(k * 4));
    };
    const roots = ints(forest.roots);
    const feature = ints(forest.feature);
    const allUsed = new Set<number>();
    // Trees are stored one after another: tree t owns the nodes from its root to the next root.
    roots.forEach((root, t) => {
      const used = new Set(feature.slice(root, roots[t + 1] ?? feature.length).filter((f) => f >= 0));
      expect(used.size).toBeLessThanOrEqual(6); // floor(0.2 * 30)
      used.forEach((f) => allUsed.add(f));
    });
    expect(allUsed.size).toBeGreaterThan(6); // ... but not the same 6 in every tree
  });

  it.each<[string, IsolationForestOptions]>([
    ['zero trees', { nTrees: 0 }],
    ['fractional trees', { nTrees: 10.5 }],
    ['maxSamples of 1', { maxSamples: 1 }],
    ['maxFeatures of 0', { maxFeatures: 0 }],
    ['maxFeatures above 1', { maxFeatures: 1.5 }],
    ['unknown calibration', { calibration: 'beta' as never }],
  ])('rejects %s with InvalidHyperparameterError', async (_, options) => {
    await expect(IsolationForestModel.train(train, options, validation)).rejects.toThrow(InvalidHyperparameterError);
  });

  it('rejects a validation split of one class (nothing to calibrate on)', async () => {
    const legit = subsetRows(validation, Array.from(validation.labels.keys()).filter((i) => validation.labels[i] === 0));
    await expect(IsolationForestModel.train(train, {}, legit)).rejects.toThrow(DatasetError);
  });

  it('stops between trees when aborted', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const onProgress = (p: TrainProgress): void => {
      seen.push(p.done);
      if (p.done === 10) controller.abort();
    };
    const error: unknown = await IsolationForestModel.train(train, { signal: controller.signal, onProgress }, validation).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingCancelledError);
    expect((error as TrainingCancelledError).progress).toEqual({ done: 10, total: 200 });
    expect(seen).toHaveLength(10);
  });

  it('lets an abort from the same thread land during training', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const training = IsolationForestModel.train(train, { signal: controller.signal, onProgress: (p) => seen.push(p.done) }, validation);
    setImmediate(() => controller.abort());
    await expect(training).rejects.toThrow(TrainingCancelledError);
    expect(seen.length).toBeLessThan(200);
  });

  it('does not start when the signal is already aborted', async () => {
    const onProgress = jest.fn();
    await expect(IsolationForestModel.train(train, { signal: AbortSignal.abort(), onProgress }, validation)).rejects.toThrow(TrainingCancelledError);
    expect(onProgress).not.toHaveBeenCalled();
  });

  it('trains inside a worker thread, giving the same model as this thread', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { IsolationForestModel } = require(workerData.root + '/lib/ml/isolation-forest/index.ts');
      IsolationForestModel.train(workerData.train, { seed: 5 }, workerData.validation).then(
        (model) => parentPort.postMessage({ json: model.toJSON() }),
        (error) => parentPort.postMessage({ error: String(error && error.stack) }),
      );
    `;
    const worker = new Worker(code, { eval: true, execArgv: ['--require', 'tsx/cjs'], workerData: { root: ROOT, train, validation } });
    try {
      const message = await new Promise<{ json?: unknown; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(message.error).toBeUndefined();
      expect(message.json).toEqual(model.toJSON());
    } finally {
      await worker.terminate();
    }
  });
});
