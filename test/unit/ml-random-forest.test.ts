import { generateTransactions } from '../../lib/ml/data/synthetic';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../../lib/ml/errors';
import { averagePrecision } from '../../lib/ml/metrics';
import { chunkSizes, featureShare, RandomForestModel, withDefaults, type RandomForestModelJSON, type RandomForestOptions } from '../../lib/ml/random-forest';
import type { Dataset, TrainProgress } from '../../lib/ml/types';
import { engineSelection, predictProbabilities, wasmEngine, XGBoostModel, type XGBoostEngine, type XGBoostModelJSON } from '../../lib/ml/xgboost';

function rows(data: Dataset, from: number, to: number): Dataset {
  const d = data.numFeatures;
  return { ...data, features: data.features.slice(from * d, to * d), labels: data.labels.slice(from, to), numRows: to - from };
}

const data = generateTransactions({ rows: 10_000, seed: 21, fraudRate: 0.02 });
const train = rows(data, 0, 7_000);
const test = rows(data, 7_000, 10_000);
const SMALL: RandomForestOptions = { nTrees: 20, maxDepth: 6 };

// Every test runs on the wasm engine and, where libxgboost loads, on the native engine.
const selected = engineSelection().engine;
const ENGINES: [string, XGBoostEngine][] = [['wasm', wasmEngine], ...(selected === wasmEngine ? [] : [['native', selected] as [string, XGBoostEngine]])];

describe.each(ENGINES)('RandomForestModel (%s engine)', (name, engine) => {
  let forest: RandomForestModel;
  let scores: Float32Array;
  const progress: TrainProgress[] = [];

  beforeAll(async () => {
    forest = await RandomForestModel.train(train, { ...SMALL, engine, onProgress: (p) => progress.push(p) }, test);
    scores = forest.predictProba(test.features, test.numRows);
  });

  it('predicts a probability in [0, 1] for every row', () => {
    expect(forest.kind).toBe('random_forest');
    expect(scores).toHaveLength(test.numRows);
    for (const p of scores) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
  });

  it('ranks held-out fraud far above the trivial baseline', () => {
    const fraudRate = test.labels.reduce((s, v) => s + v, 0) / test.numRows;
    const ap = averagePrecision(test.labels, scores);
    expect(ap).toBeGreaterThan(Math.max(0.25, 10 * fraudRate));
    expect(forest.training.validationPrAuc).toBeCloseTo(ap, 10);
  });

  it('is a forest of nTrees trees whose margin is their average, not a boosted sum', () => {
    const ensemble = forest.trees();
    expect(ensemble.trees).toHaveLength(SMALL.nTrees!);
    // Each tree is one Newton step from p = 0.5: leaf = 4 * (weighted fraud share - 1/2) / nTrees,
    // so every margin lies in [-2, 2]; a sum of 20 unscaled trees would reach ±40.
    const margins = forest.predictMargin(test.features, test.numRows);
    const extreme = margins.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(extreme).toBeLessThanOrEqual(2 + 1e-4);
    expect(extreme).toBeGreaterThan(0.5);
  });

  it('gives identical predictions for the same seed, and different ones for another seed', async () => {
    const again = await RandomForestModel.train(train, { ...SMALL, engine });
    expect(again.predictProba(test.features, test.numRows)).toStrictEqual(scores);
    const other = await RandomForestModel.train(train, { ...SMALL, engine, seed: 1 });
    expect(other.predictProba(test.features, test.numRows)).not.toStrictEqual(scores);
  });

  it('round-trips through JSON with identical predictions', () => {
    const json = forest.toJSON();
    expect(json).toMatchObject({ name: 'RandomForestModel', formatVersion: 1, kind: 'random_forest', featureNames: data.featureNames });
    expect(json.modelFormat).toBe(engine.modelFormat);
    expect(json.training.engine).toBe(engine.name);
    const loaded = RandomForestModel.load(JSON.parse(JSON.stringify(json)) as RandomForestModelJSON);
    expect(loaded.predictProba(test.features, test.numRows)).toStrictEqual(scores);
    expect(loaded.toJSON()).toStrictEqual(json);
  });

  it('refuses to load an XGBoost model and vice versa', () => {
    const json = forest.toJSON();
    expect(() => XGBoostModel.load(json as unknown as XGBoostModelJSON)).toThrow(ModelFormatError);
    expect(() => RandomForestModel.load({ ...json, name: 'XGBoostModel' } as unknown as RandomForestModelJSON)).toThrow(ModelFormatError);
    expect(() => RandomForestModel.load({ ...json, model: 'not base64!' })).toThrow(ModelFormatError);
  });

  it('extracts trees whose TypeScript scores equal the engine to 1e-6', () => {
    const sample = rows(test, 0, 300);
    const features = sample.features.slice();
    for (let k = 5; k < features.length; k += 11) features[k] = NaN;
    const engine = forest.predictProba(features, sample.numRows);
    const ours = predictProbabilities(forest.trees(), features, sample.numRows);
    for (let i = 0; i < sample.numRows; i++) expect(Math.abs(ours[i]! - engine[i]!)).toBeLessThanOrEqual(1e-6);
  });

  it('reports progress honestly: before the forest and when it is done, with the validation PR-AUC', () => {
    expect(progress.map((p) => [p.unit, p.done, p.total])).toEqual([
      ['tree', 0, 20],
      ['tree', 20, 20],
    ]);
    expect(progress[1]!.metrics?.val_pr_auc).toBe(forest.training.validationPrAuc);
  });

  it('trains in chunks as one forest of nTrees trees, reporting progress after each chunk', async () => {
    const seen: TrainProgress[] = [];
    const chunked = await RandomForestModel.train(train, { ...SMALL, engine, chunks: 3, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.done)).toEqual([0, 6, 13, 20]);
    expect(chunked.trees().trees).toHaveLength(20);
    const margins = chunked.predictMargin(test.features, test.numRows);
    expect(margins.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThanOrEqual(2 + 1e-4);
    const fraudRate = test.labels.reduce((s, v) => s + v, 0) / test.numRows;
    expect(averagePrecision(test.labels, chunked.predictProba(test.features, test.numRows))).toBeGreaterThan(Math.max(0.25, 10 * fraudRate));
  });

  it('cancels between chunks with TrainingCancelledError', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const training = RandomForestModel.train(train, {
      ...SMALL,
      engine,
      chunks: 4,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.done);
        if (p.done === 5) controller.abort();
      },
    });
    await expect(training).rejects.toBeInstanceOf(TrainingCancelledError);
    await expect(training).rejects.toMatchObject({ progress: { done: 5, total: 20 } });
    expect(seen).toEqual([0, 5]);
    await expect(RandomForestModel.train(train, { ...SMALL, engine, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(TrainingCancelledError);
  });

  it.each<[string, RandomForestOptions]>([
    ['nTrees 0', { nTrees: 0 }],
    ['maxDepth 0', { maxDepth: 0 }],
    ['subsample above 1', { subsample: 1.1 }],
    ['colsampleBytree 0', { colsampleBytree: 0 }],
    ['colsampleBytree typo', { colsampleBytree: 'log2' as never }],
    ['negative lambda', { lambda: -0.1 }],
    ['chunks above nTrees', { nTrees: 3, chunks: 4 }],
    ['fractional chunks', { chunks: 1.5 }],
    ['scalePosWeight negative', { scalePosWeight: -2 }],
    ['unknown featureSampling', { featureSampling: 'level' as never }],
  ])('rejects %s with InvalidHyperparameterError', async (_, options) => {
    expect(() => withDefaults(options)).toThrow(InvalidHyperparameterError);
    await expect(RandomForestModel.train(train, { ...options, engine })).rejects.toBeInstanceOf(InvalidHyperparameterError);
  });

  it('documents its defaults', () => {
    expect(withDefaults()).toEqual({
      nTrees: 100,
      maxDepth: 10,
      subsample: 0.632,
      colsampleBytree: 'sqrt',
      minChildWeight: 1,
      lambda: 1e-5,
      treeMethod: 'hist',
      maxBin: 256,
      scalePosWeight: 'auto',
      featureSampling: 'auto',
      chunks: 1,
      seed: 42,
    });
  });

  it('keeps floor(sqrt(d)) features per tree and splits trees evenly over chunks', () => {
    for (const d of [1, 2, 4, 9, 16, 30, 100]) expect(Math.floor(featureShare('sqrt', d) * d)).toBe(Math.max(1, Math.floor(Math.sqrt(d))));
    expect(forest.training.colsampleBytree).toBe(featureShare('sqrt', 30));
    // Per split where the engine can (native), per tree on the 0.7x wasm build.
    expect(forest.training.featureSampling).toBe(name === 'native' ? 'node' : 'tree');
    expect(chunkSizes(100, 1)).toEqual([100]);
    expect(chunkSizes(20, 3)).toEqual([6, 7, 7]);
    expect(chunkSizes(7, 7)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});
