/**
 * Errors of the serving API. Every `ApiError` becomes a JSON body `{ error, message, field? }` with
 * its status code (see plugins/errors.ts); `error` is a stable snake_case code clients may switch on.
 * Codes are never reused for another meaning.
 */

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    /** Stable machine-readable code, e.g. `invalid_request`. */
    readonly code: string,
    message: string,
    /** The request field at fault, e.g. `transactions[3].features[0]`. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown by request handlers when a request is well-formed JSON but its content is unusable (400). */
export class InvalidRequestError extends ApiError {
  override readonly name = 'InvalidRequestError';
  constructor(message: string, field: string) {
    super(400, 'invalid_request', message, field);
  }
}

/** Thrown by scoring and explaining handlers when no champion model set is loaded (503). */
export class NoChampionError extends ApiError {
  override readonly name = 'NoChampionError';
  constructor() {
    super(503, 'no_champion', 'no champion model set is loaded yet: the model store has no valid champion release (see GET /health for rejected candidates)');
  }
}

/** Thrown by the explain handler when a kernel method needs background rows and none (or ill-shaped ones) were configured (409). */
export class BackgroundUnavailableError extends ApiError {
  override readonly name = 'BackgroundUnavailableError';
  constructor(message: string) {
    super(409, 'background_unavailable', message);
  }
}

/** Thrown by the explain handler when the loaded model set does not expose its member models (501). */
export class ExplainUnavailableError extends ApiError {
  override readonly name = 'ExplainUnavailableError';
  constructor(message: string) {
    super(501, 'explain_unavailable', message);
  }
}

/** Thrown by the scorer when a loaded model fails or returns a non-finite score; the request answers 500 and counts as a slot error. */
export class ScoringError extends Error {
  override readonly name = 'ScoringError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown by `loadAuthConfig` and `buildApp` when the token configuration is missing or malformed. */
export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}
