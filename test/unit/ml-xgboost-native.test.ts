import { existsSync } from 'node:fs';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { ModelFormatError } from '../../lib/ml/errors';
import { RandomForestModel, type RandomForestModelJSON } from '../../lib/ml/random-forest';
import type { Dataset } from '../../lib/ml/types';
import {
  concatenateJsonTrees,
  engineForFormat,
  engineSelection,
  extractTrees,
  findNativeLibrary,
  loadNativeEngine,
  NATIVE_MODEL_FORMAT,
  parseJsonModel,
  predictMargins,
  predictProbabilities,
  treeScorerEngine,
  truncateJsonTrees,
  WASM_MODEL_FORMAT,
  wasmEngine,
  withDefaults,
  XGBoostEngineError,
  XGBoostModel,
  type BoosterParams,
  type EngineSession,
  type NativeEngine,
  type XGBoostModelJSON,
} from '../../lib/ml/xgboost';

const { abs, max } = Math;

function rows(data: Dataset, from: number, to: number): Dataset {
  const d = data.numFeatures;
  return { ...data, features: data.features.slice(from * d, to * d), labels: data.labels.slice(from, to), numRows: to - from };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a).toHaveLength(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = max(worst, abs(a[i]! - b[i]!));
  return worst;
}

/** Every `every`-th value missing (7 is coprime with the 30 columns, so every column has some), to exercise the default directions. */
function withMissing(features: Float32Array, every = 7): Float32Array {
  const out = features.slice();
  for (let k = 3; k < out.length; k += every) out[k] = NaN;
  return out;
}

const data = generateTransactions({ rows: 6_000, seed: 17, fraudRate: 0.03 });
const train = rows(data, 0, 4_500);
const test = rows(data, 4_500, 6_000);
const testWithMissing = withMissing(test.features);
const labels = Float32Array.from(train.labels);
const PARAMS: BoosterParams = { objective: 'binary:logistic', max_depth: 3, eta: 0.3, tree_method: 'hist', seed: 1, verbosity: 0 };

const forcedOff = process.env.XGBOOST_LIBRARY !== undefined && !existsSync(process.env.XGBOOST_LIBRARY);
const selection = engineSelection();
const native = selection.engine.modelFormat === NATIVE_MODEL_FORMAT ? (selection.engine as NativeEngine) : undefined;

describe('engine selection', () => {
  it('uses the native library when it loads (the bootstrap installs xgboost-cpu), unless XGBOOST_LIBRARY points to nothing', () => {
    if (forcedOff) {
      expect(selection.engine).toBe(wasmEngine);
      expect(selection.reason).toMatch(/wasm.*because.*XGBOOST_LIBRARY/);
    } else {
      expect(native).toBeDefined();
      expect(selection.reason).toContain(native!.libraryPath);
      expect(native!.version).toMatch(/^[2-9]\.\d+\.\d+$/);
    }
  });

  it('falls back to wasm with the reason when the library is missing', () => {
    const fallback = engineSelection({ libraryPath: '/nonexistent/libxgboost.so' });
    expect(fallback.engine).toBe(wasmEngine);
    expect(fallback.reason).toMatch(/^xgboost engine: wasm .*because .*\/nonexistent\/libxgboost\.so/);
    expect(() => loadNativeEngine({ libraryPath: '/nonexistent/libxgboost.so' })).toThrow(XGBoostEngineError);
    expect(findNativeLibrary({ venvDir: '/nonexistent-venv' })).toEqual({ path: undefined, source: expect.stringMatching(/no venv/) as unknown });
  });

  it('picks the engine of a saved format: json → native (or the TypeScript scorer), binary → wasm', () => {
    expect(engineForFormat(WASM_MODEL_FORMAT)).toBe(wasmEngine);
    expect(engineForFormat(NATIVE_MODEL_FORMAT)).toBe(native ?? treeScorerEngine);
    expect(() => engineForFormat('xgboost-ubj')).toThrow(ModelFormatError);
  });

  it('loads a hand-written XGBoost JSON model and scores it as the format says, with or without libxgboost', () => {
    // base_score 0.2 (a probability), one tree: feature 1 < 0.5 (missing goes left) → -0.5, else 0.75.
    const tree = {
      base_weights: [0.0, -0.5, 0.75],
      categories: [],
      categories_nodes: [],
      categories_segments: [],
      categories_sizes: [],
      default_left: [1, 0, 0],
      id: 0,
      left_children: [1, -1, -1],
      loss_changes: [2.0, 0.0, 0.0],
      parents: [2147483647, 0, 0],
      right_children: [2, -1, -1],
      split_conditions: [0.5, -0.5, 0.75],
      split_indices: [1, 0, 0],
      split_type: [0, 0, 0],
      sum_hessian: [3.0, 1.0, 2.0],
      tree_param: { num_deleted: '0', num_feature: '2', num_nodes: '3', size_leaf_vector: '1' },
    };
    const document = {
      learner: {
        attributes: {},
        feature_names: [],
        feature_types: [],
        gradient_booster: {
          model: { gbtree_model_param: { num_parallel_tree: '1', num_trees: '1' }, iteration_indptr: [0, 1], tree_info: [0], trees: [tree] },
          name: 'gbtree',
        },
        learner_model_param: { base_score: '[2E-1]', boost_from_average: '0', num_class: '0', num_feature: '2', num_target: '1' },
        objective: { name: 'binary:logistic', reg_loss_param: { scale_pos_weight: '1' } },
      },
      version: [3, 2, 0],
    };
    // JSON.stringify writes 0.0 as 0, which XGBoost refuses in float arrays: write them as floats.
    const text = JSON.stringify(document).replace(/"(base_weights|loss_changes|split_conditions|sum_hessian)":\[([^\]]*)\]/g, (_, key: string, list: string) => `"${key}":[${list.split(',').map((v) => (v.includes('.') ? v : `${v}.0`)).join(',')}]`);
    const json = {
      name: 'XGBoostModel',
      formatVersion: 1,
      kind: 'xgboost',
      featureNames: ['a', 'b'],
      options: withDefaults(),
      training: { roundsTrained: 1, treesKept: 1, bestRound: null, validationPrAuc: null, scalePosWeight: 1, seconds: 0, engine: 'by hand' },
      modelFormat: NATIVE_MODEL_FORMAT,
      model: Buffer.from(text).toString('base64'),
    } as XGBoostModelJSON;
    const model = XGBoostModel.load(json);
    expect(model.engineName).toBe((native ?? treeScorerEngine).name);
    const base = Math.log(0.2 / 0.8);
    const margins = model.predictMargin(new Float32Array([0, 0, 0, 1, 0, NaN, 7, 0.5]), 4);
    expect(maxAbsDiff(margins, [base - 0.5, base + 0.75, base - 0.5, base + 0.75])).toBeLessThanOrEqual(1e-6);
    expect(model.trees().trees[0]!.cover).toStrictEqual(Float32Array.from([3, 1, 2]));
  });

  it('cannot train with the scorer-only engine', async () => {
    await expect(XGBoostModel.train(train, { nRounds: 2, engine: treeScorerEngine })).rejects.toBeInstanceOf(XGBoostEngineError);
  });
});

// The tests below need libxgboost; with XGBOOST_LIBRARY=/nonexistent only the selection tests run.
for (const engine of native ? [native] : []) {
  /** Trains `rounds` rounds in `session` and returns the saved JSON model. */
  const trainIn = (session: EngineSession, rounds: number, params: BoosterParams = PARAMS): Uint8Array => {
    const matrix = session.createMatrix({ features: train.features, numRows: train.numRows, numFeatures: train.numFeatures, labels });
    const booster = session.createBooster([matrix], params);
    for (let round = 0; round < rounds; round++) booster.updateOneIter(round, matrix);
    return booster.save();
  };
  const marginsIn = (session: EngineSession, model: Uint8Array, features: Float32Array): Float32Array => {
    const matrix = session.createMatrix({ features, numRows: features.length / data.numFeatures, numFeatures: data.numFeatures });
    return session.loadBooster(model).predict(matrix, { outputMargin: true });
  };

  describe(`native engine (${engine.name})`, () => {
    it('extracts trees from the JSON model whose TypeScript scores equal the engine to 1e-6, missing values included', async () => {
      // scalePosWeight 1: base_score is the fraud rate (≈ 0.03), stored as a probability that must become logit(p).
      // Missing values in training too, so the splits learn default directions both ways.
      const model = await XGBoostModel.train({ ...train, features: withMissing(train.features, 7) }, { nRounds: 25, maxDepth: 4, scalePosWeight: 1, engine });
      const ensemble = model.trees();
      expect(ensemble.trees).toHaveLength(25);
      const fraudRate = train.labels.reduce((s, v) => s + v, 0) / train.numRows;
      expect(ensemble.baseMargin).toBeCloseTo(Math.log(fraudRate / (1 - fraudRate)), 3);
      expect(maxAbsDiff(predictMargins(ensemble, testWithMissing, test.numRows), model.predictMargin(testWithMissing, test.numRows))).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(predictProbabilities(ensemble, testWithMissing, test.numRows), model.predictProba(testWithMissing, test.numRows))).toBeLessThanOrEqual(1e-6);
      // The missing values did take both directions somewhere.
      expect(ensemble.trees.some((tree) => tree.defaultLeft.some((v, k) => v === 1 && tree.left[k] !== -1))).toBe(true);
      expect(ensemble.trees.some((tree) => tree.defaultLeft.some((v, k) => v === 0 && tree.left[k] !== -1))).toBe(true);
    });

    it('scores a JSON model without libxgboost (TypeScript scorer) within 1e-6 of the engine', async () => {
      const model = await XGBoostModel.train(train, { nRounds: 15, maxDepth: 4, engine });
      const json = JSON.parse(JSON.stringify(model.toJSON())) as XGBoostModelJSON;
      const scored = XGBoostModel.load(json, { engine: treeScorerEngine });
      expect(scored.engineName).toBe(treeScorerEngine.name);
      expect(maxAbsDiff(scored.predictProba(testWithMissing, test.numRows), model.predictProba(testWithMissing, test.numRows))).toBeLessThanOrEqual(1e-6);
      expect(scored.featureImportance('total_gain')).toStrictEqual(model.featureImportance('total_gain'));
      // A json model never loads into the wasm engine.
      expect(() => XGBoostModel.load(json, { engine: wasmEngine })).toThrow(ModelFormatError);
    });

    it('trains a random forest with per-split feature sampling whose trees the TypeScript scorer reproduces', async () => {
      const forest = await RandomForestModel.train(train, { nTrees: 30, maxDepth: 6, engine });
      expect(forest.training.featureSampling).toBe('node');
      const json = forest.toJSON() as RandomForestModelJSON;
      expect(JSON.parse(new TextDecoder().decode(forest.modelData())).learner.gradient_booster.model.gbtree_model_param).toEqual({ num_parallel_tree: '30', num_trees: '30' });
      expect(json.modelFormat).toBe(NATIVE_MODEL_FORMAT);
      const ensemble = forest.trees();
      expect(ensemble.baseMargin).toBe(0); // base_score 0.5: every tree is a Newton step from p = 0.5
      expect(maxAbsDiff(predictProbabilities(ensemble, testWithMissing, test.numRows), forest.predictProba(testWithMissing, test.numRows))).toBeLessThanOrEqual(1e-6);
      // Per-split sampling: one tree uses more distinct features than the 5 a per-tree sample allows.
      const distinct = max(...ensemble.trees.map((tree) => new Set(tree.feature.filter((f) => f >= 0)).size));
      expect(distinct).toBeGreaterThan(5);
    });

    it('truncates and joins JSON models so that the engine and the TypeScript scorer agree', () => {
      const session = engine.openSession();
      try {
        const six = trainIn(session, 6);
        const other = trainIn(session, 3, { ...PARAMS, seed: 2, max_depth: 2, base_score: 0.5 });
        const two = truncateJsonTrees(six, 2);
        expect(extractTrees(two, NATIVE_MODEL_FORMAT).trees).toStrictEqual(extractTrees(six, NATIVE_MODEL_FORMAT).trees.slice(0, 2));
        expect(maxAbsDiff(marginsIn(session, two, testWithMissing), predictMargins(extractTrees(two, NATIVE_MODEL_FORMAT), testWithMissing, test.numRows))).toBeLessThanOrEqual(1e-5);
        const a = trainIn(session, 1, { ...PARAMS, base_score: 0.5, num_parallel_tree: 4, subsample: 0.6 });
        const b = trainIn(session, 1, { ...PARAMS, base_score: 0.5, num_parallel_tree: 3, subsample: 0.6, seed: 9 });
        const joined = concatenateJsonTrees([a, b]);
        expect(parseJsonModel(joined).trees).toHaveLength(7);
        const [ma, mb, mj] = [a, b, joined].map((model) => marginsIn(session, model, testWithMissing));
        // Both start from base margin 0, so the joined margin is the plain sum.
        expect(maxAbsDiff(mj!, ma!.map((v, i) => v + mb![i]!))).toBeLessThanOrEqual(1e-5);
        expect(() => concatenateJsonTrees([six, other])).toThrow(ModelFormatError);
        expect(() => truncateJsonTrees(six, 7)).toThrow(RangeError);
      } finally {
        session.close();
      }
    });

    it("reports XGBoost's message in an XGBoostEngineError and keeps the session usable", () => {
      const session = engine.openSession();
      try {
        const matrix = session.createMatrix({ features: train.features, numRows: train.numRows, numFeatures: train.numFeatures, labels });
        const booster = session.createBooster([matrix], PARAMS);
        booster.setParams({ max_depth: 'deep' });
        expect(() => booster.updateOneIter(0, matrix)).toThrow(expect.objectContaining({ name: 'XGBoostEngineError', message: expect.stringMatching(/max_depth/) as unknown }));
        expect(() => session.loadBooster(new TextEncoder().encode('{"not": "a model"}'))).toThrow(XGBoostEngineError);
        expect(() => session.createMatrix({ features: new Float32Array(5), numRows: 2, numFeatures: 3 })).toThrow(RangeError);
        expect(() => session.createMatrix({ features: new Float32Array(6), numRows: 2, numFeatures: 3, labels: new Float32Array(3) })).toThrow(RangeError);
        // Still usable after the failures.
        expect(trainIn(session, 1).length).toBeGreaterThan(0);
      } finally {
        session.close();
      }
      session.close();
      expect(() => session.createMatrix({ features: new Float32Array(6), numRows: 2, numFeatures: 3 })).toThrow(/closed/);
    });

    it('runs a forest round off the JS thread: the event loop keeps turning, and a close during it waits for it', async () => {
      const session = engine.openSession();
      const matrix = session.createMatrix({ features: train.features, numRows: train.numRows, numFeatures: train.numFeatures, labels });
      const booster = session.createBooster([matrix], { ...PARAMS, num_parallel_tree: 300, max_depth: 10, subsample: 0.632, colsample_bynode: 0.2, eta: 1 });
      let turns = 0;
      let running = true;
      const spin = () => {
        turns++;
        if (running) setImmediate(spin);
      };
      setImmediate(spin);
      const round = booster.updateOneIterAsync!(0, matrix);
      // The handles are in use by the worker thread: this close is deferred until the round returns.
      session.close();
      await round;
      running = false;
      expect(turns).toBeGreaterThan(0);
      expect(() => booster.save()).toThrow(/freed/);
    });

    it('frees native memory: 50 trainings, predictions and reloads in a row keep the resident size flat', async () => {
      const cycle = async (seed: number) => {
        const model = await XGBoostModel.train(train, { nRounds: 20, maxDepth: 4, seed, engine });
        model.predictProba(test.features, test.numRows);
        const loaded = XGBoostModel.load(model.toJSON());
        loaded.predictProba(test.features, test.numRows);
        model.dispose();
        loaded.dispose();
        const session = engine.openSession();
        trainIn(session, 2);
        session.close();
      };
      for (let k = 0; k < 10; k++) await cycle(k);
      const before = process.memoryUsage().rss;
      for (let k = 0; k < 50; k++) await cycle(100 + k);
      const growthMB = (process.memoryUsage().rss - before) / 2 ** 20;
      // Each cycle allocates several MB natively (matrices, histograms, boosters): a leak would show as > 100 MB.
      expect(growthMB).toBeLessThan(50);
    });
  });
}
