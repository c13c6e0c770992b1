import { generateTransactions } from '../../lib/ml/data/synthetic';
import { ModelFormatError } from '../../lib/ml/errors';
import {
  concatenateTrees,
  extractTrees,
  parseBinaryModel,
  predictMargins,
  truncateTrees,
  wasmEngine,
  XGBoostEngineError,
  XGBoostModel,
  type BoosterParams,
  type EngineSession,
} from '../../lib/ml/xgboost';
import { PREDICT_BATCH_ROWS } from '../../lib/ml/xgboost/wasm-engine';

const data = generateTransactions({ rows: 4_000, seed: 5, fraudRate: 0.03 });
const labels = Float32Array.from(data.labels);
const PARAMS: BoosterParams = { objective: 'binary:logistic', silent: 1, max_depth: 3, eta: 0.3, tree_method: 'hist', seed: 1, subsample: 0.8 };

/** Trains `rounds` rounds in `session` and returns the booster's saved bytes. */
function trainIn(session: EngineSession, rounds: number, params: BoosterParams = PARAMS): Uint8Array {
  const matrix = session.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures, labels });
  const booster = session.createBooster([matrix], params);
  for (let round = 0; round < rounds; round++) booster.updateOneIter(round, matrix);
  return booster.save();
}

/** `numRows` rows cycling through `data`'s rows (cheaper than generating that many). */
function tile(numRows: number): Float32Array {
  const d = data.numFeatures;
  const out = new Float32Array(numRows * d);
  for (let i = 0; i < numRows; i++) out.set(data.features.subarray((i % data.numRows) * d, ((i % data.numRows) + 1) * d), i * d);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a).toHaveLength(b.length);
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i]!)), 0);
}

describe('wasm engine', () => {
  it('gives every session its own instance: interleaved trainings match separate ones', () => {
    const alone = wasmEngine.openSession();
    const expected = trainIn(alone, 4);
    alone.close();

    const a = wasmEngine.openSession();
    const b = wasmEngine.openSession();
    const ma = a.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures, labels });
    const mb = b.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures, labels });
    const ba = a.createBooster([ma], PARAMS);
    const bb = b.createBooster([mb], PARAMS);
    for (let round = 0; round < 4; round++) {
      ba.updateOneIter(round, ma);
      bb.updateOneIter(round, mb);
    }
    b.close();
    // Closing b left a intact.
    expect(ba.save()).toStrictEqual(expected);
    a.close();
    expect(() => ba.save()).toThrow(XGBoostEngineError);
  });

  it('predicts many rows in one call, equal to the TypeScript scorer of the extracted trees', () => {
    const session = wasmEngine.openSession();
    try {
      const bytes = trainIn(session, 5);
      const booster = session.loadBooster(bytes);
      const matrix = session.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures });
      const margins = booster.predict(matrix, { outputMargin: true });
      expect(maxAbsDiff(margins, predictMargins(extractTrees(bytes), data.features, data.numRows))).toBeLessThanOrEqual(1e-5);
      const probabilities = booster.predict(matrix);
      expect(maxAbsDiff(probabilities, margins.map((m) => 1 / (1 + Math.exp(-m))))).toBeLessThanOrEqual(1e-6);
    } finally {
      session.close();
    }
  });

  it("turns an XGBoost failure into an XGBoostEngineError with XGBoost's message, then refuses the broken session", () => {
    const session = wasmEngine.openSession();
    const matrix = session.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures, labels });
    const booster = session.createBooster([matrix], PARAMS);
    booster.setParams({ max_depth: 'deep' });
    let failure: unknown;
    try {
      booster.updateOneIter(0, matrix);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(XGBoostEngineError);
    expect((failure as Error).message).toMatch(/max_depth/);
    expect(() => session.createMatrix({ features: new Float32Array(2), numRows: 1, numFeatures: 2 })).toThrow(/unusable/);
    session.close();
  });

  it('checks shapes before copying anything in', () => {
    const session = wasmEngine.openSession();
    expect(() => session.createMatrix({ features: new Float32Array(5), numRows: 2, numFeatures: 3 })).toThrow(RangeError);
    expect(() => session.createMatrix({ features: new Float32Array(6), numRows: 2, numFeatures: 3, labels: new Float32Array(3) })).toThrow(RangeError);
    session.close();
    session.close();
    expect(() => session.createMatrix({ features: new Float32Array(6), numRows: 2, numFeatures: 3 })).toThrow(/closed/);
  });

  it('runs many sessions in a row, each with a training large enough to grow its heap', () => {
    // Each session's heap goes with its instance; this would exhaust memory if sessions leaked
    // 10 × ~40 MB of training state, and it checks the last session still trains identically.
    const numRows = 40_000;
    const features = tile(numRows);
    const bigLabels = Float32Array.from({ length: numRows }, (_, i) => labels[i % data.numRows]!);
    let first: Uint8Array | undefined;
    for (let k = 0; k < 10; k++) {
      const session = wasmEngine.openSession();
      const matrix = session.createMatrix({ features, numRows, numFeatures: data.numFeatures, labels: bigLabels });
      const booster = session.createBooster([matrix], { ...PARAMS, max_depth: 1 });
      booster.updateOneIter(0, matrix);
      const bytes = booster.save();
      session.close();
      first ??= bytes;
      expect(bytes).toStrictEqual(first);
    }
  });
});

describe('binary model format', () => {
  let session: EngineSession;
  let bytes: Uint8Array;
  let other: Uint8Array;
  beforeAll(() => {
    session = wasmEngine.openSession();
    bytes = trainIn(session, 6);
    other = trainIn(session, 3, { ...PARAMS, seed: 2, max_depth: 2 });
  });
  afterAll(() => session.close());

  it('parses every byte of a saved model', () => {
    const model = parseBinaryModel(bytes);
    expect(model).toMatchObject({ objective: 'binary:logistic', booster: 'gbtree', numFeatures: data.numFeatures, numOutputGroups: 1 });
    expect(model.trees).toHaveLength(6);
    expect(model.trailer).toHaveLength(0);
  });

  it('truncates to the first n trees: the engine agrees with the sum of those trees', () => {
    const truncated = truncateTrees(bytes, 2);
    const all = extractTrees(bytes);
    const firstTwo = extractTrees(truncated);
    expect(firstTwo.trees).toStrictEqual(all.trees.slice(0, 2));
    const booster = session.loadBooster(truncated);
    const matrix = session.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures });
    expect(maxAbsDiff(booster.predict(matrix, { outputMargin: true }), predictMargins(firstTwo, data.features, data.numRows))).toBeLessThanOrEqual(1e-5);
  });

  it('concatenates models: the joined margins add up', () => {
    const joined = concatenateTrees([bytes, other]);
    expect(extractTrees(joined).trees).toHaveLength(9);
    const matrix = session.createMatrix({ features: data.features, numRows: data.numRows, numFeatures: data.numFeatures });
    const margin = (model: Uint8Array) => session.loadBooster(model).predict(matrix, { outputMargin: true });
    const a = margin(bytes);
    const b = margin(other);
    // Both start from base margin 0, so the joined margin is the plain sum.
    expect(extractTrees(bytes).baseMargin).toBe(0);
    expect(maxAbsDiff(margin(joined), a.map((v, i) => v + b[i]!))).toBeLessThanOrEqual(1e-5);
  });

  it('rejects bytes that are not such a model', () => {
    expect(() => parseBinaryModel(new Uint8Array(10))).toThrow(ModelFormatError);
    expect(() => parseBinaryModel(bytes.subarray(0, bytes.length - 7))).toThrow(ModelFormatError);
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expect(() => parseBinaryModel(extra)).toThrow(ModelFormatError);
  });
});

describe('model prediction in batches', () => {
  it(`predicts more than ${PREDICT_BATCH_ROWS} rows in batches, each row as if alone`, async () => {
    const model = await XGBoostModel.train(data, { nRounds: 5, maxDepth: 3 });
    const numRows = PREDICT_BATCH_ROWS + 1_000;
    const many = { features: tile(numRows), numRows };
    const all = model.predictProba(many.features, many.numRows);
    const d = data.numFeatures;
    // Rows around the batch boundary, predicted on their own.
    const from = PREDICT_BATCH_ROWS - 3;
    const alone = model.predictProba(many.features.slice(from * d, (from + 6) * d), 6);
    expect(all.slice(from, from + 6)).toStrictEqual(alone);
    expect(all[all.length - 1]).toBe(model.predictProba(many.features.slice(-d), 1)[0]);
    model.dispose();
    // Usable again after dispose: the session reopens.
    expect(model.predictProba(many.features.slice(0, d), 1)[0]).toBe(all[0]);
  });
});
