import { posix } from 'node:path';
import { MlflowValidationError } from './errors';
import type { ModelStage } from './types';

/**
 * MLflow's limits, checked on the client so a bad value fails with a message that names it
 * instead of a server 400 halfway through a batch (`mlflow/utils/validation.py`).
 */
export const MLFLOW_LIMITS = Object.freeze({
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  /** The server takes 8000 since 3.x; 5000 keeps older servers working too. */
  maxTagValueLength: 5000,
  maxExperimentNameLength: 500,
  maxAliasLength: 255,
});

// Python's `\w` is Unicode-aware; this is its JavaScript equivalent. Colons are allowed off Windows.
const KEY_PATTERN = /^[/\p{L}\p{M}\p{N}\p{Pc}.\- :]*$/u;

/** Throws unless `key` is a valid metric, param or tag key. */
export function validateKey(kind: string, key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new MlflowValidationError(kind, `expected a string, got ${typeof key}`);
  if (key === '') throw new MlflowValidationError(kind, 'must not be empty');
  if (key.length > MLFLOW_LIMITS.maxKeyLength) {
    throw new MlflowValidationError(kind, `'${key.slice(0, 40)}…' is ${key.length} characters; the limit is ${MLFLOW_LIMITS.maxKeyLength}`);
  }
  if (!KEY_PATTERN.test(key)) {
    throw new MlflowValidationError(kind, `'${key}' may only contain letters, digits, underscores, dashes, periods, spaces, colons and slashes`);
  }
  // MLflow may store keys as file names, so a key must be its own normalized path.
  if (posix.normalize(key) !== key || key.endsWith('/') || key.startsWith('/') || key === '.' || key.startsWith('..')) {
    throw new MlflowValidationError(kind, `'${key}' must be a normalized relative path (no leading or doubled '/', no '.' or '..' parts)`);
  }
}

/** Cuts a tag value to MLflow's limit without splitting a surrogate pair. */
export function truncateTagValue(value: string, max: number = MLFLOW_LIMITS.maxTagValueLength): string {
  if (value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return value.slice(0, end);
}

/** Validates a tag key and returns `{ key, value }` with the value as a string, truncated. */
export function prepareTag(key: string, value: unknown): { key: string; value: string } {
  validateKey('tag key', key);
  if (value === undefined || value === null) throw new MlflowValidationError('tag value', `tag '${key}' has no value`);
  return { key, value: truncateTagValue(String(value)) };
}

/** Params are the identity of a run, so an over-long value is refused, never silently cut. */
export function prepareParam(key: string, value: unknown): { key: string; value: string } {
  validateKey('param key', key);
  if (value === undefined || value === null) throw new MlflowValidationError('param value', `param '${key}' has no value`);
  const str = String(value);
  if (str.length > MLFLOW_LIMITS.maxParamValueLength) {
    throw new MlflowValidationError('param value', `param '${key}' is ${str.length} characters; the limit is ${MLFLOW_LIMITS.maxParamValueLength}`);
  }
  return { key, value: str };
}

/**
 * Idempotency keys go into a search filter literal, so quotes and backslashes are not allowed.
 * `<workflowId>/<model>` style keys fit.
 */
export function validateIdempotencyKey(key: string): void {
  if (!/^[\p{L}\p{N}_.\-/:@+=,#]{1,250}$/u.test(key)) {
    throw new MlflowValidationError(
      'idempotency key',
      `'${key}' must be 1-250 characters of letters, digits and _ . - / : @ + = , #`,
    );
  }
}

/** A string literal for MLflow's search filter grammar, which has no escapes: pick a quote the value lacks. */
export function filterLiteral(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new MlflowValidationError('filter value', `'${value}' contains both quote characters, which MLflow filters cannot express`);
}

/** Registered model names: non-empty, no '/' or ':' (MLflow's `_validate_model_name`). */
export function validateModelName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '') throw new MlflowValidationError('model name', 'must not be empty');
  if (name.includes('/') || name.includes(':')) throw new MlflowValidationError('model name', `'${name}' must not contain '/' or ':'`);
}

/** Aliases: word characters and dashes, ≤255 characters, not `latest` and not `v<digits>` (reserved for versions). */
export function validateAlias(alias: string): void {
  if (!/^[\p{L}\p{M}\p{N}\p{Pc}-]+$/u.test(alias) || alias.length > MLFLOW_LIMITS.maxAliasLength) {
    throw new MlflowValidationError('alias', `'${alias}' must be 1-${MLFLOW_LIMITS.maxAliasLength} letters, digits, underscores or dashes`);
  }
  if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) {
    throw new MlflowValidationError('alias', `'${alias}' is reserved ('latest' and 'v<number>' name versions)`);
  }
}

const STAGES: readonly ModelStage[] = ['None', 'Staging', 'Production', 'Archived'];

/** The canonical spelling of a registry stage (matched case-insensitively, as the server does). */
export function canonicalStage(stage: string): ModelStage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (found === undefined) throw new MlflowValidationError('stage', `'${stage}' is not one of ${STAGES.join(', ')}`);
  return found;
}

/**
 * A run-relative artifact path in canonical form ('' for the root). Rejects absolute paths and
 * '..' so a path cannot climb out of the run's artifact directory, on the server or on disk.
 */
export function normalizeArtifactPath(path: string): string {
  const trimmed = path.replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return '';
  if (trimmed.startsWith('/') || trimmed.includes('\\')) {
    throw new MlflowValidationError('artifact path', `'${path}' must be a relative path with '/' separators`);
  }
  const parts = trimmed.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new MlflowValidationError('artifact path', `'${path}' must not contain empty, '.' or '..' parts`);
  }
  return trimmed;
}
