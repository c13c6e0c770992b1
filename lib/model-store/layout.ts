/**
 * Where things are in a model store, and how a release id is derived. See the layout in
 * `lib/serving/contract.ts`.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { MODEL_KINDS, type ModelKind } from '../ml/types';
import type { ModelSetManifest, Slot } from '../serving/contract';

export const RELEASES_DIR = 'releases';
export const MANIFEST_FILE = 'manifest.json';
export const ROUTING_FILE = 'traffic_routing.json';
export const MODEL_JSON_FILE = 'model.json';
export const MODEL_ONNX_FILE = 'model.onnx';
/**
 * Prefix of every scratch entry (a release being written, a symlink or routing file about to be
 * renamed into place). Readers never look at these, and a release id can never start with it.
 */
export const TEMP_PREFIX = '.tmp-';

/** 16 lowercase hex digits: the first 64 bits of the content hash. */
export const RELEASE_ID_PATTERN = /^[0-9a-f]{16}$/;

export const releasesDir = (storeDir: string): string => join(storeDir, RELEASES_DIR);
export const releaseDir = (storeDir: string, release: string): string => join(storeDir, RELEASES_DIR, release);
export const slotPath = (storeDir: string, slot: Slot): string => join(storeDir, slot);
export const routingPath = (storeDir: string): string => join(storeDir, ROUTING_FILE);
export const modelJsonPath = (dir: string, kind: ModelKind): string => join(dir, kind, MODEL_JSON_FILE);
export const modelOnnxPath = (dir: string, kind: ModelKind): string => join(dir, kind, MODEL_ONNX_FILE);
/** What a slot symlink contains: relative, so the store can be moved or mounted elsewhere. */
export const slotTarget = (release: string): string => `${RELEASES_DIR}/${release}`;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Sort order of members in a manifest, so that equal sets serialise (and hash) equally. */
export function kindOrder(kind: ModelKind): number {
  return MODEL_KINDS.indexOf(kind);
}

/** JSON with object keys sorted at every level: the canonical form that is hashed. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The release id of a manifest: the first 16 hex digits of the sha256 of its content without `id`
 * and `createdAt` — the members (kinds, registered models, versions, runs, file sha256s,
 * thresholds), the weights and the threshold. Writing the same set twice gives the same id, so a
 * retried activity finds its own release instead of making a second one; changing only the
 * weights or the threshold makes a new release, since it scores differently.
 */
export function computeReleaseId(manifest: Pick<ModelSetManifest, 'schemaVersion' | 'members' | 'weights' | 'threshold'>): string {
  const members = [...manifest.members].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind));
  const content = { schemaVersion: manifest.schemaVersion, members, weights: manifest.weights, threshold: manifest.threshold };
  return sha256Hex(canonicalJson(content)).slice(0, 16);
}
