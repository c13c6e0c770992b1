import {
  InvalidModelUriError,
  isRetryableMlflowError,
  joinArtifactUri,
  MlflowApiError,
  MlflowConnectionError,
  MlflowError,
  MlflowRegistrationError,
  MlflowValidationError,
  parseArtifactUri,
  UnsupportedArtifactUriError,
} from '../../lib/mlflow';
import { networkErrorCode, parseErrorBody } from '../../lib/mlflow/http';
import { filterLiteral, normalizeArtifactPath, validateAlias, validateIdempotencyKey } from '../../lib/mlflow/validation';

describe('error bodies', () => {
  it('reads MLflow JSON errors', () => {
    expect(parseErrorBody('{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Experiment(name=x) already exists."}', 400)).toEqual({
      errorCode: 'RESOURCE_ALREADY_EXISTS',
      message: 'Experiment(name=x) already exists.',
    });
  });

  it.each([
    ['', 500, 'HTTP_500', 'empty 500 response'],
    ['Internal Server Error', 500, 'HTTP_500', 'Internal Server Error'],
    ['{"detail": "Invalid host header"}', 403, 'HTTP_403', '{"detail": "Invalid host header"}'],
    ['{not json', 502, 'HTTP_502', '{not json'],
    ['<html><body><h1>504 Gateway Time-out</h1></body></html>', 504, 'HTTP_504', '504 Gateway Time-out'],
  ])('falls back to the status and a text excerpt for %j', (body, status, code, message) => {
    expect(parseErrorBody(body, status)).toEqual({ errorCode: code, message });
  });

  it('keeps excerpts of huge bodies short', () => {
    expect(parseErrorBody('x'.repeat(100_000), 500).message.length).toBeLessThanOrEqual(500);
  });
});

describe('error classes', () => {
  const api = (status: number, errorCode = 'X') => new MlflowApiError({ errorCode, status, method: 'POST', endpoint: '/api/2.0/mlflow/runs/create', serverMessage: 'msg' });

  it('carry stable names, are MlflowErrors and Errors', () => {
    const errors: MlflowError[] = [
      api(400),
      new MlflowConnectionError({ uri: 'http://h:1', method: 'GET', endpoint: '/e', attempts: 6, code: 'ECONNREFUSED', detail: 'x' }),
      new MlflowRegistrationError({ reason: 'failed', modelName: 'm', version: '2', status: 'FAILED_REGISTRATION', detail: 'copy failed' }),
      new InvalidModelUriError('models:/x', 'bad'),
      new UnsupportedArtifactUriError('/tmp/mlruns/1/abc/artifacts', 'Run abc'),
      new MlflowValidationError('alias', 'bad'),
    ];
    expect(errors.map((e) => e.name)).toEqual([
      'MlflowApiError',
      'MlflowConnectionError',
      'MlflowRegistrationError',
      'InvalidModelUriError',
      'UnsupportedArtifactUriError',
      'MlflowValidationError',
    ]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(MlflowError);
      expect(e.stack).toContain(e.name);
    }
  });

  it('say which failures a caller may retry', () => {
    expect([400, 401, 403, 404, 409, 501].map((s) => api(s).retryable)).toEqual([false, false, false, false, false, false]);
    expect([408, 429, 500, 502, 503, 504].map((s) => api(s).retryable)).toEqual([true, true, true, true, true, true]);
    expect(new MlflowApiError({ errorCode: 'HTTP_503', status: 503, method: 'GET', endpoint: '/e', serverMessage: 'x', permanent: true }).retryable).toBe(false);
    expect(isRetryableMlflowError(new MlflowConnectionError({ uri: 'u', method: 'GET', endpoint: '/e', attempts: 1, detail: 'x' }))).toBe(true);
    expect(isRetryableMlflowError(new MlflowRegistrationError({ reason: 'timeout', modelName: 'm', version: '1', status: 'PENDING_REGISTRATION', detail: '300000 ms' }))).toBe(true);
    expect(isRetryableMlflowError(new MlflowRegistrationError({ reason: 'failed', modelName: 'm', version: '1', status: 'FAILED_REGISTRATION', detail: 'x' }))).toBe(false);
    expect(isRetryableMlflowError(new Error('plain'))).toBe(false);
  });

  it('classify not-found and already-exists answers', () => {
    expect(api(404, 'RESOURCE_DOES_NOT_EXIST').isNotFound).toBe(true);
    expect(api(400, 'RESOURCE_ALREADY_EXISTS').isAlreadyExists).toBe(true);
    expect(api(400, 'INVALID_PARAMETER_VALUE').isAlreadyExists).toBe(false);
  });

  it('keep the wrapped error as cause', () => {
    const inner = new Error('socket hang up');
    const err = new MlflowConnectionError({ uri: 'http://h:1', method: 'GET', endpoint: '/e', attempts: 3, code: 'ECONNRESET', detail: 'x', cause: inner });
    expect(err.cause).toBe(inner);
    expect(err.message).toBe('MLflow server at http://h:1 is unreachable (ECONNRESET) after 3 attempt(s): GET /e. Is it running and is MLFLOW_TRACKING_URI right?');
    const uriErr = new InvalidModelUriError('models:/m/1', 'gone', inner);
    expect(uriErr.cause).toBe(inner);
  });

  it('recognises network failures, also inside AggregateError, and nothing else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(networkErrorCode(refused)).toBe('ECONNREFUSED');
    expect(networkErrorCode(new AggregateError([refused], ''))).toBe('ECONNREFUSED');
    expect(networkErrorCode(Object.assign(new Error('no space'), { code: 'ENOSPC' }))).toBeUndefined();
    expect(networkErrorCode(new TypeError('bug'))).toBeUndefined();
  });
});

describe('artifact URIs', () => {
  it('parses mlflow-artifacts URIs, with or without a host', () => {
    expect(parseArtifactUri('mlflow-artifacts:/1/abc/artifacts/model')).toEqual({ path: '1/abc/artifacts/model' });
    expect(parseArtifactUri('mlflow-artifacts:///1/abc/artifacts')).toEqual({ path: '1/abc/artifacts' });
    expect(parseArtifactUri('mlflow-artifacts://mlflow:5000/1/abc/artifacts')).toEqual({ host: 'mlflow:5000', path: '1/abc/artifacts' });
    expect(parseArtifactUri('mlflow-artifacts:/1/abc/artifacts/with%20space')).toEqual({ path: '1/abc/artifacts/with space' });
    expect(joinArtifactUri('mlflow-artifacts:/1/abc/artifacts/', 'model/MLmodel')).toBe('mlflow-artifacts:/1/abc/artifacts/model/MLmodel');
    expect(joinArtifactUri('mlflow-artifacts:/1/abc/artifacts', '')).toBe('mlflow-artifacts:/1/abc/artifacts');
  });

  it.each(['/tmp/mlruns/1/abc/artifacts', 'file:///tmp/mlruns/1/abc/artifacts', 's3://bucket/1/abc/artifacts', './mlruns/1'])(
    'fails loudly on the non-proxy artifact URI %s',
    (uri) => {
      let thrown: unknown;
      try {
        parseArtifactUri(uri, 'Run abc');
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UnsupportedArtifactUriError);
      expect((thrown as UnsupportedArtifactUriError).artifactUri).toBe(uri);
      expect((thrown as Error).message).toMatch(/^Run abc: artifact URI .* is not an mlflow-artifacts:\/ URI/);
    },
  );

  it('refuses artifact paths that climb out of the run', () => {
    expect(normalizeArtifactPath('model/')).toBe('model');
    expect(normalizeArtifactPath('./a/b')).toBe('a/b');
    expect(normalizeArtifactPath('')).toBe('');
    expect(() => normalizeArtifactPath('../x')).toThrow(MlflowValidationError);
    expect(() => normalizeArtifactPath('a/../../x')).toThrow(MlflowValidationError);
    expect(() => normalizeArtifactPath('/etc/passwd')).toThrow(MlflowValidationError);
    expect(() => parseArtifactUri('mlflow-artifacts:/1/../../etc')).toThrow(MlflowValidationError);
  });
});

describe('other client-side checks', () => {
  it('accepts workflow-style idempotency keys and refuses quotes', () => {
    expect(() => validateIdempotencyKey('train-2025-01-01/xgboost')).not.toThrow();
    expect(() => validateIdempotencyKey("it's")).toThrow(MlflowValidationError);
    expect(() => validateIdempotencyKey('')).toThrow(MlflowValidationError);
  });

  it('quotes filter literals with a quote the value lacks', () => {
    expect(filterLiteral('abc')).toBe("'abc'");
    expect(filterLiteral("o'neil")).toBe('"o\'neil"');
    expect(() => filterLiteral(`both ' and "`)).toThrow(MlflowValidationError);
  });

  it('refuses reserved and malformed aliases', () => {
    expect(() => validateAlias('champion')).not.toThrow();
    expect(() => validateAlias('challenger_2-b')).not.toThrow();
    for (const bad of ['latest', 'Latest', 'v3', 'V12', 'has space', '', 'a'.repeat(256)]) expect(() => validateAlias(bad)).toThrow(MlflowValidationError);
  });
});
