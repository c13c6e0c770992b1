/**
 * Keeps the serving API's model sets in step with the store, without ever serving a broken one.
 *
 * Changes are noticed two ways: `fs.watch` on the store directory (fast, but unreliable on network
 * and overlay filesystems, and blind to some symlink swaps) and a periodic content check of the
 * slot symlinks' targets and the routing file's digest (slow, but always right). A changed slot
 * is loaded in the background; the in-memory reference is swapped only once the new set has
 * loaded and passed the smoke test. A candidate that fails is recorded as a `RejectedCandidate`
 * and the previous set keeps serving.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from '../logger';
import { SLOTS, type LoadedModelSet, type RejectedCandidate, type ServingModels, type Slot, type TrafficRouting } from '../serving/contract';
import { ModelStoreError, SlotEmptyError } from './errors';
import { routingPath, sha256Hex, slotPath } from './layout';
import { loadModelSet as loadFromStore } from './loader';
import { parseRouting } from './schema';

export interface ModelStoreWatcherOptions {
  /** The store directory (`MODEL_STORE_DIR`). */
  storeDir: string;
  logger: Logger;
  /** How often the slot targets and the routing file are compared, in ms. @default 2000 */
  pollIntervalMs?: number;
  /** Loads a slot's model set; injectable for tests. @default loadModelSet of ./loader */
  loadModelSet?: (storeDir: string, slot: Slot) => Promise<LoadedModelSet>;
  /** Rejected candidates remembered, newest last. @default 20 */
  maxRejected?: number;
  /** Quiet time after an fs.watch event before checking, so one swap's several events make one check. @default 50 */
  watchDebounceMs?: number;
  /** Also react to fs.watch events; polling alone is always correct, just slower. @default true */
  fsWatch?: boolean;
}

type ResolvedOptions = Required<ModelStoreWatcherOptions>;

function withDefaults(options: ModelStoreWatcherOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    pollIntervalMs: 2000,
    loadModelSet: (storeDir, slot) => loadFromStore(storeDir, slot),
    maxRejected: 20,
    watchDebounceMs: 50,
    fsWatch: true,
    ...options,
  };
  if (!(resolved.pollIntervalMs > 0)) throw new TypeError(`pollIntervalMs must be positive, got ${resolved.pollIntervalMs}`);
  if (!Number.isInteger(resolved.maxRejected) || resolved.maxRejected < 1) throw new TypeError(`maxRejected must be a positive integer, got ${resolved.maxRejected}`);
  if (!(resolved.watchDebounceMs >= 0)) throw new TypeError(`watchDebounceMs must be >= 0, got ${resolved.watchDebounceMs}`);
  return resolved;
}

/** A slot started serving another release (or, for the canary, stopped serving). */
export interface SwapEvent {
  slot: Slot;
  previous: string | null;
  current: string | null;
  /** The set now serving the slot; undefined when the slot was emptied. */
  set: LoadedModelSet | undefined;
}

/** The routing file names a release for a slot other than the one loaded there. */
export interface SlotMismatch {
  slot: Slot;
  routingRelease: string | null;
  loadedRelease: string | null;
}

/** What a slot looked like at a check; a different `key` means it changed. */
interface SlotFingerprint {
  key: string;
  /** The release the symlink names, null when there is no slot or it is not a symlink. */
  release: string | null;
  present: boolean;
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export class ModelStoreWatcher implements ServingModels {
  private readonly options: ResolvedOptions;
  private readonly log: Logger;
  private readonly sets: Record<Slot, LoadedModelSet | undefined> = { champion: undefined, canary: undefined };
  /** Fingerprint last acted on (loaded or rejected), so a rejected candidate is not retried every poll. */
  private readonly seen: Record<Slot, string | undefined> = { champion: undefined, canary: undefined };
  /** Fingerprint of the last rejected candidate, so a candidate retried after an I/O error is reported once. */
  private readonly rejectedKey: Record<Slot, string | undefined> = { champion: undefined, canary: undefined };
  /** Fingerprint of what is loaded, so pointing a slot back at it does not reload it. */
  private readonly loadedKey: Record<Slot, string | undefined> = { champion: undefined, canary: undefined };
  private currentRouting: TrafficRouting | undefined;
  /** Digest of the routing file last read; null when there was none, undefined before the first check. */
  private routingDigest: string | null | undefined;
  private routingProblem: string | undefined;
  private readonly rejectedList: RejectedCandidate[] = [];
  private readonly swapListeners = new Set<(event: SwapEvent) => void>();
  private readonly rejectListeners = new Set<(candidate: RejectedCandidate) => void>();
  /** `waitForRelease` calls, which also need to know whether the candidate will be retried. */
  private readonly rejectWaiters = new Set<(candidate: RejectedCandidate, final: boolean) => void>();
  private fsWatcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private started = false;
  private stopped = false;

  constructor(options: ModelStoreWatcherOptions) {
    this.options = withDefaults(options);
    this.log = options.logger.child({ module: 'model-store-watcher' });
  }

  /** Loads what the store holds now, then watches it. Resolves once the first load is done (successful or not). */
  async start(): Promise<void> {
    if (this.started) throw new Error('ModelStoreWatcher.start() called twice');
    this.started = true;
    this.startFsWatch(true); // before the first check, so a change during it is not missed
    await this.requestCheck();
    this.schedulePoll();
  }

  /** Stops watching and polling; resolves when a check in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    clearTimeout(this.pollTimer);
    clearTimeout(this.debounceTimer);
    await this.running;
  }

  /** Checks the store now instead of waiting for the next poll (an admin "reload"). */
  refresh(): Promise<void> {
    return this.requestCheck();
  }

  champion(): LoadedModelSet | undefined {
    return this.sets.champion;
  }

  canary(): LoadedModelSet | undefined {
    return this.sets.canary;
  }

  /** The routing file's canary share, but only while the loaded canary is the release it names; else 0. */
  canaryPercent(): number {
    const canary = this.sets.canary;
    const routing = this.currentRouting;
    if (!canary || !routing || routing.canaryRelease !== canary.manifest.id) return 0;
    return routing.canaryPercent;
  }

  /** The last valid routing file; undefined when there is none (then no canary traffic). */
  routing(): TrafficRouting | undefined {
    return this.currentRouting;
  }

  /** Why the current routing file was refused (the last valid one stays in force), if it was. */
  routingError(): string | undefined {
    return this.routingProblem;
  }

  /** Rejected candidates, oldest first, at most `maxRejected`. */
  rejected(): readonly RejectedCandidate[] {
    return [...this.rejectedList];
  }

  /**
   * Slots whose loaded release differs from the one the routing file names: e.g. a champion swap
   * that was rejected, or a routing file written before its slot was loaded. The loaded champion
   * keeps serving regardless; a mismatched canary gets no traffic.
   */
  mismatches(): SlotMismatch[] {
    const routing = this.currentRouting;
    if (!routing) return [];
    const out: SlotMismatch[] = [];
    for (const slot of SLOTS) {
      const routingRelease = slot === 'champion' ? routing.championRelease : routing.canaryRelease;
      const loadedRelease = this.sets[slot]?.manifest.id ?? null;
      if (routingRelease !== loadedRelease) out.push({ slot, routingRelease, loadedRelease });
    }
    return out;
  }

  /** Calls `listener` after each swap; returns a function that unsubscribes it. */
  onSwap(listener: (event: SwapEvent) => void): () => void {
    this.swapListeners.add(listener);
    return () => this.swapListeners.delete(listener);
  }

  /** Calls `listener` after each rejected candidate; returns a function that unsubscribes it. */
  onReject(listener: (candidate: RejectedCandidate) => void): () => void {
    this.rejectListeners.add(listener);
    return () => this.rejectListeners.delete(listener);
  }

  /**
   * Resolves with the set once `slot` serves `release` (null: once the slot is empty). Rejects
   * when that release is rejected for that slot for good (not when a retry will follow), or after
   * `timeoutMs`. Does not trigger a check:
   * it waits for the watcher to notice on its own. For tests and scripts.
   */
  waitForRelease(slot: Slot, release: string | null, timeoutMs = 10_000): Promise<LoadedModelSet | undefined> {
    const serving = (): boolean => (this.sets[slot]?.manifest.id ?? null) === release;
    if (serving()) return Promise.resolve(this.sets[slot]);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        offSwap();
        this.rejectWaiters.delete(onReject);
        clearTimeout(timer);
      };
      const offSwap = this.onSwap(() => {
        if (!serving()) return;
        done();
        resolve(this.sets[slot]);
      });
      const onReject = (candidate: RejectedCandidate, final: boolean): void => {
        if (!final || release === null || candidate.slot !== slot || candidate.release !== release) return;
        done();
        reject(new Error(`the ${slot} candidate ${release} was rejected: ${candidate.reason}`));
      };
      this.rejectWaiters.add(onReject);
      const timer = setTimeout(() => {
        done();
        const current = this.sets[slot]?.manifest.id ?? 'nothing';
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the ${slot} slot to serve ${release ?? 'nothing'}; it serves ${current}`));
      }, timeoutMs);
    });
  }

  /** Runs a check, or, if one is running, makes it run once more and returns its promise. Never rejects. */
  private requestCheck(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.rerun = false;
          await this.checkOnce();
        } while (this.rerun && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    try {
      await this.checkRouting();
      for (const slot of SLOTS) {
        if (this.stopped) return;
        await this.checkSlot(slot);
      }
    } catch (error) {
      // Unexpected (permissions, I/O): keep serving what is loaded and try again at the next poll.
      this.log.error({ err: error }, 'checking the model store failed');
    }
  }

  private async checkRouting(): Promise<void> {
    const file = routingPath(this.options.storeDir);
    let text: string | null;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      text = null;
    }
    const digest = text === null ? null : sha256Hex(text);
    if (digest === this.routingDigest) return;
    this.routingDigest = digest;
    if (text === null) {
      if (this.currentRouting) this.log.warn('the routing file was removed: no canary traffic');
      this.currentRouting = undefined;
      this.routingProblem = undefined;
      return;
    }
    try {
      this.currentRouting = parseRouting(text, file);
      this.routingProblem = undefined;
      this.log.info({ routing: this.currentRouting }, 'routing loaded');
    } catch (error) {
      this.routingProblem = (error as Error).message;
      this.log.error({ err: error }, 'invalid routing file; keeping the last valid routing');
    }
  }

  private async fingerprint(slot: Slot): Promise<SlotFingerprint> {
    const link = slotPath(this.options.storeDir, slot);
    let target: string;
    try {
      target = await readlink(link);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { key: 'absent', release: null, present: false };
      if (!isErrno(error, 'EINVAL')) throw error;
      // Not a symlink: the loader will refuse it; fingerprint it so it is refused once, not every poll.
      const stats = await stat(link);
      return { key: `not-a-link:${stats.ino}:${stats.mtimeMs}`, release: null, present: true };
    }
    // The target directory's identity too: a release directory replaced under the same name is a change.
    const stats = await stat(link).catch(() => undefined);
    return { key: `${target}|${stats ? `${stats.dev}:${stats.ino}` : 'missing'}`, release: basename(target), present: true };
  }

  private async checkSlot(slot: Slot): Promise<void> {
    const print = await this.fingerprint(slot);
    if (print.key === this.seen[slot]) return;
    const loaded = this.sets[slot];
    if (!print.present) {
      this.seen[slot] = print.key;
      if (!loaded) return;
      if (slot === 'champion') {
        // Serving nothing is worse than serving the last champion: keep it and say so.
        this.reject(slot, null, `the champion slot was removed; ${loaded.manifest.id} keeps serving`, true);
        return;
      }
      this.sets[slot] = undefined;
      this.loadedKey[slot] = undefined;
      this.log.info({ slot, previous: loaded.manifest.id }, 'slot emptied');
      this.emitSwap({ slot, previous: loaded.manifest.id, current: null, set: undefined });
      return;
    }
    if (loaded && print.key === this.loadedKey[slot]) {
      this.seen[slot] = print.key; // back to what is already serving (e.g. after a rejected swap)
      return;
    }
    let set: LoadedModelSet;
    try {
      set = await this.options.loadModelSet(this.options.storeDir, slot);
    } catch (error) {
      if (this.stopped) return;
      // Gone between the fingerprint and the load: the next check sees the slot as it is.
      if (error instanceof SlotEmptyError) return;
      // A store error is about the content, which will not fix itself: not retried until the slot
      // changes. Anything else (EMFILE, EIO) may pass: retried at every poll, but reported once.
      if (error instanceof ModelStoreError) this.seen[slot] = print.key;
      if (this.rejectedKey[slot] !== print.key) {
        this.rejectedKey[slot] = print.key;
        this.reject(slot, print.release, (error as Error).message, error instanceof ModelStoreError);
      }
      return;
    }
    this.rejectedKey[slot] = undefined;
    if (this.stopped) return;
    if (set.manifest.id === print.release) {
      this.seen[slot] = print.key;
      this.loadedKey[slot] = print.key;
    } else {
      // The slot was swapped between the fingerprint and the load: what loaded is valid, but the
      // fingerprint describes something else, so forget it and look again right away.
      this.seen[slot] = undefined;
      this.loadedKey[slot] = undefined;
      this.rerun = true;
    }
    this.sets[slot] = set;
    const event: SwapEvent = { slot, previous: loaded?.manifest.id ?? null, current: set.manifest.id, set };
    this.log.info({ slot, previous: event.previous, release: event.current, members: set.manifest.members.map((m) => `${m.kind}@${m.version}`) }, 'model set swapped in');
    this.emitSwap(event);
  }

  /** `final`: the candidate will not be retried until its slot changes. */
  private reject(slot: Slot, release: string | null, reason: string, final: boolean): void {
    const candidate: RejectedCandidate = { slot, release, reason, at: new Date().toISOString() };
    this.rejectedList.push(candidate);
    if (this.rejectedList.length > this.options.maxRejected) this.rejectedList.splice(0, this.rejectedList.length - this.options.maxRejected);
    this.log.error({ slot, release, reason, retrying: !final, serving: this.sets[slot]?.manifest.id ?? null }, 'model set candidate rejected; the previous set keeps serving');
    for (const waiter of this.rejectWaiters) this.callListener(() => waiter(candidate, final));
    for (const listener of this.rejectListeners) this.callListener(() => listener(candidate));
  }

  private emitSwap(event: SwapEvent): void {
    for (const listener of this.swapListeners) this.callListener(() => listener(event));
  }

  private callListener(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log.error({ err: error }, 'a model-store listener threw');
    }
  }

  private startFsWatch(first: boolean): void {
    if (this.fsWatcher || this.stopped || !this.options.fsWatch) return;
    try {
      const watcher = watch(this.options.storeDir, { persistent: false }, () => this.onFsEvent());
      watcher.on('error', (error) => {
        this.log.warn({ err: error }, 'fs.watch failed; relying on polling until it can be restarted');
        watcher.close();
        if (this.fsWatcher === watcher) this.fsWatcher = undefined;
      });
      this.fsWatcher = watcher;
    } catch (error) {
      // e.g. the store directory does not exist yet: polling covers it, and the next poll retries.
      if (first) this.log.warn({ err: error, storeDir: this.options.storeDir }, 'cannot fs.watch the model store; relying on polling');
    }
  }

  private onFsEvent(): void {
    if (this.debounceTimer || this.stopped) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.requestCheck();
    }, this.options.watchDebounceMs);
    this.debounceTimer.unref();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.startFsWatch(false);
      void this.requestCheck().then(() => this.schedulePoll());
    }, this.options.pollIntervalMs);
    this.pollTimer.unref();
  }
}
