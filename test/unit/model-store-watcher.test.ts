import { cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { trainModel } from '../../lib/ml/models';
import { MODEL_KINDS, type Dataset, type ModelKind } from '../../lib/ml/types';
import { ModelStoreWatcher, computeReleaseId, pointSlot, sha256Hex, writeRelease, writeRouting, type ModelStoreWatcherOptions, type SwapEvent } from '../../lib/model-store';
import type { LoadedModelSet, ModelSetManifest, RejectedCandidate, Slot } from '../../lib/serving/contract';

const SMALL: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 8, maxDepth: 3 },
  random_forest: { nTrees: 8, maxDepth: 4 },
  neural_network: { epochs: 2, hiddenLayers: [8], patience: 0 },
  isolation_forest: { nTrees: 20 },
};
/** Generous: the machine is shared; the watcher polls every 100 ms, so it normally takes a few of them. */
const WAIT_MS = 15_000;

let test: Dataset;
const modelJson = new Map<ModelKind, string>();
let scratch: string;
let storeDir: string;
/** Releases A, B, C, D: the same models under different versions (and, for D, weights). */
let A: string, B: string, C: string, D: string;
let watcher: ModelStoreWatcher | undefined;
let logLines: { level: number; msg: string; [key: string]: unknown }[];

beforeAll(async () => {
  const split = stratifiedSplit(generateTransactions({ rows: 5000, seed: 5, fraudRate: 0.03 }), { seed: 5 });
  test = split.test;
  for (const kind of MODEL_KINDS) modelJson.set(kind, JSON.stringify((await trainModel(kind, split, SMALL[kind], { seed: 1 })).model.toJSON()));
  scratch = mkdtempSync(join(tmpdir(), 'model-store-watcher-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
beforeEach(async () => {
  storeDir = join(scratch, `store-${++counter}`);
  mkdirSync(storeDir);
  const write = async (version: string, weights?: Partial<Record<ModelKind, number>>): Promise<string> =>
    (
      await writeRelease(storeDir, {
        members: MODEL_KINDS.map((kind) => ({ member: { kind, registeredModel: `fraud_detection_${kind}`, version }, modelJson: modelJson.get(kind)! })),
        weights,
        threshold: 0.5,
      })
    ).id;
  [A, B, C, D] = [await write('1'), await write('2'), await write('3'), await write('4', { xgboost: 1, random_forest: 1 })];
  await pointSlot(storeDir, 'champion', A);
  await writeRouting(storeDir, { canaryPercent: 0, championRelease: A, canaryRelease: null, deploymentId: null });
  logLines = [];
});
afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
});

async function startWatcher(options: Partial<ModelStoreWatcherOptions> = {}): Promise<ModelStoreWatcher> {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
  watcher = new ModelStoreWatcher({ storeDir, logger, pollIntervalMs: 100, ...options });
  await watcher.start();
  return watcher;
}

/** Swaps a slot by hand (as `pointSlot` does, minus its checks), so it can point at anything. */
function forceSlot(slot: Slot, target: string): void {
  const temp = join(storeDir, `.tmp-${slot}-forced`);
  symlinkSync(target, temp);
  renameSync(temp, join(storeDir, slot));
}

function nextRejection(w: ModelStoreWatcher): Promise<RejectedCandidate> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no rejection')), WAIT_MS);
    const off = w.onReject((candidate) => {
      clearTimeout(timer);
      off();
      resolve(candidate);
    });
  });
}

const releaseDirOf = (id: string): string => join(storeDir, 'releases', id);

/** A copy of release A with its manifest edited (and re-hashed unless `rehash` is false) and its files edited. */
function craftRelease(edit: (m: ModelSetManifest) => void, editFiles?: (dir: string) => void, rehash = true): string {
  const manifest = JSON.parse(readFileSync(join(releaseDirOf(A), 'manifest.json'), 'utf8')) as ModelSetManifest;
  edit(manifest);
  if (rehash) manifest.id = computeReleaseId(manifest);
  cpSync(releaseDirOf(A), releaseDirOf(manifest.id), { recursive: true });
  editFiles?.(releaseDirOf(manifest.id));
  writeFileSync(join(releaseDirOf(manifest.id), 'manifest.json'), JSON.stringify(manifest));
  return manifest.id;
}

describe('ModelStoreWatcher', () => {
  it('serves the champion found at start and picks up a champion swap', async () => {
    const w = await startWatcher();
    expect(w.champion()?.manifest.id).toBe(A);
    expect(w.champion()?.predictEnsemble(test.features, test.numRows)).toHaveLength(test.numRows);
    expect(w.canary()).toBeUndefined();
    expect(w.canaryPercent()).toBe(0);
    expect(w.routing()).toMatchObject({ championRelease: A, canaryRelease: null });
    expect(w.mismatches()).toEqual([]);
    expect(w.rejected()).toEqual([]);

    const swaps: SwapEvent[] = [];
    w.onSwap((e) => swaps.push(e));
    await pointSlot(storeDir, 'champion', B);
    const set = await w.waitForRelease('champion', B, WAIT_MS);
    expect(set?.manifest.id).toBe(B);
    expect(w.champion()).toBe(set);
    expect(swaps).toEqual([expect.objectContaining({ slot: 'champion', previous: A, current: B })]);
    // The routing file still names A: B serves, and the mismatch is visible.
    expect(w.mismatches()).toEqual([{ slot: 'champion', routingRelease: A, loadedRelease: B }]);
    expect(logLines.some((l) => l.msg === 'model set swapped in' && l.release === B)).toBe(true);
  });

  it('adds and removes a canary, routing to it only while the loaded canary is the one the routing names', async () => {
    const w = await startWatcher();
    await writeRouting(storeDir, { canaryPercent: 25, championRelease: A, canaryRelease: C, deploymentId: 'canary-1' });
    await w.refresh();
    expect(w.routing()?.canaryPercent).toBe(25);
    expect(w.canaryPercent()).toBe(0); // no canary loaded yet
    expect(w.mismatches()).toEqual([{ slot: 'canary', routingRelease: C, loadedRelease: null }]);

    await pointSlot(storeDir, 'canary', C);
    expect((await w.waitForRelease('canary', C, WAIT_MS))?.slot).toBe('canary');
    expect(w.canaryPercent()).toBe(25);
    expect(w.champion()?.manifest.id).toBe(A);

    await pointSlot(storeDir, 'canary', D); // a canary the routing file does not name gets no traffic
    await w.waitForRelease('canary', D, WAIT_MS);
    expect(w.canaryPercent()).toBe(0);

    const swaps: SwapEvent[] = [];
    w.onSwap((e) => swaps.push(e));
    await pointSlot(storeDir, 'canary', null);
    expect(await w.waitForRelease('canary', null, WAIT_MS)).toBeUndefined();
    expect(w.canary()).toBeUndefined();
    expect(w.canaryPercent()).toBe(0);
    expect(swaps).toEqual([{ slot: 'canary', previous: D, current: null, set: undefined }]);
  });

  it.each([
    [
      'a model file that does not match its sha256',
      () => craftRelease((m) => (m.members[0]!.version = '9'), (dir) => writeFileSync(join(dir, 'xgboost', 'model.json'), `${modelJson.get('xgboost')}\n`)),
      /xgboost\/model\.json.*sha256/,
    ],
    [
      'a truncated model.json',
      () => {
        const truncated = modelJson.get('random_forest')!.slice(0, 500);
        return craftRelease(
          (m) => (m.members.find((x) => x.kind === 'random_forest')!.sha256 = sha256Hex(truncated)),
          (dir) => writeFileSync(join(dir, 'random_forest', 'model.json'), truncated),
        );
      },
      /random_forest\/model\.json.*not valid JSON/,
    ],
    [
      'an invalid manifest',
      () => craftRelease((m) => ((m as unknown as { threshold: string }).threshold = 'high'), undefined),
      /manifest\.json: field threshold/,
    ],
  ])('keeps the old champion serving when the new one has %s, and reports the rejection', async (_, make, reason) => {
    const w = await startWatcher();
    const bad = make();
    const rejection = nextRejection(w);
    forceSlot('champion', `releases/${bad}`);
    const candidate = await rejection;
    expect(candidate).toMatchObject({ slot: 'champion', release: bad });
    expect(candidate.reason).toMatch(reason);
    expect(w.champion()?.manifest.id).toBe(A);
    expect(w.champion()?.predictEnsemble(test.features, test.numRows)).toHaveLength(test.numRows);
    expect(w.rejected()).toEqual([candidate]);
    expect(logLines.find((l) => l.level === 50 && l.release === bad)).toMatchObject({ slot: 'champion', serving: A });
    // A refused candidate is not retried (nor logged again) on every poll.
    await w.refresh();
    await w.refresh();
    expect(w.rejected()).toHaveLength(1);
    // And a good release after it is picked up as usual.
    await pointSlot(storeDir, 'champion', B);
    await w.waitForRelease('champion', B, WAIT_MS);
  });

  it('ignores half-written release directories and refuses a slot pointing into one', async () => {
    const w = await startWatcher();
    const swaps: SwapEvent[] = [];
    w.onSwap((e) => swaps.push(e));
    const half = join(storeDir, 'releases', '.tmp-halfwritten');
    mkdirSync(join(half, 'xgboost'), { recursive: true });
    writeFileSync(join(half, 'xgboost', 'model.json'), modelJson.get('xgboost')!.slice(0, 1000));
    await w.refresh();
    expect(w.champion()?.manifest.id).toBe(A);
    expect(swaps).toEqual([]);
    expect(w.rejected()).toEqual([]);

    const rejection = nextRejection(w);
    forceSlot('champion', 'releases/.tmp-halfwritten');
    expect((await rejection).reason).toMatch(/not a release directory/);
    expect(w.champion()?.manifest.id).toBe(A);
  });

  it('keeps the champion when its slot is removed, and reports it', async () => {
    const w = await startWatcher();
    const rejection = nextRejection(w);
    await pointSlot(storeDir, 'champion', null);
    expect(await rejection).toMatchObject({ slot: 'champion', release: null });
    expect(w.champion()?.manifest.id).toBe(A);
    await pointSlot(storeDir, 'champion', A); // back to what is loaded: no reload, no swap
    const swaps: SwapEvent[] = [];
    w.onSwap((e) => swaps.push(e));
    await w.refresh();
    expect(swaps).toEqual([]);
  });

  it('keeps the last valid routing when the routing file turns invalid; no routing file means no canary traffic', async () => {
    await pointSlot(storeDir, 'canary', C);
    await writeRouting(storeDir, { canaryPercent: 5, championRelease: A, canaryRelease: C, deploymentId: 'canary-2' });
    const w = await startWatcher();
    expect(w.canaryPercent()).toBe(5);
    const valid = w.routing();
    const file = join(storeDir, 'traffic_routing.json');
    writeFileSync(`${file}.new`, JSON.stringify({ ...valid, canaryPercent: 'lots' }));
    renameSync(`${file}.new`, file);
    await w.refresh();
    expect(w.routing()).toEqual(valid);
    expect(w.canaryPercent()).toBe(5);
    expect(w.routingError()).toMatch(/traffic_routing\.json: field canaryPercent/);
    rmSync(file);
    await w.refresh();
    expect(w.routing()).toBeUndefined();
    expect(w.canaryPercent()).toBe(0);
  });

  it('swaps the in-memory set only once the new one has loaded', async () => {
    const sets = new Map<string, LoadedModelSet>();
    const fake = (id: string): LoadedModelSet => sets.get(id) ?? (sets.set(id, { slot: 'champion', manifest: { id, members: [] } } as unknown as LoadedModelSet), sets.get(id)!);
    let release!: (set: LoadedModelSet) => void;
    let started!: () => void;
    const loadStarted = new Promise<void>((resolve) => (started = resolve));
    let calls = 0;
    const w = await startWatcher({
      loadModelSet: async (_dir, slot) => {
        if (slot === 'canary') throw new Error('unexpected');
        if (++calls === 1) return fake(A);
        started();
        return new Promise<LoadedModelSet>((resolve) => (release = resolve));
      },
    });
    expect(w.champion()).toBe(fake(A));
    await pointSlot(storeDir, 'champion', B);
    await loadStarted;
    expect(w.champion()).toBe(fake(A)); // still loading B: A serves
    release(fake(B));
    expect(await w.waitForRelease('champion', B, WAIT_MS)).toBe(fake(B));
  });

  it('retries a candidate that failed for a reason other than its content, and reports it once', async () => {
    let failures = 0;
    const w = await startWatcher({
      loadModelSet: async (dir, slot) => {
        const target = readlinkSync(join(dir, slot));
        if (target.endsWith(B) && failures++ < 3) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
        return { slot, manifest: { id: target.slice('releases/'.length), members: [] } } as unknown as LoadedModelSet;
      },
    });
    await pointSlot(storeDir, 'champion', B);
    await w.waitForRelease('champion', B, WAIT_MS);
    expect(failures).toBe(4);
    expect(w.rejected()).toEqual([expect.objectContaining({ slot: 'champion', release: B, reason: 'EMFILE: too many open files' })]);
  });

  it('notices changes by polling alone, even when the store directory appears after start', async () => {
    const later = join(scratch, `late-store-${counter}`);
    const w = await startWatcher({ storeDir: later, fsWatch: false });
    expect(w.champion()).toBeUndefined();
    expect(w.rejected()).toEqual([]);
    cpSync(storeDir, later, { recursive: true, verbatimSymlinks: true });
    expect((await w.waitForRelease('champion', A, WAIT_MS))?.manifest.id).toBe(A);
    await pointSlot(later, 'canary', C);
    await w.waitForRelease('canary', C, WAIT_MS);
    await pointSlot(later, 'champion', B);
    await w.waitForRelease('champion', B, WAIT_MS);
  });

  it('remembers the last 20 rejected candidates', async () => {
    let calls = 0;
    const w = await startWatcher({
      pollIntervalMs: 60_000, // this test drives the checks itself
      fsWatch: false,
      loadModelSet: async (_dir, slot) => {
        if (slot === 'champion' && ++calls === 1) return { slot, manifest: { id: A, members: [] } } as unknown as LoadedModelSet;
        throw new Error(`refused #${calls}`);
      },
    });
    for (let i = 0; i < 25; i++) {
      forceSlot('champion', `releases/${i % 2 === 0 ? B : C}`);
      await w.refresh();
    }
    const rejected = w.rejected();
    expect(rejected).toHaveLength(20);
    expect(rejected[19]).toMatchObject({ slot: 'champion', release: B, reason: 'refused #26' }); // the 25th swap (i = 24) is to B
    expect(rejected[0]!.reason).toBe('refused #7');
    expect(w.champion()?.manifest.id).toBe(A);
  });
});
