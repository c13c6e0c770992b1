/**
 * Splits on disk, immutable and addressed by content: `<dataDir>/datasets/<digest>/`. Activities
 * pass a small {@link DatasetRef} through Temporal; the data itself never travels in a payload.
 * On several hosts, `dataDir` is a shared volume.
 *
 * Layout of one split (raw little-endian typed arrays, read back without parsing):
 *   manifest.json                       what is there, with each part's digest
 *   <part>.features.f32, <part>.labels.u8   for part in train, validation, test
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { datasetDigest } from '../ml/data/split';
import type { Dataset, DatasetSplit } from '../ml/types';

const PARTS = ['train', 'validation', 'test'] as const;
type Part = (typeof PARTS)[number];

export interface PartInfo {
  rows: number;
  positives: number;
  digest: string;
}

/** What a workflow carries instead of the data: enough to find, check and describe a split. */
export interface DatasetRef {
  /** SHA-256 over the three parts' digests: equal digests mean an identical split. */
  digest: string;
  /** Absolute directory of the split. */
  dir: string;
  featureNames: string[];
  parts: Record<Part, PartInfo>;
  /** Where the data came from, e.g. `synthetic(rows=284807,seed=42,fraudRate=0.00172)` or a CSV path. */
  source: string;
}

interface Manifest extends Omit<DatasetRef, 'dir'> {
  formatVersion: 1;
  numFeatures: number;
}

/** Thrown by {@link readSplit} when a stored split is missing, incomplete or not what its manifest says. */
export class DatasetStoreError extends Error {
  override readonly name = 'DatasetStoreError';
}

const countPositives = (labels: Uint8Array) => labels.reduce((n, y) => n + y, 0);
const bytesOf = (a: Float32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Writes a split under its digest, once: a second write of the same split finds it there and
 * writes nothing. Written to a scratch folder and renamed into place, so a crash never leaves a
 * half-written split under a real digest.
 */
export async function writeSplit(dataDir: string, split: DatasetSplit, source: string): Promise<DatasetRef> {
  const parts = Object.fromEntries(
    PARTS.map((p) => [p, { rows: split[p].numRows, positives: countPositives(split[p].labels), digest: datasetDigest(split[p]) }]),
  ) as Record<Part, PartInfo>;
  const digest = createHash('sha256')
    .update(PARTS.map((p) => parts[p].digest).join(':'))
    .digest('hex');
  const root = join(dataDir, 'datasets');
  const dir = join(root, digest);
  const ref: DatasetRef = { digest, dir, featureNames: [...split.train.featureNames], parts, source };
  if (existsSync(join(dir, 'manifest.json'))) return ref;

  const scratch = join(root, `.tmp-${randomUUID()}`);
  await mkdir(scratch, { recursive: true });
  try {
    for (const p of PARTS) {
      await writeFile(join(scratch, `${p}.features.f32`), bytesOf(split[p].features));
      await writeFile(join(scratch, `${p}.labels.u8`), bytesOf(split[p].labels));
    }
    const manifest: Manifest = { formatVersion: 1, digest, featureNames: ref.featureNames, numFeatures: split.train.numFeatures, parts, source };
    // The manifest goes last: a directory with a manifest is complete.
    await writeFile(join(scratch, 'manifest.json'), JSON.stringify(manifest, null, 2));
    try {
      await rename(scratch, dir);
    } catch (e) {
      // Another worker stored the same split first: theirs is identical by construction.
      if (!existsSync(join(dir, 'manifest.json'))) throw e;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return ref;
}

async function readPart(dir: string, part: Part, manifest: Manifest): Promise<Dataset> {
  const info = manifest.parts[part];
  const featureBytes = await readFile(join(dir, `${part}.features.f32`));
  const labelBytes = await readFile(join(dir, `${part}.labels.u8`));
  if (featureBytes.byteLength !== info.rows * manifest.numFeatures * 4 || labelBytes.byteLength !== info.rows) {
    throw new DatasetStoreError(`${dir}: ${part} has ${featureBytes.byteLength} feature bytes and ${labelBytes.byteLength} labels, manifest says ${info.rows} rows × ${manifest.numFeatures}`);
  }
  // Copy into fresh, aligned buffers (a Buffer may sit at any offset of a shared pool).
  const features = new Float32Array(info.rows * manifest.numFeatures);
  new Uint8Array(features.buffer).set(featureBytes);
  const dataset: Dataset = { features, labels: new Uint8Array(labelBytes), numRows: info.rows, numFeatures: manifest.numFeatures, featureNames: [...manifest.featureNames] };
  if (datasetDigest(dataset) !== info.digest) throw new DatasetStoreError(`${dir}: ${part} does not match its digest (the files were changed after they were written)`);
  return dataset;
}

/** Reads a stored split back, checking every part against its digest. */
export async function readSplit(ref: Pick<DatasetRef, 'dir'>): Promise<DatasetSplit> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(ref.dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    throw new DatasetStoreError(`no readable split at ${ref.dir} (${(e as Error).message}); is the data directory shared with every worker?`);
  }
  return {
    train: await readPart(ref.dir, 'train', manifest),
    validation: await readPart(ref.dir, 'validation', manifest),
    test: await readPart(ref.dir, 'test', manifest),
  };
}
