import { generateTransactions } from '../../lib/ml/data/synthetic';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../../lib/ml/errors';
import { averagePrecision } from '../../lib/ml/metrics';
import type { Dataset, TrainProgress } from '../../lib/ml/types';
import {
  engineSelection,
  NATIVE_MODEL_FORMAT,
  predictMargins,
  predictProbabilities,
  WASM_MODEL_FORMAT,
  wasmEngine,
  withDefaults,
  XGBoostModel,
  type XGBoostEngine,
  type XGBoostModelJSON,
  type XGBoostOptions,
} from '../../lib/ml/xgboost';

/** Rows [from, to) of a dataset. */
function rows(data: Dataset, from: number, to: number): Dataset {
  const d = data.numFeatures;
  return { ...data, features: data.features.slice(from * d, to * d), labels: data.labels.slice(from, to), numRows: to - from };
}

function positives(labels: Uint8Array): number {
  return labels.reduce((sum, label) => sum + label, 0);
}

const data = generateTransactions({ rows: 10_000, seed: 11, fraudRate: 0.02 });
const train = rows(data, 0, 7_000);
const test = rows(data, 7_000, 10_000);
const SMALL: XGBoostOptions = { nRounds: 30, maxDepth: 4 };

// Every test runs on the wasm engine and, where libxgboost loads, on the native engine.
const selected = engineSelection().engine;
const ENGINES: [string, XGBoostEngine][] = [['wasm', wasmEngine], ...(selected === wasmEngine ? [] : [['native', selected] as [string, XGBoostEngine]])];

describe.each(ENGINES)('XGBoostModel (%s engine)', (_name, engine) => {
  let model: XGBoostModel;
  let scores: Float32Array;
  const progress: TrainProgress[] = [];

  beforeAll(async () => {
    model = await XGBoostModel.train(train, { ...SMALL, engine, onProgress: (p) => progress.push(p) });
    scores = model.predictProba(test.features, test.numRows);
  });

  it('predicts a probability in [0, 1] for every row', () => {
    expect(model.kind).toBe('xgboost');
    expect(scores).toHaveLength(test.numRows);
    for (const p of scores) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
  });

  it('ranks held-out fraud far above the trivial baseline', () => {
    // A constant score has a PR-AUC equal to the fraud rate.
    const fraudRate = positives(test.labels) / test.numRows;
    expect(fraudRate).toBeGreaterThan(0);
    expect(averagePrecision(test.labels, scores)).toBeGreaterThan(Math.max(0.3, 10 * fraudRate));
  });

  it('gives identical predictions for the same seed, and different ones for another seed', async () => {
    const again = await XGBoostModel.train(train, { ...SMALL, engine });
    expect(again.predictProba(test.features, test.numRows)).toStrictEqual(scores);
    const other = await XGBoostModel.train(train, { ...SMALL, engine, seed: 7 });
    expect(other.predictProba(test.features, test.numRows)).not.toStrictEqual(scores);
  });

  it('round-trips through JSON with identical predictions', () => {
    const json = model.toJSON();
    expect(json).toMatchObject({ name: 'XGBoostModel', formatVersion: 1, kind: 'xgboost', featureNames: data.featureNames });
    // The model records its byte format and the engine that trained it; loading picks the engine of that format.
    expect(json.modelFormat).toBe(engine.modelFormat);
    expect(json.training.engine).toBe(engine.name);
    const loaded = XGBoostModel.load(JSON.parse(JSON.stringify(json)) as XGBoostModelJSON);
    expect(loaded.engineName).toBe(engine.name);
    expect(loaded.predictProba(test.features, test.numRows)).toStrictEqual(scores);
    expect(loaded.toJSON()).toStrictEqual(json);
    expect(loaded.options).toStrictEqual(model.options);
  });

  it('refuses to load anything but its own format', () => {
    const json = model.toJSON();
    expect(() => XGBoostModel.load({ ...json, name: 'RandomForestModel' } as unknown as XGBoostModelJSON)).toThrow(ModelFormatError);
    expect(() => XGBoostModel.load({ ...json, formatVersion: 2 } as unknown as XGBoostModelJSON)).toThrow(ModelFormatError);
    const otherFormat = json.modelFormat === WASM_MODEL_FORMAT ? NATIVE_MODEL_FORMAT : WASM_MODEL_FORMAT;
    expect(() => XGBoostModel.load({ ...json, modelFormat: otherFormat })).toThrow(ModelFormatError);
    expect(() => XGBoostModel.load({ ...json, modelFormat: 'xgboost-ubj' })).toThrow(ModelFormatError);
    expect(() => XGBoostModel.load({ ...json, model: json.model.slice(0, 400) })).toThrow(ModelFormatError);
    expect(() => XGBoostModel.load({ ...json, featureNames: ['only-one'] })).toThrow(ModelFormatError);
  });

  it('extracts trees whose TypeScript scores equal the engine to 1e-6, missing values included', () => {
    const sample = rows(test, 0, 400);
    const features = sample.features.slice();
    // Every 7th value missing: exercises the default direction of the splits.
    for (let k = 3; k < features.length; k += 7) features[k] = NaN;
    const ensemble = model.trees();
    expect(ensemble.trees).toHaveLength(SMALL.nRounds!);
    const engine = model.predictProba(features, sample.numRows);
    const ours = predictProbabilities(ensemble, features, sample.numRows);
    const engineMargins = model.predictMargin(features, sample.numRows);
    const ourMargins = predictMargins(ensemble, features, sample.numRows);
    for (let i = 0; i < sample.numRows; i++) {
      expect(Math.abs(ours[i]! - engine[i]!)).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(ourMargins[i]! - engineMargins[i]!)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('writes trees in the documented format', () => {
    for (const tree of model.trees().trees) {
      const n = tree.feature.length;
      expect(n).toBeLessThanOrEqual(2 ** (SMALL.maxDepth! + 1) - 1);
      for (let k = 0; k < n; k++) {
        if (tree.left[k] === -1) {
          expect([tree.right[k], tree.feature[k]]).toEqual([-1, -1]);
        } else {
          // Pre-order: children come after their parent.
          expect(tree.left[k]).toBeGreaterThan(k);
          expect(tree.right[k]).toBeGreaterThan(k);
          expect(tree.feature[k]).toBeLessThan(data.numFeatures);
          expect(tree.cover[k]).toBeCloseTo(tree.cover[tree.left[k]!]! + tree.cover[tree.right[k]!]!, 1);
        }
      }
    }
  });

  it('ranks the strongest synthetic fraud signal (V14) among the two most important features', () => {
    const ranked = model.featureImportance('total_gain');
    expect(ranked).toHaveLength(data.numFeatures);
    expect(ranked.slice(0, 2).map((r) => r.feature)).toContain('V14');
    expect(model.featureImportance('weight').reduce((sum, r) => sum + r.importance, 0)).toBeGreaterThan(0);
  });

  it('reports progress once per round, in order', () => {
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: SMALL.nRounds! }, (_, i) => i + 1));
    expect(progress.every((p) => p.unit === 'round' && p.total === SMALL.nRounds)).toBe(true);
    const seconds = progress.map((p) => p.elapsedSeconds);
    expect(seconds).toEqual([...seconds].sort((a, b) => a - b));
  });

  it('reports the validation PR-AUC each round and keeps the best round with early stopping', async () => {
    const validation = test;
    const seen: TrainProgress[] = [];
    const stopped = await XGBoostModel.train(train, { engine, nRounds: 200, eta: 0.3, maxDepth: 4, earlyStoppingRounds: 5, onProgress: (p) => seen.push(p) }, validation);
    const { roundsTrained, treesKept, bestRound, validationPrAuc } = stopped.training;
    expect(seen).toHaveLength(roundsTrained);
    const curve = seen.map((p) => p.metrics?.val_pr_auc ?? NaN);
    expect(curve.every(Number.isFinite)).toBe(true);
    // The best round is the first maximum of the curve; training ends 5 rounds after it (or at nRounds).
    expect(bestRound).toBe(curve.indexOf(Math.max(...curve)));
    expect(roundsTrained).toBe(Math.min(200, bestRound! + 1 + 5));
    expect(treesKept).toBe(bestRound! + 1);
    expect(stopped.trees().trees).toHaveLength(treesKept);
    const kept = averagePrecision(validation.labels, stopped.predictProba(validation.features, validation.numRows));
    expect(kept).toBeCloseTo(validationPrAuc!, 6);
  });

  it('stops at the next round when the signal aborts, with TrainingCancelledError', async () => {
    const controller = new AbortController();
    const done: number[] = [];
    const training = XGBoostModel.train(train, {
      engine,
      nRounds: 500,
      signal: controller.signal,
      onProgress: (p) => {
        done.push(p.done);
        if (p.done === 3) controller.abort();
      },
    });
    await expect(training).rejects.toBeInstanceOf(TrainingCancelledError);
    await expect(training).rejects.toMatchObject({ progress: { done: 3, total: 500 } });
    expect(done).toEqual([1, 2, 3]);
  });

  it('lets an abort from a timer land between rounds', async () => {
    const controller = new AbortController();
    const rounds: number[] = [];
    const training = XGBoostModel.train(train, { engine, nRounds: 100_000, maxDepth: 2, signal: controller.signal, onProgress: (p) => rounds.push(p.done) });
    setTimeout(() => controller.abort(), 200);
    await expect(training).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(rounds.length).toBeLessThan(100_000);
  });

  it('does not start when the signal is already aborted', async () => {
    const progressCalls: TrainProgress[] = [];
    await expect(XGBoostModel.train(train, { ...SMALL, engine, signal: AbortSignal.abort(), onProgress: (p) => progressCalls.push(p) })).rejects.toBeInstanceOf(
      TrainingCancelledError,
    );
    expect(progressCalls).toEqual([]);
  });

  it.each<[string, XGBoostOptions & { seed?: number }]>([
    ['nRounds 0', { nRounds: 0 }],
    ['fractional nRounds', { nRounds: 2.5 }],
    ['maxDepth 0', { maxDepth: 0 }],
    ['eta 0', { eta: 0 }],
    ['eta above 1', { eta: 1.5 }],
    ['subsample 0', { subsample: 0 }],
    ['colsampleBytree above 1', { colsampleBytree: 1.2 }],
    ['negative lambda', { lambda: -1 }],
    ['NaN gamma', { gamma: NaN }],
    ['unknown treeMethod', { treeMethod: 'gpu_hist' as never }],
    ['scalePosWeight 0', { scalePosWeight: 0 }],
    ['scalePosWeight typo', { scalePosWeight: 'balanced' as never }],
    ['earlyStoppingRounds 0', { earlyStoppingRounds: 0 }],
    ['seed beyond 32 bits', { seed: 2 ** 40 }],
  ])('rejects %s with InvalidHyperparameterError', async (_, options) => {
    expect(() => withDefaults(options)).toThrow(InvalidHyperparameterError);
    await expect(XGBoostModel.train(train, { ...options, engine })).rejects.toBeInstanceOf(InvalidHyperparameterError);
  });

  it('documents its defaults', () => {
    expect(withDefaults()).toEqual({
      nRounds: 200,
      maxDepth: 6,
      eta: 0.1,
      subsample: 0.8,
      colsampleBytree: 0.8,
      minChildWeight: 1,
      gamma: 0,
      lambda: 1,
      alpha: 0,
      treeMethod: 'hist',
      maxBin: 256,
      scalePosWeight: 'auto',
      earlyStoppingRounds: null,
      seed: 42,
    });
  });

  it('needs a validation split with fraud for early stopping', async () => {
    await expect(XGBoostModel.train(train, { ...SMALL, engine, earlyStoppingRounds: 5 })).rejects.toBeInstanceOf(InvalidHyperparameterError);
    const noFraud = { ...test, labels: new Uint8Array(test.numRows) };
    await expect(XGBoostModel.train(train, { ...SMALL, engine, earlyStoppingRounds: 5 }, noFraud)).rejects.toBeInstanceOf(InvalidHyperparameterError);
  });

  it('resolves scalePosWeight auto to negatives / positives of the training split', () => {
    const pos = positives(train.labels);
    expect(model.training.scalePosWeight).toBeCloseTo((train.numRows - pos) / pos, 10);
  });

  it('rejects malformed data', async () => {
    await expect(XGBoostModel.train({ ...train, labels: train.labels.map(() => 0) }, { ...SMALL, engine })).rejects.toThrow(RangeError);
    await expect(XGBoostModel.train({ ...train, numRows: train.numRows + 1 }, { ...SMALL, engine })).rejects.toThrow(RangeError);
    await expect(XGBoostModel.train(train, { ...SMALL, engine }, { ...test, numFeatures: 29, featureNames: test.featureNames.slice(1) })).rejects.toThrow(RangeError);
    expect(() => model.predictProba(test.features, test.numRows + 1)).toThrow(RangeError);
    expect(model.predictProba(new Float32Array(0), 0)).toHaveLength(0);
  });
});
