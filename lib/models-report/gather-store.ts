/** The model store as it is on disk: the routing file, and what `champion/` and `canary/` hold and whether it loads. */
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRelease, readManifest, readRouting, resolveSlot } from '../model-store';
import { SLOTS, type ModelSetManifest, type Slot } from '../serving/contract';
import type { LoadOutcome, SlotReport, StoreReport } from './types';
import { errorText } from './util';

async function gatherSlot(storeDir: string, slot: Slot): Promise<SlotReport> {
  const path = join(storeDir, slot);
  const base: SlotReport = { slot, path, state: 'empty', release: null, since: null, manifest: null, load: { status: 'skipped', detail: 'the slot is empty' }, loadedByApi: null };
  const link = await lstat(path).catch(() => undefined);
  if (!link) return base;
  base.since = link.mtime.toISOString();
  let resolved: Awaited<ReturnType<typeof resolveSlot>>;
  try {
    resolved = await resolveSlot(storeDir, slot);
  } catch (err) {
    return { ...base, state: 'broken', load: { status: 'failed', detail: errorText(err) } };
  }
  if (!resolved) return base;
  let manifest: ModelSetManifest;
  try {
    manifest = await readManifest(resolved.dir, resolved.release);
  } catch (err) {
    return { ...base, state: 'broken', release: resolved.release, load: { status: 'failed', detail: errorText(err) } };
  }
  // The API's own loader (checksums, loadModel, smoke test): what fails here would be rejected there.
  let load: LoadOutcome;
  try {
    const set = await loadRelease(resolved.dir, slot, { expectedId: resolved.release });
    load = { status: 'ok', detail: `${set.models.size} model(s) loaded and smoke-tested` };
  } catch (err) {
    load = { status: 'failed', detail: errorText(err) };
  }
  return { ...base, state: load.status === 'ok' ? 'ok' : 'broken', release: resolved.release, manifest, load };
}

/** Reads the store; never throws for what it finds (a broken slot or routing file is reported). */
export async function gatherStore(storeDir: string): Promise<StoreReport> {
  const exists = (await stat(storeDir).catch(() => undefined))?.isDirectory() === true;
  const report: StoreReport = { dir: storeDir, exists, routing: null, routingError: null, slots: [] };
  try {
    report.routing = (await readRouting(storeDir)) ?? null;
  } catch (err) {
    report.routingError = errorText(err);
  }
  for (const slot of SLOTS) report.slots.push(await gatherSlot(storeDir, slot));
  return report;
}
