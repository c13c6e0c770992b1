/**
 * Writes the model store: releases, slots, routing. Used by the canaryDeployment workflow's
 * activities in the Temporal worker, which may retry any call after a crash or a timeout, so:
 *
 * - every change is atomic (scratch entry + fsync + rename) and readers never see half of one;
 * - every call is idempotent: `writeRelease` of the same set finds the release it wrote before,
 *   `pointSlot`/`writeRouting` just write the same state again, `promoteCanary` completes a
 *   promotion that a crash interrupted;
 * - a release is validated exactly as the loader will (same code) before it becomes visible.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { onnx } from 'onnx-proto';
import { silentLogger, type Logger } from '../logger';
import type { ModelKind } from '../ml/types';
import { SLOTS, type ModelSetManifest, type ModelSetMember, type Slot, type TrafficRouting } from '../serving/contract';
import { InvalidRoutingError, InvalidSlotError, ModelFileError, ReleaseNotFoundError, SlotEmptyError } from './errors';
import { fsyncPath, removeSymlink, swapSymlink, writeFileAtomic, writeFileDurable } from './fs-atomic';
import {
  MANIFEST_FILE,
  RELEASE_ID_PATTERN,
  TEMP_PREFIX,
  computeReleaseId,
  kindOrder,
  modelJsonPath,
  modelOnnxPath,
  releaseDir,
  releasesDir,
  routingPath,
  sha256Hex,
  slotPath,
  slotTarget,
} from './layout';
import { loadRelease, readManifest, resolveSlot } from './loader';
import { SCHEMA_VERSION, checkManifest, checkRouting, parseRouting } from './schema';

/** The seed system's ensemble weights (`register_ensemble`): the default of `writeRelease`. */
export const DEFAULT_ENSEMBLE_WEIGHTS: Readonly<Record<ModelKind, number>> = Object.freeze({
  xgboost: 0.5,
  random_forest: 0.3,
  neural_network: 0.15,
  isolation_forest: 0.05,
});

export interface ReleaseMemberInput {
  /** The member as registered in MLflow; its `sha256` is computed from `modelJson`. */
  member: Omit<ModelSetMember, 'sha256'>;
  /** The saved model (`JSON.stringify(model.toJSON())`), stored and hashed byte for byte. */
  modelJson: Buffer | string;
  /** The same model as ONNX, stored next to it when given. */
  onnx?: Uint8Array;
}

export interface WriteReleaseInput {
  members: ReleaseMemberInput[];
  /** Ensemble weights by kind; kinds without a weight weigh 0. @default DEFAULT_ENSEMBLE_WEIGHTS */
  weights?: Partial<Record<ModelKind, number>>;
  /** Ensemble decision threshold on the weighted score. */
  threshold: number;
}

export interface WriteReleaseOptions {
  /** Rows (row-major, the models' feature order) for the smoke test. @default a few synthetic rows */
  smokeFeatures?: Float32Array;
  /** @default a silent logger */
  logger?: Logger;
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** Whether `releases/<id>` holds a complete, intact release: a checked manifest and matching file hashes. */
async function isIntactRelease(dir: string, id: string): Promise<ModelSetManifest | undefined> {
  try {
    const manifest = await readManifest(dir, id);
    for (const member of manifest.members) {
      if (sha256Hex(await readFile(modelJsonPath(dir, member.kind))) !== member.sha256) return undefined;
    }
    return manifest;
  } catch {
    return undefined;
  }
}

function checkOnnx(file: string, kind: ModelKind, bytes: Uint8Array): void {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new ModelFileError(file, kind, 'corrupt', `is not an ONNX model (${(cause as Error).message})`, { cause });
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw new ModelFileError(file, kind, 'corrupt', 'is an ONNX model without a graph');
}

/** Keys whose value is undefined are dropped, so the manifest in memory equals the one read back. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Writes a model set as a new release and returns its manifest; writing the same set again
 * returns the existing release's manifest (its original `createdAt`) without touching it.
 *
 * Files go to `releases/.tmp-<random>/` first; the release is checked exactly as `loadModelSet`
 * will check it (manifest schema, sha256, `loadModel` of every member, equal features, smoke test),
 * fsynced, and only then renamed to `releases/<id>/`. A crash at any point leaves at most a
 * scratch directory, which readers ignore and `pruneReleases` removes.
 */
export async function writeRelease(storeDir: string, input: WriteReleaseInput, options: WriteReleaseOptions = {}): Promise<ModelSetManifest> {
  const logger = options.logger ?? silentLogger;
  const releases = releasesDir(storeDir);
  await mkdir(releases, { recursive: true });
  const tempDir = join(releases, `${TEMP_PREFIX}${randomSuffix()}`);

  const files = [...input.members]
    .sort((a, b) => kindOrder(a.member.kind) - kindOrder(b.member.kind))
    .map(({ member, modelJson, onnx: onnxBytes }) => {
      const bytes = typeof modelJson === 'string' ? Buffer.from(modelJson, 'utf8') : modelJson;
      return { member: withoutUndefined({ ...member, sha256: sha256Hex(bytes) }) as ModelSetMember, bytes, onnx: onnxBytes };
    });
  const content = {
    schemaVersion: SCHEMA_VERSION,
    members: files.map((f) => f.member),
    weights: withoutUndefined({ ...(input.weights ?? DEFAULT_ENSEMBLE_WEIGHTS) }),
    threshold: input.threshold,
  } as const;
  const id = computeReleaseId(content);
  // The same schema as the reader's: refuse now what the loader would refuse later.
  const manifest = checkManifest({ ...content, id, createdAt: new Date().toISOString() }, join(tempDir, MANIFEST_FILE));
  const finalDir = releaseDir(storeDir, id);
  const log = logger.child({ module: 'model-store', release: id });

  const existing = await isIntactRelease(finalDir, id);
  if (existing) {
    log.info('release already written; reusing it');
    return existing;
  }

  try {
    await mkdir(tempDir);
    for (const { member, bytes, onnx: onnxBytes } of files) {
      await mkdir(join(tempDir, member.kind));
      await writeFileDurable(modelJsonPath(tempDir, member.kind), bytes);
      if (onnxBytes) {
        checkOnnx(modelOnnxPath(tempDir, member.kind), member.kind, onnxBytes);
        await writeFileDurable(modelOnnxPath(tempDir, member.kind), onnxBytes);
      }
      await fsyncPath(join(tempDir, member.kind));
    }
    await writeFileDurable(join(tempDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await fsyncPath(tempDir);
    // Loaded from disk, through the loader: what passes here is what will serve.
    await loadRelease(tempDir, 'canary', { smokeFeatures: options.smokeFeatures });
    await installRelease(tempDir, finalDir, id, log);
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true });
    throw error;
  }
  await fsyncPath(releases);
  log.info({ members: manifest.members.map((m) => `${m.kind}@${m.version}`) }, 'release written');
  return (await isIntactRelease(finalDir, id)) ?? manifest;
}

/** Renames the checked scratch directory to `releases/<id>`, coping with a concurrent or earlier writer of the same id. */
async function installRelease(tempDir: string, finalDir: string, id: string, log: Logger): Promise<void> {
  try {
    await rename(tempDir, finalDir);
    return;
  } catch (error) {
    if (!isErrno(error, 'ENOTEMPTY', 'EEXIST')) throw error;
  }
  // Someone wrote the same release meanwhile (a retry racing the original attempt): theirs is as good.
  if (await isIntactRelease(finalDir, id)) {
    await rm(tempDir, { recursive: true, force: true });
    return;
  }
  // A damaged directory under our id (a restored backup, a disk error): move it aside, put ours in place.
  const aside = join(dirname(finalDir), `${TEMP_PREFIX}damaged-${id}-${randomSuffix()}`);
  log.warn({ aside }, 'replacing a damaged release directory with the same id');
  await rename(finalDir, aside);
  await rename(tempDir, finalDir);
  await rm(aside, { recursive: true, force: true });
}

async function requireRelease(storeDir: string, release: string): Promise<ModelSetManifest> {
  const dir = releaseDir(storeDir, release);
  if (!RELEASE_ID_PATTERN.test(release)) throw new ReleaseNotFoundError(dir, release, 'is not a release id (16 lowercase hex digits)');
  try {
    if (!(await stat(dir)).isDirectory()) throw new ReleaseNotFoundError(dir, release, 'is not a directory');
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw new ReleaseNotFoundError(dir, release);
    throw error;
  }
  return readManifest(dir, release);
}

/**
 * Points `slot` at `releases/<release>` with an atomic symlink swap, or removes the slot when
 * `release` is null. The release must exist and have a valid manifest (`ReleaseNotFoundError`,
 * `InvalidManifestError`); its models were checked when it was written and will be again by the
 * loader.
 */
export async function pointSlot(storeDir: string, slot: Slot, release: string | null): Promise<void> {
  if (!SLOTS.includes(slot)) throw new TypeError(`unknown slot ${JSON.stringify(slot)}; expected one of ${SLOTS.join(', ')}`);
  if (release === null) {
    await removeSymlink(slotPath(storeDir, slot));
    return;
  }
  await requireRelease(storeDir, release);
  await swapSymlink(slotPath(storeDir, slot), slotTarget(release));
}

/** The release a slot points to, or null when the slot does not exist. Throws `InvalidSlotError` for a broken slot. */
export async function readSlot(storeDir: string, slot: Slot): Promise<string | null> {
  return (await resolveSlot(storeDir, slot))?.release ?? null;
}

/** What `writeRouting` takes: the routing without the fields it fills in. */
export type RoutingUpdate = Omit<TrafficRouting, 'schemaVersion' | 'updatedAt'> & {
  /** @default now */
  updatedAt?: string;
};

/**
 * Writes `traffic_routing.json` atomically (temp file + fsync + rename) after checking it against
 * the schema and that the releases it names exist; throws `InvalidRoutingError` naming the field.
 */
export async function writeRouting(storeDir: string, update: RoutingUpdate): Promise<TrafficRouting> {
  const file = routingPath(storeDir);
  const routing = checkRouting({ schemaVersion: SCHEMA_VERSION, ...update, updatedAt: update.updatedAt ?? new Date().toISOString() }, file);
  for (const field of ['championRelease', 'canaryRelease'] as const) {
    const release = routing[field];
    if (release === null) continue;
    try {
      await requireRelease(storeDir, release);
    } catch (cause) {
      throw new InvalidRoutingError(file, field, `names release ${release}, which cannot be used: ${(cause as Error).message}`, { cause });
    }
  }
  await mkdir(storeDir, { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(routing, null, 2)}\n`);
  return routing;
}

/** The routing file, or undefined when there is none; throws `InvalidRoutingError` when it is invalid. */
export async function readRouting(storeDir: string): Promise<TrafficRouting | undefined> {
  const file = routingPath(storeDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  return parseRouting(text, file);
}

export interface PromoteCanaryOptions {
  /**
   * The release expected in the canary slot. With it, a call whose promotion already completed
   * (a retried activity) succeeds instead of failing for want of a canary, and a canary that is
   * some other release is refused (`InvalidSlotError`).
   */
  release?: string;
  /** Recorded in the routing file. @default the routing file's current deploymentId */
  deploymentId?: string | null;
}

/**
 * Makes the canary's release the champion: (1) champion → canary's release, (2) routing to 0 %
 * with `championRelease` = that release and no canary, (3) canary slot removed. Every
 * intermediate state is servable — after (1) both slots serve the same release; after (2) the
 * canary gets no traffic — and calling again after a crash completes the promotion.
 * Throws `SlotEmptyError` when there is no canary (and no completed promotion of `release`).
 */
export async function promoteCanary(storeDir: string, options: PromoteCanaryOptions = {}): Promise<TrafficRouting> {
  const previous = await readRouting(storeDir).catch(() => undefined);
  const deploymentId = options.deploymentId !== undefined ? options.deploymentId : (previous?.deploymentId ?? null);
  const canary = await resolveSlot(storeDir, 'canary');
  let release: string;
  if (canary) {
    if (options.release !== undefined && canary.release !== options.release) {
      throw new InvalidSlotError(slotPath(storeDir, 'canary'), 'canary', `points to ${canary.release}, not to ${options.release}, the release to promote`);
    }
    release = canary.release;
    await pointSlot(storeDir, 'champion', release);
  } else {
    const champion = await readSlot(storeDir, 'champion');
    if (options.release === undefined || champion !== options.release) throw new SlotEmptyError(slotPath(storeDir, 'canary'), 'canary');
    release = champion; // promoted already; make sure the routing step happened too
  }
  const routing = await writeRouting(storeDir, { canaryPercent: 0, championRelease: release, canaryRelease: null, deploymentId });
  await pointSlot(storeDir, 'canary', null);
  return routing;
}

export interface PruneOptions {
  /** Scratch entries (`.tmp-*`) younger than this may belong to a writer still running and are kept. @default 3_600_000 (1 hour) */
  tempMaxAgeMs?: number;
  /** @default a silent logger */
  logger?: Logger;
}

export interface PruneResult {
  /** Release ids deleted. */
  removed: string[];
  /** Release ids left, newest first. */
  kept: string[];
  /** Scratch entries deleted (names relative to the store). */
  removedTemp: string[];
}

/** Release ids a slot or the routing file refers to, even when broken: those are never deleted. */
async function referencedReleases(storeDir: string): Promise<Set<string>> {
  const referenced = new Set<string>();
  for (const slot of SLOTS) {
    try {
      referenced.add(basename(await readlink(slotPath(storeDir, slot))));
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'EINVAL')) throw error;
    }
  }
  const routing = await readRouting(storeDir).catch(() => undefined);
  if (routing?.championRelease) referenced.add(routing.championRelease);
  if (routing?.canaryRelease) referenced.add(routing.canaryRelease);
  return referenced;
}

/**
 * Deletes all but the `keep` newest releases (by manifest `createdAt`), never one that a slot or
 * the routing file refers to, plus scratch entries older than `tempMaxAgeMs`. A release is first
 * renamed to a scratch name, so it disappears whole. Not meant to run concurrently with
 * `pointSlot` from another process (run both from the same workflow).
 */
export async function pruneReleases(storeDir: string, keep: number, options: PruneOptions = {}): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`keep must be a non-negative integer, got ${keep}`);
  const tempMaxAgeMs = options.tempMaxAgeMs ?? 3_600_000;
  const logger = (options.logger ?? silentLogger).child({ module: 'model-store' });
  const releases = releasesDir(storeDir);
  const referenced = await referencedReleases(storeDir);
  const result: PruneResult = { removed: [], kept: [], removedTemp: [] };

  const entries = await readdir(releases).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return [] as string[];
    throw error;
  });
  const dated: { id: string; at: number }[] = [];
  for (const id of entries.filter((e) => RELEASE_ID_PATTERN.test(e))) {
    const dir = releaseDir(storeDir, id);
    const manifest = await readManifest(dir, id).catch(() => undefined);
    dated.push({ id, at: manifest ? Date.parse(manifest.createdAt) : (await stat(dir)).mtimeMs });
  }
  dated.sort((a, b) => b.at - a.at);
  for (const [index, { id }] of dated.entries()) {
    if (index < keep || referenced.has(id)) {
      result.kept.push(id);
      continue;
    }
    const aside = join(releases, `${TEMP_PREFIX}pruned-${id}-${randomSuffix()}`);
    await rename(releaseDir(storeDir, id), aside);
    await rm(aside, { recursive: true, force: true });
    result.removed.push(id);
  }

  const now = Date.now();
  const scratch = [
    ...entries.filter((e) => e.startsWith(TEMP_PREFIX)).map((e) => join(releases, e)),
    ...(await readdir(storeDir)).filter((e) => e.startsWith(TEMP_PREFIX)).map((e) => join(storeDir, e)),
  ];
  for (const path of scratch) {
    // lstat: a scratch symlink's own age, not its target's.
    const stats = await lstat(path).catch(() => undefined);
    if (!stats || now - stats.mtimeMs < tempMaxAgeMs) continue;
    await rm(path, { recursive: true, force: true });
    result.removedTemp.push(path.slice(storeDir.length + 1));
  }
  if (result.removed.length > 0 || result.removedTemp.length > 0) logger.info(result, 'pruned the model store');
  return result;
}
