/**
 * Reads a model set from the store: resolve the slot once, check the manifest and every file's
 * sha256, load the models with the model core's `loadModel`, check they agree on the features,
 * smoke-test them. Whatever passes is a `LoadedModelSet` ready to score; anything else throws a
 * typed error naming the file and, for the manifest, the field.
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadModel, type LoadModelOptions } from '../ml/models';
import type { FraudModel, ModelKind } from '../ml/types';
import type { LoadedModelSet, ModelSetManifest, Slot } from '../serving/contract';
import { InvalidManifestError, InvalidSlotError, ModelFileError, SlotEmptyError } from './errors';
import { MANIFEST_FILE, RELEASE_ID_PATTERN, modelJsonPath, releasesDir, sha256Hex, slotPath } from './layout';
import { parseManifest } from './schema';
import { smokeTest } from './smoke';

export interface LoadModelSetOptions {
  /** Row-major rows (in the models' feature order) for the smoke test. @default a few synthetic rows ({@link smokeFeatures}) */
  smokeFeatures?: Float32Array;
  /**
   * How tree models score (see `loadModel`). @default 'typescript': serving scores a row at a
   * time, where the TypeScript tree scorer is cheaper and steadier than libxgboost's threads.
   */
  treeScoring?: LoadModelOptions['treeScoring'];
}

/** A slot resolved to its release: `dir` is the real path, read from then on. */
export interface ResolvedSlot {
  release: string;
  dir: string;
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/**
 * Resolves a slot symlink to `releases/<id>/` once, with `realpath`: reading every file through
 * the resolved path means a concurrent swap of the slot cannot mix files of two releases.
 * Returns undefined when the slot does not exist; throws `InvalidSlotError` when it is not a
 * symlink to an existing `releases/<id>`.
 */
export async function resolveSlot(storeDir: string, slot: Slot): Promise<ResolvedSlot | undefined> {
  const link = slotPath(storeDir, slot);
  const stats = await lstat(link).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  });
  if (!stats) return undefined;
  if (!stats.isSymbolicLink()) throw new InvalidSlotError(link, slot, 'is not a symlink to releases/<id>');
  let dir: string;
  try {
    dir = await realpath(link);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ELOOP', 'ENOTDIR')) throw new InvalidSlotError(link, slot, `points to a release that does not exist (${(error as Error).message})`);
    throw error;
  }
  const release = basename(dir);
  const releases = await realpath(releasesDir(storeDir)).catch(() => undefined);
  if (dirname(dir) !== releases || !RELEASE_ID_PATTERN.test(release)) {
    throw new InvalidSlotError(link, slot, `points to ${dir}, which is not a release directory of this store`);
  }
  return { release, dir };
}

async function readMemberFile(file: string, kind: ModelKind): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'EISDIR', 'ENOTDIR')) throw new ModelFileError(file, kind, 'missing', 'file is missing', { cause: error });
    throw error;
  }
}

/**
 * Reads and checks `<dir>/manifest.json`; with `expectedId`, its `id` must equal it (the
 * directory name). Throws `InvalidManifestError`.
 */
export async function readManifest(dir: string, expectedId?: string): Promise<ModelSetManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw new InvalidManifestError(file, undefined, 'is missing', { cause: error });
    throw error;
  }
  const manifest = parseManifest(text, file);
  if (expectedId !== undefined && manifest.id !== expectedId) {
    throw new InvalidManifestError(file, 'id', `is ${manifest.id} but the release directory is ${expectedId}`);
  }
  return manifest;
}

/**
 * A `LoadedModelSet` over already loaded models. `predictEnsemble` is Σ w_k·p_k / Σ w_k over the
 * members with a positive weight (a kind missing from `weights` weighs 0).
 */
export function createLoadedModelSet(slot: Slot, manifest: ModelSetManifest, models: ReadonlyMap<ModelKind, FraudModel>, loadedAt = new Date().toISOString()): LoadedModelSet {
  const first = models.values().next().value;
  if (!first) throw new RangeError('a model set needs at least one model');
  const featureNames = Object.freeze([...first.featureNames]);
  const weighted = [...models].map(([kind, model]) => ({ model, weight: manifest.weights[kind] ?? 0 })).filter((m) => m.weight > 0);
  const weightSum = weighted.reduce((sum, m) => sum + m.weight, 0);
  const checkShape = (features: Float32Array, numRows: number): void => {
    if (!Number.isInteger(numRows) || numRows < 0 || features.length !== numRows * featureNames.length) {
      throw new RangeError(`expected ${numRows} rows × ${featureNames.length} features = ${numRows * featureNames.length} values, got ${features.length}`);
    }
  };
  const members: ReadonlyMap<ModelKind, FraudModel> = new Map(models);
  return {
    slot,
    manifest,
    featureNames,
    models: members,
    loadedAt,
    predictMembers(features, numRows) {
      checkShape(features, numRows);
      const out = new Map<ModelKind, Float32Array>();
      for (const [kind, model] of models) out.set(kind, model.predictProba(features, numRows));
      return out;
    },
    predictEnsemble(features, numRows) {
      checkShape(features, numRows);
      // Accumulate in float64, round once at the end.
      const sum = new Float64Array(numRows);
      for (const { model, weight } of weighted) {
        const p = model.predictProba(features, numRows);
        for (let i = 0; i < numRows; i++) sum[i]! += weight * p[i]!;
      }
      const out = new Float32Array(numRows);
      for (let i = 0; i < numRows; i++) out[i] = sum[i]! / weightSum;
      return out;
    },
  };
}

/**
 * Loads the release in `dir` as `slot`: manifest (with `expectedId` = the directory name when
 * given), sha256 of every `<kind>/model.json`, `loadModel`, equal feature names, smoke test.
 * The writer runs this on its scratch directory before making a release visible, so what the
 * writer accepts is exactly what the loader accepts.
 */
export async function loadRelease(dir: string, slot: Slot, options: LoadModelSetOptions & { expectedId?: string } = {}): Promise<LoadedModelSet> {
  const manifest = await readManifest(dir, options.expectedId);
  const models = new Map<ModelKind, FraudModel>();
  let reference: { kind: ModelKind; names: readonly string[] } | undefined;
  for (const member of manifest.members) {
    const file = modelJsonPath(dir, member.kind);
    const bytes = await readMemberFile(file, member.kind);
    const digest = sha256Hex(bytes);
    if (digest !== member.sha256) throw new ModelFileError(file, member.kind, 'checksum', `has sha256 ${digest}, but the manifest says ${member.sha256}`);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (cause) {
      throw new ModelFileError(file, member.kind, 'corrupt', `is not valid JSON (${(cause as Error).message})`, { cause });
    }
    let model: FraudModel;
    try {
      model = await loadModel(json, { treeScoring: options.treeScoring ?? 'typescript' });
    } catch (cause) {
      throw new ModelFileError(file, member.kind, 'load', `could not be loaded: ${(cause as Error).message}`, { cause });
    }
    if (model.kind !== member.kind) throw new ModelFileError(file, member.kind, 'kind', `file holds a ${model.kind} model`);
    if (!reference) reference = { kind: member.kind, names: model.featureNames };
    else if (model.featureNames.length !== reference.names.length || model.featureNames.some((name, i) => name !== reference!.names[i])) {
      throw new ModelFileError(file, member.kind, 'feature-names', `expects features [${model.featureNames.join(', ')}] but ${reference.kind} expects [${reference.names.join(', ')}]`);
    }
    models.set(member.kind, model);
  }
  const set = createLoadedModelSet(slot, manifest, models);
  smokeTest(set, (kind) => modelJsonPath(dir, kind), join(dir, MANIFEST_FILE), options.smokeFeatures);
  return set;
}

/**
 * Loads the model set a slot points to. Throws `SlotEmptyError` when the slot does not exist,
 * `InvalidSlotError`, `InvalidManifestError`, `ModelFileError` or `SmokeTestError` when what it
 * points to cannot serve.
 */
export async function loadModelSet(storeDir: string, slot: Slot, options: LoadModelSetOptions = {}): Promise<LoadedModelSet> {
  const resolved = await resolveSlot(storeDir, slot);
  if (!resolved) throw new SlotEmptyError(slotPath(storeDir, slot), slot);
  return loadRelease(resolved.dir, slot, { ...options, expectedId: resolved.release });
}
