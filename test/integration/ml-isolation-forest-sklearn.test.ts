/**
 * Our isolation forest against scikit-learn's on the same rows: the anomaly scores must rank rows
 * alike and sit on the same scale (same path-length normalisation). Two forests of different
 * seeds never agree exactly, so the yardstick is how well two sklearn forests agree with each other.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { generateTransactions } from '../../lib/ml/data/synthetic';
import { averagePathLength, IsolationForestModel } from '../../lib/ml/isolation-forest';

const PYTHON = path.resolve(__dirname, '../../.venv/bin/python');
const TREES = 1000; // many trees: the seed-to-seed noise of both implementations shrinks

const SCRIPT = `
import json, sys
import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

d, n_train, trees = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(sys.argv[1] + '/x.f32', dtype='<f4').reshape(-1, d)
ours = np.fromfile(sys.argv[1] + '/ours.f64', dtype='<f8')
sk = []
for seed in (0, 1):
    forest = IsolationForest(n_estimators=trees, max_samples=256, max_features=1.0, random_state=seed).fit(X[:n_train])
    sk.append(-forest.score_samples(X))
print(json.dumps({
    'ours_vs_sklearn': float(spearmanr(ours, sk[0]).correlation),
    'sklearn_vs_sklearn': float(spearmanr(sk[0], sk[1]).correlation),
    'mean_ours': float(ours.mean()),
    'mean_sklearn': float(sk[0].mean()),
    'c': [float(v) for v in _average_path_length(np.array([1, 2, 5, 256, 4000]))],
}))
`;

describe('IsolationForestModel against scikit-learn', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'iforest-sklearn-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranks rows like sklearn IsolationForest.score_samples, on the same scale', async () => {
    const data = generateTransactions({ rows: 6000, seed: 3, fraudRate: 0.02 });
    const nTrain = 4000;
    const d = data.numFeatures;
    const train = { ...data, features: data.features.slice(0, nTrain * d), labels: data.labels.slice(0, nTrain), numRows: nTrain };
    const validation = { ...data, features: data.features.slice(nTrain * d), labels: data.labels.slice(nTrain), numRows: data.numRows - nTrain };
    const model = await IsolationForestModel.train(train, { nTrees: TREES, maxSamples: 256, seed: 1 }, validation);
    const ours = model.anomalyScores(data.features, data.numRows);
    writeFileSync(path.join(dir, 'x.f32'), data.features);
    writeFileSync(path.join(dir, 'ours.f64'), ours);

    const output = execFileSync(PYTHON, ['-c', SCRIPT, dir, String(d), String(nTrain), String(TREES)], { encoding: 'utf8', timeout: 120_000 });
    const result = JSON.parse(output) as { ours_vs_sklearn: number; sklearn_vs_sklearn: number; mean_ours: number; mean_sklearn: number; c: number[] };

    expect(result.ours_vs_sklearn).toBeGreaterThan(0.9);
    // As close to sklearn as sklearn is to itself under another seed.
    expect(result.ours_vs_sklearn).toBeGreaterThan(result.sklearn_vs_sklearn - 0.02);
    expect(Math.abs(result.mean_ours - result.mean_sklearn)).toBeLessThan(0.005);
    [1, 2, 5, 256, 4000].forEach((n, i) => expect(averagePathLength(n)).toBeCloseTo(result.c[i]!, 12));
  });
});
