/**
 * Training and scoring time and quality of the isolation forest on the synthetic credit-card data
 * (a measurement, not a test), with both calibrations, and optionally scikit-learn's
 * `IsolationForest` on the same rows for comparison.
 *
 *   nice -n 10 npx tsx scripts/experiments/iforest-benchmark.ts
 *   nice -n 10 npx tsx scripts/experiments/iforest-benchmark.ts --sklearn
 *   flags: --rows N (default 284807), --seed N (forest seed, default 42), --options JSON
 *          (IsolationForestOptions), --sklearn (also fit sklearn with the same nTrees/maxSamples
 *          through .venv/bin/python and compare rankings)
 *
 * Split: stratified 70/15/15 with seed 42 (the same as xgboost-benchmark.ts). Prints one JSON
 * line per calibration (and one for sklearn).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { IsolationForestModel, type IsolationForestOptions } from '../../lib/ml/isolation-forest';
import { averagePrecision, rocAuc } from '../../lib/ml/metrics';


/** Log-loss and Brier score of probabilities: how well calibrated, not only how well ranked. */
function calibrationScores(labels: Uint8Array, p: Float32Array): { logLoss: number; brier: number } {
  let logLoss = 0;
  let brier = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i]!, 1e-7), 1 - 1e-7);
    logLoss -= labels[i] === 1 ? Math.log(q) : Math.log(1 - q);
    brier += (p[i]! - labels[i]!) ** 2;
  }
  return { logLoss: +(logLoss / p.length).toFixed(6), brier: +(brier / p.length).toFixed(6) };
}

const SKLEARN = `
import json, sys, time
import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
folder, d, trees, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X_train = np.fromfile(folder + '/train.f32', dtype='<f4').reshape(-1, d)
X_test = np.fromfile(folder + '/test.f32', dtype='<f4').reshape(-1, d)
y_test = np.fromfile(folder + '/test.u8', dtype=np.uint8)
ours = np.fromfile(folder + '/ours.f64', dtype='<f8')
t = time.time(); forest = IsolationForest(n_estimators=trees, max_samples=samples, random_state=0).fit(X_train); fit = time.time() - t
t = time.time(); s = -forest.score_samples(X_test); score = time.time() - t
other = -IsolationForest(n_estimators=trees, max_samples=samples, random_state=1).fit(X_train).score_samples(X_test)
print(json.dumps({'model': 'sklearn IsolationForest', 'fitSeconds': round(fit, 2), 'scoreTestSeconds': round(score, 2),
  'testPrAuc': round(float(average_precision_score(y_test, s)), 4), 'testRocAuc': round(float(roc_auc_score(y_test, s)), 4),
  'spearmanOursVsSklearn': round(float(spearmanr(ours, s).correlation), 4),
  'spearmanSklearnSeed0VsSeed1': round(float(spearmanr(s, other).correlation), 4),
  'meanScoreOurs': round(float(ours.mean()), 4), 'meanScoreSklearn': round(float(s.mean()), 4)}))
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '284807' },
      seed: { type: 'string', default: '42' },
      options: { type: 'string', default: '{}' },
      sklearn: { type: 'boolean', default: false },
    },
  });
  const options = JSON.parse(values.options) as IsolationForestOptions;
  const data = generateTransactions({ rows: Number(values.rows) });
  const { train, validation, test } = stratifiedSplit(data, { seed: 42 });

  let testScores: Float64Array | undefined;
  let resolved: IsolationForestModel['training']['options'] | undefined;
  for (const calibration of ['platt', 'isotonic'] as const) {
    let progressCalls = 0;
    const started = performance.now();
    const model = await IsolationForestModel.train(train, { ...options, calibration, seed: Number(values.seed), onProgress: () => progressCalls++ }, validation);
    const trainSeconds = (performance.now() - started) / 1000;
    const scoreStarted = performance.now();
    model.predictProba(data.features, data.numRows);
    const scoreAllSeconds = (performance.now() - scoreStarted) / 1000;
    testScores = model.anomalyScores(test.features, test.numRows);
    resolved = model.training.options;
    const testP = model.predictProba(test.features, test.numRows);
    console.log(
      JSON.stringify({
        model: `IsolationForestModel (${calibration})`,
        rows: data.numRows,
        trainRows: train.numRows,
        trainSeconds: +trainSeconds.toFixed(2),
        scoreAllRowsSeconds: +scoreAllSeconds.toFixed(2),
        progressCalls,
        testPrAucRawScore: +averagePrecision(test.labels, testScores).toFixed(4),
        testPrAuc: +averagePrecision(test.labels, testP).toFixed(4),
        testRocAuc: +rocAuc(test.labels, testP).toFixed(4),
        testFraudRate: +(test.labels.reduce((a, b) => a + b, 0) / test.numRows).toFixed(5),
        testMeanProbability: +(testP.reduce((a, b) => a + b, 0) / testP.length).toFixed(5),
        ...calibrationScores(test.labels, testP),
        jsonBytes: JSON.stringify(model.toJSON()).length,
        calibration: JSON.stringify(model.calibration).slice(0, 120),
      }),
    );
  }

  if (values.sklearn && testScores && resolved) {
    const dir = mkdtempSync(path.join(tmpdir(), 'iforest-benchmark-'));
    try {
      writeFileSync(path.join(dir, 'train.f32'), train.features);
      writeFileSync(path.join(dir, 'test.f32'), test.features);
      writeFileSync(path.join(dir, 'test.u8'), test.labels);
      writeFileSync(path.join(dir, 'ours.f64'), testScores);
      const python = path.resolve(__dirname, '../../.venv/bin/python');
      const args = ['-c', SKLEARN, dir, String(data.numFeatures), String(resolved.nTrees), String(resolved.maxSamples)];
      process.stdout.write(execFileSync(python, args, { encoding: 'utf8' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
