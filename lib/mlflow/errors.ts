/**
 * Every error the MLflow client throws. Each class has a stable `name` (logs and Temporal
 * failure types match on it, so never rename one) and, when it wraps another error, a `cause`.
 *
 * `retryable` tells callers such as Temporal activities whether trying the same call again later
 * can succeed: a 5xx or an unreachable server can, a 400 or a bad model URI cannot.
 */

/** Base class of the errors below; never thrown itself. */
export abstract class MlflowError extends Error {
  abstract override readonly name: string;
  /** Whether repeating the same call later may succeed. */
  abstract readonly retryable: boolean;
}

/**
 * Statuses on which the client retries, and on which a caller may retry later: 408, 429 and 5xx,
 * except 501 (the server lacks the feature) and 505, which no retry will change.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

/**
 * Thrown by every {@link MlflowClient} call when the server answers with an error status
 * (after retries, for the retryable ones).
 */
export class MlflowApiError extends MlflowError {
  override readonly name = 'MlflowApiError';
  /** MLflow's `error_code` (`RESOURCE_DOES_NOT_EXIST`, …), or `HTTP_<status>` when the body had none. */
  readonly errorCode: string;
  readonly status: number;
  readonly method: string;
  /** Request path without the query string, which may carry names or tokens. */
  readonly endpoint: string;
  /** The server's own message, or the start of a non-JSON body. */
  readonly serverMessage: string;
  /** Set for answers that a retry will not change although the status says so (a 503 from `--no-serve-artifacts`). */
  readonly permanent: boolean;
  override readonly cause?: unknown;

  constructor(args: {
    errorCode: string;
    status: number;
    method: string;
    endpoint: string;
    serverMessage: string;
    permanent?: boolean;
    cause?: unknown;
  }) {
    super(`MLflow ${args.method} ${args.endpoint} failed with HTTP ${args.status} ${args.errorCode}: ${args.serverMessage}`);
    this.errorCode = args.errorCode;
    this.status = args.status;
    this.method = args.method;
    this.endpoint = args.endpoint;
    this.serverMessage = args.serverMessage;
    this.permanent = args.permanent ?? false;
    if (args.cause !== undefined) this.cause = args.cause;
  }

  get retryable(): boolean {
    return isRetryableStatus(this.status) && !this.permanent;
  }

  /** True for a 404 `RESOURCE_DOES_NOT_EXIST` (or any 404). */
  get isNotFound(): boolean {
    return this.status === 404 || this.errorCode === 'RESOURCE_DOES_NOT_EXIST';
  }

  /** True for MLflow's duplicate-name answer, which is a 400 (not a 409). */
  get isAlreadyExists(): boolean {
    return this.errorCode === 'RESOURCE_ALREADY_EXISTS' || this.errorCode === 'ALREADY_EXISTS';
  }
}

/** Thrown by every {@link MlflowClient} call when the server cannot be reached (refused, reset, timed out) after all retries. */
export class MlflowConnectionError extends MlflowError {
  override readonly name = 'MlflowConnectionError';
  readonly retryable = true;
  /** The tracking URI, without credentials. */
  readonly uri: string;
  readonly method: string;
  readonly endpoint: string;
  readonly attempts: number;
  /** Node's error code (`ECONNREFUSED`, `ETIMEDOUT`, …) when there was one. */
  readonly code?: string;
  override readonly cause?: unknown;

  constructor(args: { uri: string; method: string; endpoint: string; attempts: number; code?: string; detail: string; cause?: unknown }) {
    super(
      `MLflow server at ${args.uri} is unreachable (${args.code ?? args.detail}) after ${args.attempts} attempt(s): ` +
        `${args.method} ${args.endpoint}. Is it running and is MLFLOW_TRACKING_URI right?`,
    );
    this.uri = args.uri;
    this.method = args.method;
    this.endpoint = args.endpoint;
    this.attempts = args.attempts;
    if (args.code !== undefined) this.code = args.code;
    if (args.cause !== undefined) this.cause = args.cause;
  }
}

/**
 * Thrown by `registry.createModelVersion` / `registry.waitForModelVersion` when a version ends in
 * `FAILED_REGISTRATION` (`reason: 'failed'`, not retryable) or is still pending when the wait
 * times out (`reason: 'timeout'`, retryable).
 */
export class MlflowRegistrationError extends MlflowError {
  override readonly name = 'MlflowRegistrationError';
  readonly reason: 'failed' | 'timeout';
  readonly modelName: string;
  readonly version: string;
  /** The last status seen (`FAILED_REGISTRATION`, `PENDING_REGISTRATION`). */
  readonly status: string;

  constructor(args: { reason: 'failed' | 'timeout'; modelName: string; version: string; status: string; detail: string }) {
    super(
      args.reason === 'failed'
        ? `Model version ${args.modelName}/${args.version} failed to register: ${args.detail}`
        : `Model version ${args.modelName}/${args.version} is still ${args.status} after ${args.detail}`,
    );
    this.reason = args.reason;
    this.modelName = args.modelName;
    this.version = args.version;
    this.status = args.status;
  }

  get retryable(): boolean {
    return this.reason === 'timeout';
  }
}

/** Thrown by `parseModelUri` and `resolveModelUri` when a `models:/` or `runs:/` URI is malformed or points at nothing. */
export class InvalidModelUriError extends MlflowError {
  override readonly name = 'InvalidModelUriError';
  readonly retryable = false;
  readonly uri: string;
  override readonly cause?: unknown;

  constructor(uri: string, reason: string, cause?: unknown) {
    super(`Invalid model URI '${uri}': ${reason}`);
    this.uri = uri;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Thrown by the artifact calls when an artifact URI is not served by the MLflow artifact proxy
 * (`mlflow-artifacts:/…`), e.g. a local path left by an experiment created with
 * `--no-serve-artifacts`: this client only talks HTTP to the tracking server.
 */
export class UnsupportedArtifactUriError extends MlflowError {
  override readonly name = 'UnsupportedArtifactUriError';
  readonly retryable = false;
  readonly artifactUri: string;

  constructor(artifactUri: string, context: string) {
    super(
      `${context}: artifact URI '${artifactUri}' is not an mlflow-artifacts:/ URI. This client reaches artifacts only ` +
        'through the tracking server\'s artifact proxy; run `mlflow server --serve-artifacts` and use an experiment ' +
        'whose artifact_location is mlflow-artifacts:/ (create a new experiment if this one predates the proxy).',
    );
    this.artifactUri = artifactUri;
  }
}

/**
 * Thrown by the client, before any request is sent, when an argument breaks MLflow's rules
 * (metric/param/tag keys, batch contents, alias names, idempotency keys, artifact paths), so the
 * caller sees which value is wrong instead of a server 400 halfway through a batch.
 */
export class MlflowValidationError extends MlflowError {
  override readonly name = 'MlflowValidationError';
  readonly retryable = false;
  /** What was being validated, e.g. `metric key`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`Invalid ${field}: ${message}`);
    this.field = field;
  }
}

/** Whether an error thrown by this client may go away if the same call is repeated later. */
export function isRetryableMlflowError(err: unknown): boolean {
  return err instanceof MlflowError && err.retryable;
}
