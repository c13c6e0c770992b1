/**
 * Every error the model store throws on purpose. Each names the file it is about (absolute path)
 * and has a stable `name` (logs and Temporal failure types match on it, so never rename one).
 *
 * All of them describe the store's *content* (a bad manifest, a corrupt model, a missing slot):
 * repeating the same call gives the same answer, so Temporal activities should turn them into
 * non-retryable failures. Plain Node errors (`EIO`, `ENOSPC`, …) are not wrapped and stay retryable.
 */
import type { ModelKind } from '../ml/types';
import type { Slot } from '../serving/contract';

/** Base class of the errors below; never thrown itself. */
export abstract class ModelStoreError extends Error {
  abstract override readonly name: string;
  /** Absolute path of the file or directory the error is about. */
  abstract readonly file: string;
}

/** `members[0].sha256` from TypeBox's `/members/0/sha256`; the empty path is the whole document. */
export function fieldOfPath(path: string): string | undefined {
  if (path === '' || path === '/') return undefined;
  return path
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '');
}

function describe(file: string, field: string | undefined, problem: string): string {
  return field === undefined ? `${file}: ${problem}` : `${file}: field ${field}: ${problem}`;
}

/**
 * Thrown by `writeRelease` (for the manifest it is about to write) and by `loadModelSet`,
 * `pointSlot` and `pruneReleases` (for one on disk) when `manifest.json` is missing, is not JSON,
 * or does not match the schema (`schemaVersion` 1, field types, unique member kinds, positive
 * weight on the members, an `id` equal to the content hash and to the directory name).
 */
export class InvalidManifestError extends ModelStoreError {
  override readonly name = 'InvalidManifestError';
  constructor(
    readonly file: string,
    /** The offending field, `members[1].sha256` style; undefined when the whole file is bad. */
    readonly field: string | undefined,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(describe(file, field, problem), options);
  }
}

/**
 * Thrown by `writeRouting` (before writing) and by `readRouting` when `traffic_routing.json` is
 * not JSON, does not match the schema, has a canary share without a canary release, or names a
 * release that does not exist (`writeRouting` only).
 */
export class InvalidRoutingError extends ModelStoreError {
  override readonly name = 'InvalidRoutingError';
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(describe(file, field, problem), options);
  }
}

/** What was wrong with a member's model file. */
export type ModelFileProblem =
  /** `<kind>/model.json` (or the ONNX file) is not there. */
  | 'missing'
  /** Its sha256 differs from the manifest's. */
  | 'checksum'
  /** It is not JSON (truncated, overwritten) or not a valid ONNX protobuf. */
  | 'corrupt'
  /** It parsed but `loadModel` refused it. */
  | 'load'
  /** The saved model is of another kind than the manifest member. */
  | 'kind'
  /** Its feature names differ from the other members'. */
  | 'feature-names';

/**
 * Thrown by `writeRelease` and `loadModelSet` when a member's `<kind>/model.json` (or
 * `model.onnx`) is missing, does not match its sha256, is not JSON, cannot be loaded by
 * `loadModel`, is of another kind than the member, or has other feature names than the rest.
 */
export class ModelFileError extends ModelStoreError {
  override readonly name = 'ModelFileError';
  constructor(
    readonly file: string,
    readonly kind: ModelKind,
    readonly problem: ModelFileProblem,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${kind} model ${detail}`, options);
  }
}

/**
 * Thrown by `writeRelease` and `loadModelSet` when a loaded model (or the weighted ensemble)
 * scores the synthetic smoke-test rows with a probability that is not finite or outside [0, 1],
 * or throws while scoring them.
 */
export class SmokeTestError extends ModelStoreError {
  override readonly name = 'SmokeTestError';
  constructor(
    readonly file: string,
    /** The member that failed; undefined when the ensemble did. */
    readonly kind: ModelKind | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: smoke test of the ${kind ?? 'ensemble'} failed: ${detail}`, options);
  }
}

/** Thrown by `loadModelSet` when the slot does not exist, and by `promoteCanary` when there is no canary to promote. */
export class SlotEmptyError extends ModelStoreError {
  override readonly name = 'SlotEmptyError';
  constructor(
    readonly file: string,
    readonly slot: Slot,
  ) {
    super(`${file}: the ${slot} slot is empty`);
  }
}

/**
 * Thrown by `loadModelSet` and the slot functions when a slot is not a symlink to
 * `releases/<id>` (a plain directory, a link elsewhere, a dangling link).
 */
export class InvalidSlotError extends ModelStoreError {
  override readonly name = 'InvalidSlotError';
  constructor(
    readonly file: string,
    readonly slot: Slot,
    detail: string,
  ) {
    super(`${file}: the ${slot} slot ${detail}`);
  }
}

/**
 * Thrown by `pointSlot`, `writeRouting` and `promoteCanary` when a release id is malformed
 * (ids are 16 lowercase hex digits, so a half-written `.tmp-*` directory can never be named) or
 * `releases/<id>/` does not exist.
 */
export class ReleaseNotFoundError extends ModelStoreError {
  override readonly name = 'ReleaseNotFoundError';
  constructor(
    readonly file: string,
    readonly release: string,
    detail = 'does not exist',
  ) {
    super(`${file}: release ${JSON.stringify(release)} ${detail}`);
  }
}
