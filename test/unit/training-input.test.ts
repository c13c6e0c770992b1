import { ApplicationFailure } from '@temporalio/common';
import { parseTrainingInput } from '../../workflows/training-input';

function failure(raw: unknown): ApplicationFailure {
  try {
    parseTrainingInput(raw);
  } catch (e) {
    return e as ApplicationFailure;
  }
  throw new Error('expected the input to be rejected');
}

/** What `temporal workflow start --input '...'` and the Web UI may send to trainingPipeline. */
describe('trainingPipeline input', () => {
  it('fills every default from an empty object (and from no input at all)', () => {
    const plan = parseTrainingInput({});
    expect(plan).toEqual({
      dataset: { source: 'synthetic', rows: 284_807, seed: 42, fraudRate: 0.00172 },
      models: ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'],
      hyperparameters: {},
      split: { train: 0.7, validation: 0.15, test: 0.15, seed: 42 },
      qualityGate: { minPrAuc: 0.5, minRecall: 0.5, maxPrAucDrop: 0.02, perModel: { isolation_forest: { minPrAuc: 0.01, minRecall: 0 } } },
      targetStage: 'Staging',
      experimentName: 'fraud_detection_training',
      trainingTaskQueue: null,
    });
    expect(parseTrainingInput(undefined)).toEqual(plan);
  });

  it('keeps what the user set', () => {
    const plan = parseTrainingInput({
      dataset: { rows: 50_000 },
      models: ['xgboost', 'isolation_forest'],
      hyperparameters: { xgboost: { nRounds: 50 } },
      targetStage: 'Production',
      trainingTaskQueue: 'fraud-ml-training',
    });
    expect(plan.trainingTaskQueue).toBe('fraud-ml-training');
    expect(plan.dataset).toEqual({ source: 'synthetic', rows: 50_000, seed: 42, fraudRate: 0.00172 });
    expect(plan.models).toEqual(['xgboost', 'isolation_forest']);
    expect(plan.hyperparameters).toEqual({ xgboost: { nRounds: 50 } });
    expect(plan.targetStage).toBe('Production');
    expect(parseTrainingInput({ dataset: { source: 'csv', path: '/data/creditcard.csv' } }).dataset).toEqual({
      source: 'csv',
      path: '/data/creditcard.csv',
      labelColumn: 'Class',
    });
  });

  it.each([
    [{ datset: {} }, 'datset'],
    [{ dataset: { rows: 'many' } }, 'dataset.rows'],
    [{ dataset: { rows: 10.5 } }, 'dataset.rows'],
    [{ dataset: { source: 'csv' } }, 'dataset.path'],
    [{ dataset: { source: 'parquet' } }, 'dataset.source'],
    [{ models: ['xgboost', 'svm'] }, 'models[1]'],
    [{ models: [] }, 'models'],
    [{ models: ['xgboost', 'xgboost'] }, 'models[1]'],
    [{ hyperparameters: { lightgbm: {} } }, 'hyperparameters.lightgbm'],
    [{ hyperparameters: { xgboost: 5 } }, 'hyperparameters.xgboost'],
    [{ split: { train: 0.8 } }, 'split'],
    [{ qualityGate: { minRecall: 2 } }, 'qualityGate.minRecall'],
    [{ targetStage: 'Archived' }, 'targetStage'],
    [{ qualityGate: { perModel: { xgboost: { minPrAuc: -1 } } } }, 'qualityGate.perModel.xgboost.minPrAuc'],
    [{ experimentName: '' }, 'experimentName'],
    [{ trainingTaskQueue: 7 }, 'trainingTaskQueue'],
    [[1, 2], 'input'],
  ])('rejects %j, naming %s, without retry', (raw, field) => {
    const err = failure(raw);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(true);
    expect(err.type).toBe('InvalidWorkflowInput');
    expect(err.message).toContain(`${field} `);
    expect(err.details).toEqual([{ field }]);
  });
});
