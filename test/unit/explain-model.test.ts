import { ExplainError, explainModel, type Explanation } from '../../lib/explain';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { IsolationForestModel } from '../../lib/ml/isolation-forest';
import { loadModel } from '../../lib/ml/models';
import { NeuralNetworkModel } from '../../lib/ml/neural-network';
import { RandomForestModel } from '../../lib/ml/random-forest';
import type { FraudModel, ModelKind, SavedModel } from '../../lib/ml/types';
import { XGBoostModel } from '../../lib/ml/xgboost';

const { train, validation, test } = stratifiedSplit(generateTransactions({ rows: 3000, seed: 9, fraudRate: 0.04 }), { train: 0.6, validation: 0.2, test: 0.2, seed: 2 });
const d = train.numFeatures;
const BACKGROUND_ROWS = 30;
const background = { features: train.features.slice(0, BACKGROUND_ROWS * d), numRows: BACKGROUND_ROWS };
/** A fraud row of the test split and a legitimate one. */
const fraudIndex = test.labels.indexOf(1);
const rowOf = (i: number) => test.features.slice(i * d, (i + 1) * d);
const ROWS = [rowOf(fraudIndex), rowOf(fraudIndex === 0 ? 1 : 0)];

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

function mean(values: Float32Array): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** What every explanation promises, whatever the method. */
function expectWellFormed(explanation: Explanation, row: Float32Array, names: readonly string[], topK: number): void {
  expect(explanation.contributions.map((c) => c.feature)).toEqual(names);
  expect(explanation.contributions.map((c) => c.value)).toEqual(Array.from(row));
  const total = explanation.contributions.reduce((s, c) => s + c.contribution, explanation.bias);
  expect(total).toBeCloseTo(explanation.output, 4);
  expect(explanation.top).toHaveLength(Math.min(topK, names.length));
  const magnitudes = explanation.top.map((c) => Math.abs(c.contribution));
  expect(magnitudes).toEqual([...magnitudes].sort((a, b) => b - a));
  // The top list holds the largest contributions: none outside it is larger than its smallest.
  const smallestTop = magnitudes.at(-1)!;
  for (const c of explanation.contributions) if (!explanation.top.includes(c)) expect(Math.abs(c.contribution)).toBeLessThanOrEqual(smallestTop);
}

describe('explainModel on tree models (TreeSHAP)', () => {
  let boosted: XGBoostModel;
  let forest: RandomForestModel;

  beforeAll(async () => {
    boosted = await XGBoostModel.train(train, { nRounds: 20, maxDepth: 4 });
    forest = await RandomForestModel.train(train, { nTrees: 10, maxDepth: 5 });
  });

  it.each(['xgboost', 'random_forest'])('explains %s in log-odds, adding up to the model margin', (kind) => {
    const model = kind === 'xgboost' ? boosted : forest;
    for (const row of ROWS) {
      const explanation = explainModel(model, row, { topK: 5 });
      expect(explanation.method).toBe('tree_shap');
      expect(explanation.outputSpace).toBe('log_odds');
      expect(explanation.output).toBeCloseTo(model.predictMargin(row, 1)[0]!, 5);
      expectWellFormed(explanation, row, model.featureNames, 5);
    }
  });

  it('ignores background rows (the trees carry the training distribution) and defaults to the top 10', () => {
    const row = ROWS[0]!;
    const plain = explainModel(boosted, row);
    expect(explainModel(boosted, row, { background })).toEqual(plain);
    expect(plain.top).toHaveLength(10);
  });

  it('gives a loaded model the same explanation', async () => {
    const loaded = await loadModel(JSON.parse(JSON.stringify(forest.toJSON())));
    expect(explainModel(loaded, ROWS[0]!)).toEqual(explainModel(forest, ROWS[0]!));
  });
});

describe('explainModel on the neural network and the isolation forest (Kernel SHAP)', () => {
  let network: NeuralNetworkModel;
  let isolation: IsolationForestModel;

  beforeAll(async () => {
    network = await NeuralNetworkModel.train(train, { epochs: 3, learningRate: 1e-2, patience: 0, hiddenLayers: [16] }, validation);
    isolation = await IsolationForestModel.train(train, { seed: 3, nTrees: 50 }, validation);
  });

  it('explains the network in log-odds of its probability', () => {
    for (const row of ROWS) {
      const explanation = explainModel(network, row, { background, topK: 3, nSamples: 300 });
      expect(explanation.method).toBe('kernel_shap');
      expect(explanation.outputSpace).toBe('log_odds');
      expect(explanation.output).toBeCloseTo(logit(network.predictProba(row, 1)[0]!), 5);
      expect(explanation.bias).toBeCloseTo(logit(mean(network.predictProba(background.features, BACKGROUND_ROWS))), 5);
      expectWellFormed(explanation, row, network.featureNames, 3);
    }
  });

  it('explains the isolation forest in probability space', () => {
    const row = ROWS[0]!;
    const explanation = explainModel(isolation, row, { background, nSamples: 300 });
    expect(explanation.method).toBe('kernel_shap');
    expect(explanation.outputSpace).toBe('probability');
    expect(explanation.output).toBeCloseTo(isolation.predictProba(row, 1)[0]!, 6);
    expect(explanation.bias).toBeCloseTo(mean(isolation.predictProba(background.features, BACKGROUND_ROWS)), 6);
    expectWellFormed(explanation, row, isolation.featureNames, 10);
  });

  it('is reproducible for a seed', () => {
    const row = ROWS[1]!;
    expect(explainModel(network, row, { background, nSamples: 200, seed: 5 })).toEqual(explainModel(network, row, { background, nSamples: 200, seed: 5 }));
  });

  it('needs background rows: ExplainError NO_BACKGROUND', () => {
    for (const model of [network, isolation]) {
      expect(() => explainModel(model, ROWS[0]!)).toThrow(ExplainError);
      expect(() => explainModel(model, ROWS[0]!, { background: { features: new Float32Array(0), numRows: 0 } })).toThrow(
        expect.objectContaining({ name: 'ExplainError', reason: 'NO_BACKGROUND' }) as Error,
      );
    }
  });
});

/** A stand-in model of a given kind: probability = sigmoid(w · x) (or w · x itself for the isolation forest). */
function linearModel(kind: ModelKind, w: number[]): FraudModel {
  return {
    kind,
    featureNames: w.map((_, j) => `f${j}`),
    predictProba(features, numRows) {
      const out = new Float32Array(numRows);
      for (let i = 0; i < numRows; i++) {
        const z = w.reduce((s, wj, j) => s + wj * features[i * w.length + j]!, 0);
        out[i] = kind === 'isolation_forest' ? z : 1 / (1 + Math.exp(-z));
      }
      return out;
    },
    toJSON: () => ({ name: 'Linear', formatVersion: 1, kind, featureNames: [] }) as SavedModel,
  };
}

describe('explainModel wiring', () => {
  const w = [0.8, -0.5, 0.25, 0];
  const row = Float32Array.of(1, 2, -1, 5);

  it('uses the logit link for a network: a logistic model has contributions w_j (x_j − b_j) in log-odds', () => {
    // With one background row, v(S) = logit(sigmoid(w·z)) = w·z is linear in the coalition.
    const b = Float32Array.of(0.5, -1, 0, 2);
    const explanation = explainModel(linearModel('neural_network', w), row, { background: { features: b, numRows: 1 } });
    explanation.contributions.forEach((c, j) => expect(c.contribution).toBeCloseTo(w[j]! * (row[j]! - b[j]!), 4));
    expect(explanation.top.map((c) => c.feature)).toEqual(['f1', 'f0', 'f2', 'f3']);
  });

  it('uses the identity link for an isolation forest: contributions w_j (x_j − mean_j) in probability', () => {
    const b = Float32Array.of(0, 0, 0, 0, 1, 1, 1, 1);
    const explanation = explainModel(linearModel('isolation_forest', w), row, { background: { features: b, numRows: 2 } });
    explanation.contributions.forEach((c, j) => expect(c.contribution).toBeCloseTo(w[j]! * (row[j]! - 0.5), 5));
  });

  it('rejects an unknown kind, a wrong row width and a bad topK', () => {
    const unknown = linearModel('gradient_magic' as ModelKind, w);
    expect(() => explainModel(unknown, row, { background: { features: row, numRows: 1 } })).toThrow(expect.objectContaining({ reason: 'UNSUPPORTED_MODEL' }) as Error);
    const model = linearModel('neural_network', w);
    expect(() => explainModel(model, row.subarray(0, 3), { background: { features: row, numRows: 1 } })).toThrow(RangeError);
    expect(() => explainModel(model, row, { background: { features: row, numRows: 1 }, topK: 0 })).toThrow(TypeError);
  });
});
