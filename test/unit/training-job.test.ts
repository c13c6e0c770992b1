import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSplit, type DatasetRef } from '../../lib/datasets/store';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { InvalidHyperparameterError, TrainingCancelledError } from '../../lib/ml/errors';
import { averagePrecision } from '../../lib/ml/metrics';
import { loadModel } from '../../lib/ml/models';
import { runTrainingJob } from '../../lib/ml/training-job';
import type { DatasetSplit, TrainProgress } from '../../lib/ml/types';

/** Training off the caller's thread: what the training activities rely on. */
describe('training job in a worker thread', () => {
  let dataDir: string;
  let split: DatasetSplit;
  let ref: DatasetRef;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'training-job-'));
    split = stratifiedSplit(generateTransactions({ rows: 12_000, seed: 3, fraudRate: 0.03 }), { seed: 3 });
    ref = await writeSplit(dataDir, split, 'synthetic');
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('trains, evaluates on the test split and writes a model that loads with the same scores', async () => {
    const progress: TrainProgress[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20); // the caller's event loop keeps running meanwhile
    const outFile = join(dataDir, 'models', 'xgboost.json');
    let result;
    try {
      result = await runTrainingJob({ kind: 'xgboost', datasetDir: ref.dir, hyperparameters: { nRounds: 30 }, outFile }, { onProgress: (p) => progress.push(p) });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(3);
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(result.test.rows).toBe(split.test.numRows);
    expect(result.threshold).toBeGreaterThan(0);
    const model = await loadModel(JSON.parse(readFileSync(outFile, 'utf8')));
    const scores = model.predictProba(split.test.features, split.test.numRows);
    expect(averagePrecision(split.test.labels, scores)).toBeCloseTo(result.test.prAuc, 12);
    expect(result.test.prAuc).toBeGreaterThan(0.3);
    expect(result.featureImportance?.length).toBeGreaterThan(0);
    expect(readdirSync(join(dataDir, 'models'))).toEqual(['xgboost.json']); // no scratch file left
  });

  // 500 epochs would outlast the test timeout: only a working abort finishes in time.
  it('stops when aborted, with TrainingCancelledError, and writes no model', async () => {
    const controller = new AbortController();
    const outFile = join(dataDir, 'models', 'nn-cancelled.json');
    const run = runTrainingJob(
      { kind: 'neural_network', datasetDir: ref.dir, hyperparameters: { epochs: 500, patience: 0 }, outFile },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    await expect(run).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(readdirSync(join(dataDir, 'models'))).not.toContain('nn-cancelled.json');
  });

  it('rejects bad hyperparameters with the typed error, before training', async () => {
    const run = runTrainingJob({ kind: 'random_forest', datasetDir: ref.dir, hyperparameters: { nTrees: -1 }, outFile: join(dataDir, 'models', 'rf.json') });
    await expect(run).rejects.toBeInstanceOf(InvalidHyperparameterError);
    await expect(run).rejects.toThrow(/nTrees/);
  });
});
