import { InvalidModelUriError, parseModelUri } from '../../lib/mlflow';

describe('parseModelUri', () => {
  it.each([
    ['models:/fraud-xgb/3', { kind: 'version', name: 'fraud-xgb', version: '3' }],
    ['models:/fraud-xgb/Staging', { kind: 'stage', name: 'fraud-xgb', stage: 'Staging' }],
    ['models:/fraud-xgb/production', { kind: 'stage', name: 'fraud-xgb', stage: 'Production' }],
    ['models:/fraud-xgb/None', { kind: 'stage', name: 'fraud-xgb', stage: 'None' }],
    ['models:/fraud-xgb/latest', { kind: 'latest', name: 'fraud-xgb' }],
    ['models:/fraud-xgb/LATEST', { kind: 'latest', name: 'fraud-xgb' }],
    ['models:/fraud-xgb@champion', { kind: 'alias', name: 'fraud-xgb', alias: 'champion' }],
    ['models:/name with spaces@challenger-2', { kind: 'alias', name: 'name with spaces', alias: 'challenger-2' }],
    ['models:/a@b@c', { kind: 'alias', name: 'a@b', alias: 'c' }],
    ['runs:/0a1b2c/model', { kind: 'run', runId: '0a1b2c', artifactPath: 'model' }],
    ['runs:/0a1b2c/models/xgb/', { kind: 'run', runId: '0a1b2c', artifactPath: 'models/xgb' }],
    ['runs:/0a1b2c', { kind: 'run', runId: '0a1b2c', artifactPath: '' }],
  ])('parses %s', (uri, expected) => {
    expect(parseModelUri(uri)).toEqual({ uri, ...expected });
  });

  it.each([
    ['fraud-xgb/3', /expected a 'models:\/' or 'runs:\/' URI/],
    ['s3://bucket/model', /expected a 'models:\/' or 'runs:\/' URI/],
    ['models:', /expected 'models:\/<name>/],
    ['models:/', /expected 'models:\/<name>/],
    ['models:fraud/1', /expected 'models:\/<name>/],
    ['models://host/fraud/1', /registry host/],
    ['models:/fraud/1/extra', /expected 'models:\/<name>/],
    ['models:/ /1', /expected 'models:\/<name>/],
    ['models:/fraud/', /empty/],
    ['models:/fraud/Shadow', /not a version number, 'latest' or a stage/],
    ['models:/fraud@', /models:\/<name>@<alias>/],
    ['models:/@champion', /models:\/<name>@<alias>/],
    ['models:/fraud@champion/2', /either an alias or a version/],
    ['models:/fraud', /names no version/],
    ['models:/m-0123456789abcdef', /logged-model ids are not supported/],
    ['runs:/', /runs:\/<run_id>/],
    ['runs://abc/model', /runs:\/<run_id>/],
    ['runs:/abc/../etc', /'\.\.'/],
  ])('rejects %j', (uri, message) => {
    let thrown: unknown;
    try {
      parseModelUri(uri);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidModelUriError);
    const err = thrown as InvalidModelUriError;
    expect(err.name).toBe('InvalidModelUriError');
    expect(err.uri).toBe(uri);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(message);
  });
});
