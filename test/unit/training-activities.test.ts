import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTrainingActivities, type TrainingHeartbeat } from '../../activities/training';
import type { DatasetRef } from '../../lib/datasets/store';
import { silentLogger } from '../../lib/logger';
import type { TrainingJobResult } from '../../lib/ml/training-job';
import { parseTrainingInput } from '../../workflows/training-input';

/** The training activities as Temporal runs them: heartbeats, cancellation, failure classes. */
describe('training activities', () => {
  let dataDir: string;
  let acts: ReturnType<typeof createTrainingActivities>;
  let dataset: DatasetRef;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'training-acts-'));
    acts = createTrainingActivities({ dataDir, logger: silentLogger });
    const plan = parseTrainingInput({ dataset: { rows: 10_000, fraudRate: 0.03, seed: 5 } });
    dataset = await new MockActivityEnvironment().run(acts.prepareDataset, plan);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prepares a stored split and says where it came from', () => {
    expect(dataset.source).toBe('synthetic(rows=10000,seed=5,fraudRate=0.03)');
    expect(dataset.parts.train.rows + dataset.parts.validation.rows + dataset.parts.test.rows).toBe(10_000);
    expect(dataset.dir.startsWith(dataDir)).toBe(true);
  });

  it('heartbeats training progress with an estimate of the time left', async () => {
    const env = new MockActivityEnvironment();
    const beats: TrainingHeartbeat[] = [];
    env.on('heartbeat', (d: TrainingHeartbeat) => beats.push(d));
    const result: TrainingJobResult = await env.run(acts.trainModel, { kind: 'xgboost' as const, dataset, hyperparameters: { nRounds: 20 }, seed: 1 });
    expect(result.test.prAuc).toBeGreaterThan(0.2);
    const rounds = beats.filter((b) => b.unit === 'round');
    expect(rounds.map((b) => b.done)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rounds.every((b) => b.total === 20 && b.estimatedSecondsLeft !== undefined)).toBe(true);
    expect(rounds.at(-1)?.estimatedSecondsLeft).toBe(0);
  });

  it('reports a cancellation from Temporal as a cancellation', async () => {
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: TrainingHeartbeat) => {
      if (d.unit === 'epoch') env.cancel();
    });
    const run = env.run(acts.trainModel, { kind: 'neural_network' as const, dataset, hyperparameters: { epochs: 500, patience: 0 }, seed: 1 });
    await expect(run).rejects.toBeInstanceOf(CancelledFailure);
  });

  it('fails bad hyperparameters and bad data without retry', async () => {
    const env = new MockActivityEnvironment();
    const bad = env.run(acts.trainModel, { kind: 'xgboost' as const, dataset, hyperparameters: { eta: 7 }, seed: 1 });
    await expect(bad).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(bad).rejects.toMatchObject({ nonRetryable: true, type: 'InvalidHyperparameterError' });
    const csv = env.run(acts.prepareDataset, parseTrainingInput({ dataset: { source: 'csv', path: join(dataDir, 'missing.csv') } }));
    await expect(csv).rejects.toMatchObject({ nonRetryable: true, type: 'DatasetError' });
  });
});
