import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { trainModel } from '../../lib/ml/models';
import { MODEL_KINDS, type Dataset, type FraudModel, type ModelKind } from '../../lib/ml/types';
import {
  DEFAULT_ENSEMBLE_WEIGHTS,
  InvalidManifestError,
  InvalidRoutingError,
  InvalidSlotError,
  ModelFileError,
  ReleaseNotFoundError,
  SlotEmptyError,
  computeReleaseId,
  loadModelSet,
  pointSlot,
  promoteCanary,
  pruneReleases,
  readRouting,
  readSlot,
  sha256Hex,
  writeRelease,
  writeRouting,
  type WriteReleaseInput,
} from '../../lib/model-store';
import type { ModelSetManifest } from '../../lib/serving/contract';

/** Tiny models of every kind: enough to load and score, a few seconds to train. */
const SMALL: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 8, maxDepth: 3 },
  random_forest: { nTrees: 8, maxDepth: 4 },
  neural_network: { epochs: 2, hiddenLayers: [8], patience: 0 },
  isolation_forest: { nTrees: 20 },
};

let test: Dataset;
const models = new Map<ModelKind, FraudModel>();
const modelJson = new Map<ModelKind, string>();
let storeDir: string;
let scratch: string;

beforeAll(async () => {
  const split = stratifiedSplit(generateTransactions({ rows: 5000, seed: 11, fraudRate: 0.03 }), { seed: 11 });
  test = split.test;
  for (const kind of MODEL_KINDS) {
    const { model } = await trainModel(kind, split, SMALL[kind], { seed: 3 });
    models.set(kind, model);
    modelJson.set(kind, JSON.stringify(model.toJSON()));
  }
  scratch = mkdtempSync(join(tmpdir(), 'model-store-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
beforeEach(() => {
  storeDir = join(scratch, `store-${++counter}`);
  mkdirSync(storeDir);
});

/** A release input of the trained models; `version` makes distinct releases of the same files. */
function input(version = '1', overrides: Partial<WriteReleaseInput> = {}): WriteReleaseInput {
  return {
    members: MODEL_KINDS.map((kind) => ({
      member: { kind, registeredModel: `fraud_detection_${kind}`, version, runId: `run-${kind}`, threshold: 0.4 },
      modelJson: modelJson.get(kind)!,
    })),
    threshold: 0.5,
    ...overrides,
  };
}

const releaseDirOf = (id: string): string => join(storeDir, 'releases', id);
const readManifestFile = (id: string): ModelSetManifest => JSON.parse(readFileSync(join(releaseDirOf(id), 'manifest.json'), 'utf8')) as ModelSetManifest;

/** Copies a release under a new id after `edit` changes its manifest (and `editFiles` its files): a hand-made, possibly broken release. */
function craftRelease(fromId: string, edit: (m: ModelSetManifest) => void, editFiles?: (dir: string) => void, rehash = true): string {
  const manifest = readManifestFile(fromId);
  edit(manifest);
  if (rehash) manifest.id = computeReleaseId(manifest);
  const dir = releaseDirOf(manifest.id);
  cpSync(releaseDirOf(fromId), dir, { recursive: true });
  editFiles?.(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return manifest.id;
}

describe('writeRelease → loadModelSet', () => {
  it('round-trips a model set: every member and the weighted ensemble score exactly as the trained models', async () => {
    const manifest = await writeRelease(storeDir, input());
    expect(manifest.id).toMatch(/^[0-9a-f]{16}$/);
    expect(manifest.weights).toEqual(DEFAULT_ENSEMBLE_WEIGHTS);
    expect(manifest.members.map((m) => m.kind)).toEqual([...MODEL_KINDS]);
    for (const member of manifest.members) expect(member.sha256).toBe(sha256Hex(modelJson.get(member.kind)!));
    expect(readManifestFile(manifest.id)).toEqual(manifest);

    await pointSlot(storeDir, 'champion', manifest.id);
    expect(readlinkSync(join(storeDir, 'champion'))).toBe(`releases/${manifest.id}`);
    const set = await loadModelSet(storeDir, 'champion');
    expect(set.slot).toBe('champion');
    expect(set.manifest).toEqual(manifest);
    expect(set.featureNames).toEqual(test.featureNames);
    expect([...set.models.keys()]).toEqual([...MODEL_KINDS]);

    const perMember = set.predictMembers(test.features, test.numRows);
    const expected = new Float64Array(test.numRows);
    let weightSum = 0;
    for (const kind of MODEL_KINDS) {
      const original = models.get(kind)!.predictProba(test.features, test.numRows);
      const served = perMember.get(kind)!;
      // Tree members serve through the TypeScript tree scorer: equal to the engine to 1e-6.
      expect(Math.max(...served.map((p, i) => Math.abs(p - original[i]!)))).toBeLessThanOrEqual(kind === 'xgboost' || kind === 'random_forest' ? 1e-6 : 0);
      const w = DEFAULT_ENSEMBLE_WEIGHTS[kind];
      weightSum += w;
      original.forEach((p, i) => (expected[i]! += w * p));
    }
    const ensemble = set.predictEnsemble(test.features, test.numRows);
    expect(ensemble).toHaveLength(test.numRows);
    ensemble.forEach((p, i) => expect(p).toBeCloseTo(expected[i]! / weightSum, 6));
    expect(() => set.predictEnsemble(test.features.subarray(1), test.numRows)).toThrow(RangeError);
  });

  it('normalises the ensemble by the weights of the members present', async () => {
    const manifest = await writeRelease(storeDir, { ...input(), members: input().members.filter((m) => m.member.kind !== 'neural_network' && m.member.kind !== 'isolation_forest') });
    await pointSlot(storeDir, 'champion', manifest.id);
    const set = await loadModelSet(storeDir, 'champion');
    const xgb = models.get('xgboost')!.predictProba(test.features, test.numRows);
    const rf = models.get('random_forest')!.predictProba(test.features, test.numRows);
    set.predictEnsemble(test.features, test.numRows).forEach((p, i) => expect(p).toBeCloseTo((0.5 * xgb[i]! + 0.3 * rf[i]!) / 0.8, 6));
  });

  it('is idempotent: writing the same set again (or twice at once) returns the same release and leaves one directory', async () => {
    const first = await writeRelease(storeDir, input());
    // A crashed earlier attempt left a scratch directory behind: it must not matter.
    mkdirSync(join(storeDir, 'releases', '.tmp-crashed', 'xgboost'), { recursive: true });
    writeFileSync(join(storeDir, 'releases', '.tmp-crashed', 'xgboost', 'model.json'), '{"trunc');
    const again = await writeRelease(storeDir, input());
    expect(again).toEqual(first); // including createdAt: the existing release was reused, not rewritten
    const [a, b] = await Promise.all([writeRelease(storeDir, input('2')), writeRelease(storeDir, input('2'))]);
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(first.id);
    expect(readdirSync(join(storeDir, 'releases')).sort()).toEqual(['.tmp-crashed', first.id, a.id].sort());
    // Other weights score differently, so they are another release.
    const reweighted = await writeRelease(storeDir, input('1', { weights: { xgboost: 1 } }));
    expect(reweighted.id).not.toBe(first.id);
  });

  it('refuses a truncated model.json before anything becomes visible, naming the file', async () => {
    const bad = input();
    const json = modelJson.get('random_forest')!;
    bad.members[1] = { ...bad.members[1]!, modelJson: json.slice(0, json.length / 2) };
    const attempt = writeRelease(storeDir, bad);
    await expect(attempt).rejects.toBeInstanceOf(ModelFileError);
    await expect(attempt).rejects.toMatchObject({ kind: 'random_forest', problem: 'corrupt' });
    await expect(attempt).rejects.toThrow(/random_forest\/model\.json.*not valid JSON/);
    expect(readdirSync(join(storeDir, 'releases'))).toEqual([]);
  });

  it('stores an ONNX copy next to a member, and refuses one that is not ONNX', async () => {
    const proto = onnx.ModelProto.encode({
      irVersion: 8,
      graph: { name: 'g', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }] },
    }).finish();
    const withOnnx = input();
    withOnnx.members[0] = { ...withOnnx.members[0]!, onnx: proto };
    const { id } = await writeRelease(storeDir, withOnnx);
    expect(new Uint8Array(readFileSync(join(releaseDirOf(id), 'xgboost', 'model.onnx')))).toEqual(proto);
    expect(existsSync(join(releaseDirOf(id), 'random_forest', 'model.onnx'))).toBe(false);

    const bad = input('2');
    bad.members[0] = { ...bad.members[0]!, onnx: new Uint8Array([0xff, 0xff, 0xff]) };
    await expect(writeRelease(storeDir, bad)).rejects.toMatchObject({ name: 'ModelFileError', kind: 'xgboost', problem: 'corrupt' });
    expect(readdirSync(join(storeDir, 'releases'))).toEqual([id]);
  });

  it('refuses a model file of another kind than its member', async () => {
    const bad = input();
    bad.members[0] = { ...bad.members[0]!, modelJson: modelJson.get('random_forest')! };
    await expect(writeRelease(storeDir, bad)).rejects.toMatchObject({ name: 'ModelFileError', kind: 'xgboost', problem: 'kind' });
    expect(readdirSync(join(storeDir, 'releases'))).toEqual([]);
  });

  it.each([
    ['threshold', (i: WriteReleaseInput) => ({ ...i, threshold: 1.5 })],
    ['members[0].version', (i: WriteReleaseInput) => ({ ...i, members: [{ ...i.members[0]!, member: { ...i.members[0]!.member, version: 'v1' } }] })],
    ['members[1].kind', (i: WriteReleaseInput) => ({ ...i, members: [i.members[0]!, i.members[0]!] })],
    ['weights', (i: WriteReleaseInput) => ({ ...i, weights: { isolation_forest: 1 }, members: [i.members[0]!] })],
    ['weights.xgboost', (i: WriteReleaseInput) => ({ ...i, weights: { xgboost: -1 } })],
    ['members', (i: WriteReleaseInput) => ({ ...i, members: [] })],
  ])('refuses an invalid manifest before writing it, naming the field %s', async (field, edit) => {
    const attempt = writeRelease(storeDir, edit(input()));
    await expect(attempt).rejects.toBeInstanceOf(InvalidManifestError);
    await expect(attempt).rejects.toMatchObject({ field });
    await expect(attempt).rejects.toThrow(/manifest\.json: field /);
    expect(readdirSync(join(storeDir, 'releases'))).toEqual([]);
  });
});

describe('loadModelSet refuses a broken release', () => {
  let good: string;
  beforeEach(async () => {
    good = (await writeRelease(storeDir, input())).id;
  });

  it('with a model file that does not match its sha256, naming the file', async () => {
    const tampered = craftRelease(good, (m) => (m.members[0]!.version = '9'), (dir) => writeFileSync(join(dir, 'xgboost', 'model.json'), `${modelJson.get('xgboost')} `));
    await pointSlot(storeDir, 'champion', tampered);
    const attempt = loadModelSet(storeDir, 'champion');
    await expect(attempt).rejects.toMatchObject({ name: 'ModelFileError', problem: 'checksum', file: join(releaseDirOf(tampered), 'xgboost', 'model.json') });
    await expect(attempt).rejects.toThrow(/xgboost\/model\.json.*sha256/);
  });

  it('with a truncated model.json whose hash matches (corrupted before hashing), naming the file', async () => {
    const truncated = modelJson.get('neural_network')!.slice(0, 100);
    const id = craftRelease(
      good,
      (m) => (m.members.find((x) => x.kind === 'neural_network')!.sha256 = sha256Hex(truncated)),
      (dir) => writeFileSync(join(dir, 'neural_network', 'model.json'), truncated),
    );
    await pointSlot(storeDir, 'champion', id);
    await expect(loadModelSet(storeDir, 'champion')).rejects.toMatchObject({ name: 'ModelFileError', kind: 'neural_network', problem: 'corrupt' });
  });

  it.each([
    ['members[0].sha256', (m: ModelSetManifest) => (m.members[0]!.sha256 = 'not-a-hash')],
    ['schemaVersion', (m: ModelSetManifest) => ((m as unknown as { schemaVersion: number }).schemaVersion = 2)],
    ['createdAt', (m: ModelSetManifest) => ((m as unknown as { createdAt: number }).createdAt = 12)],
    ['treshold', (m: ModelSetManifest) => ((m as unknown as Record<string, unknown>).treshold = 0.5)],
    ['members[2].kind', (m: ModelSetManifest) => ((m.members[2] as unknown as { kind: string }).kind = 'svm')],
  ])('with an invalid manifest, naming manifest.json and the field %s', async (field, edit) => {
    const id = craftRelease(good, (m) => (m.id = 'badbadbadbad0000'), undefined, false);
    const file = join(releaseDirOf(id), 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as ModelSetManifest;
    edit(manifest);
    writeFileSync(file, JSON.stringify(manifest));
    // pointSlot checks the manifest too, so the slot is made by hand, as a careless operator would.
    await expect(pointSlot(storeDir, 'champion', id)).rejects.toBeInstanceOf(InvalidManifestError);
    symlinkSync(`releases/${id}`, join(storeDir, 'champion'));
    const attempt = loadModelSet(storeDir, 'champion');
    await expect(attempt).rejects.toBeInstanceOf(InvalidManifestError);
    await expect(attempt).rejects.toMatchObject({ field, file });
    await expect(attempt).rejects.toThrow(new RegExp(`manifest\\.json: field ${field.replace(/[[\]]/g, '\\$&')}`));
  });

  it('with a manifest edited after writing (its id no longer the content hash)', async () => {
    await pointSlot(storeDir, 'champion', good);
    const file = join(releaseDirOf(good), 'manifest.json');
    writeFileSync(file, JSON.stringify({ ...readManifestFile(good), threshold: 0.9 }));
    await expect(loadModelSet(storeDir, 'champion')).rejects.toMatchObject({ name: 'InvalidManifestError', field: 'id', file });
  });

  it('with an empty or broken slot', async () => {
    await expect(loadModelSet(storeDir, 'canary')).rejects.toBeInstanceOf(SlotEmptyError);
    mkdirSync(join(storeDir, 'canary'));
    await expect(loadModelSet(storeDir, 'canary')).rejects.toBeInstanceOf(InvalidSlotError);
  });
});

describe('slots and half-written releases', () => {
  it('never lets a slot point at a scratch directory or a missing release', async () => {
    const { id } = await writeRelease(storeDir, input());
    mkdirSync(join(storeDir, 'releases', '.tmp-0123456789abcdef'));
    await expect(pointSlot(storeDir, 'champion', '.tmp-0123456789abcdef')).rejects.toBeInstanceOf(ReleaseNotFoundError);
    await expect(pointSlot(storeDir, 'champion', 'ffffffffffffffff')).rejects.toBeInstanceOf(ReleaseNotFoundError);
    await pointSlot(storeDir, 'champion', id);
    expect(await readSlot(storeDir, 'champion')).toBe(id);
    expect(await readSlot(storeDir, 'canary')).toBeNull();
    await pointSlot(storeDir, 'champion', null);
    expect(await readSlot(storeDir, 'champion')).toBeNull();
    await pointSlot(storeDir, 'champion', null); // removing twice is fine (a retried activity)
    expect(readdirSync(storeDir).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
  });
});

describe('routing file', () => {
  let a: string;
  let b: string;
  beforeEach(async () => {
    a = (await writeRelease(storeDir, input('1'))).id;
    b = (await writeRelease(storeDir, input('2'))).id;
  });

  it('round-trips and is replaced atomically (no scratch file left)', async () => {
    expect(await readRouting(storeDir)).toBeUndefined();
    const written = await writeRouting(storeDir, { canaryPercent: 25, championRelease: a, canaryRelease: b, deploymentId: 'canary-1' });
    expect(written).toMatchObject({ schemaVersion: 1, canaryPercent: 25 });
    expect(await readRouting(storeDir)).toEqual(written);
    expect(readdirSync(storeDir).sort()).toEqual(['releases', 'traffic_routing.json']);
  });

  it.each([
    ['canaryPercent', { canaryPercent: 150 }],
    ['canaryRelease', { canaryPercent: 5, canaryRelease: null }],
    ['canaryRelease', { canaryRelease: '0000000000000000' }],
    ['championRelease', { championRelease: 'champion' }],
  ])('refuses to write an invalid routing, naming the field %s', async (field, patch) => {
    const attempt = writeRouting(storeDir, { canaryPercent: 0, championRelease: a, canaryRelease: null, deploymentId: null, ...patch });
    await expect(attempt).rejects.toBeInstanceOf(InvalidRoutingError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(existsSync(join(storeDir, 'traffic_routing.json'))).toBe(false);
  });

  it('refuses to read an invalid routing file, naming the file', async () => {
    writeFileSync(join(storeDir, 'traffic_routing.json'), '{"schemaVersion": 1, "canaryPercent": ');
    await expect(readRouting(storeDir)).rejects.toThrow(/traffic_routing\.json: is not valid JSON/);
    writeFileSync(join(storeDir, 'traffic_routing.json'), JSON.stringify({ schemaVersion: 1, canaryPercent: '5', championRelease: a, canaryRelease: b, deploymentId: null, updatedAt: new Date().toISOString() }));
    await expect(readRouting(storeDir)).rejects.toMatchObject({ name: 'InvalidRoutingError', field: 'canaryPercent' });
  });
});

describe('promoteCanary', () => {
  let a: string;
  let b: string;
  beforeEach(async () => {
    a = (await writeRelease(storeDir, input('1'))).id;
    b = (await writeRelease(storeDir, input('2'))).id;
    await pointSlot(storeDir, 'champion', a);
    await pointSlot(storeDir, 'canary', b);
    await writeRouting(storeDir, { canaryPercent: 25, championRelease: a, canaryRelease: b, deploymentId: 'canary-7' });
  });

  async function expectPromoted(): Promise<void> {
    expect(await readSlot(storeDir, 'champion')).toBe(b);
    expect(await readSlot(storeDir, 'canary')).toBeNull();
    expect(await readRouting(storeDir)).toMatchObject({ canaryPercent: 0, championRelease: b, canaryRelease: null, deploymentId: 'canary-7' });
    expect((await loadModelSet(storeDir, 'champion')).manifest.id).toBe(b);
  }

  it('leaves champion = the old canary release, no canary, routing at 0 %', async () => {
    const routing = await promoteCanary(storeDir);
    expect(routing).toMatchObject({ canaryPercent: 0, championRelease: b, canaryRelease: null });
    await expectPromoted();
    await expect(promoteCanary(storeDir)).rejects.toBeInstanceOf(SlotEmptyError);
  });

  it('completes a promotion interrupted after its first step, and a retry after it completed succeeds', async () => {
    await pointSlot(storeDir, 'champion', b); // crashed here: both slots serve b, routing still says a
    await promoteCanary(storeDir, { release: b });
    await expectPromoted();
    await promoteCanary(storeDir, { release: b });
    await expectPromoted();
  });

  it('refuses to promote a canary that is not the expected release', async () => {
    await expect(promoteCanary(storeDir, { release: a })).rejects.toBeInstanceOf(InvalidSlotError);
    expect(await readSlot(storeDir, 'champion')).toBe(a);
  });
});

describe('pruneReleases', () => {
  it('keeps the newest releases and every release a slot or the routing refers to; clears stale scratch entries', async () => {
    const ids: string[] = [];
    for (const version of ['1', '2', '3', '4', '5']) ids.push((await writeRelease(storeDir, input(version))).id);
    await pointSlot(storeDir, 'champion', ids[0]!);
    await pointSlot(storeDir, 'canary', ids[1]!);
    await writeRouting(storeDir, { canaryPercent: 0, championRelease: ids[2]!, canaryRelease: null, deploymentId: null });
    mkdirSync(join(storeDir, 'releases', '.tmp-stale'));

    const fresh = await pruneReleases(storeDir, 1);
    expect(fresh.removed).toEqual([ids[3]]);
    expect(fresh.kept.sort()).toEqual([ids[0], ids[1], ids[2], ids[4]].sort());
    expect(fresh.removedTemp).toEqual([]); // a scratch directory this young may be a write in progress
    expect(existsSync(join(storeDir, 'releases', '.tmp-stale'))).toBe(true);

    const all = await pruneReleases(storeDir, 0, { tempMaxAgeMs: 0 });
    expect(all.removed).toEqual([ids[4]]);
    expect(all.removedTemp).toEqual([join('releases', '.tmp-stale')]);
    expect(readdirSync(join(storeDir, 'releases')).sort()).toEqual([ids[0], ids[1], ids[2]].sort());
    expect((await loadModelSet(storeDir, 'champion')).manifest.id).toBe(ids[0]);
  });
});
