/**
 * Open-loop scheduling: send number `n` is due at `start + n / rps`, whether or not earlier sends
 * have been answered. A closed loop (send, wait, send) slows down with the server and hides its
 * latency spikes (coordinated omission); an open loop keeps offering the load a real population of
 * clients would. In-flight sends are capped so a stalled server cannot exhaust the client's sockets
 * and memory: a due send finding the cap reached is dropped and counted, never queued.
 */
import { performance } from 'node:perf_hooks';

/** Options of {@link runOpenLoop}. */
export interface OpenLoopOptions {
  /** Sends per second, > 0. */
  rps: number;
  /** Stop scheduling after this many seconds. @default Infinity (until `signal` aborts) */
  durationSeconds?: number;
  /** Most sends in flight at once; a due send beyond it is dropped. @default 256 */
  maxInFlight?: number;
  /** Stops scheduling; sends already in flight are still awaited. */
  signal?: AbortSignal;
  /**
   * Performs send number `n` (0-based). Should not reject (a rejection is counted in `failedSends`
   * and otherwise ignored). `lagMs` is how late the send starts relative to its schedule.
   */
  send: (n: number, lagMs: number) => Promise<void>;
  /** Called for each dropped send. */
  onDrop?: (n: number) => void;
}

export interface OpenLoopResult {
  /** Sends that came due: `sent + dropped`. */
  scheduled: number;
  sent: number;
  dropped: number;
  /** Sends whose promise rejected. */
  failedSends: number;
  /** Seconds from the first due send to the end of scheduling (in-flight sends not included). */
  scheduleSeconds: number;
  /** Largest delay between a send's due time and its start, ms: how far the client's event loop fell behind. */
  maxLagMs: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rps, send, signal, onDrop } = options;
  const durationSeconds = options.durationSeconds ?? Infinity;
  const maxInFlight = options.maxInFlight ?? 256;
  if (!(rps > 0) || !Number.isFinite(rps)) throw new TypeError(`rps must be a finite number > 0, got ${rps}`);
  if (!(durationSeconds > 0)) throw new TypeError(`durationSeconds must be > 0, got ${durationSeconds}`);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new TypeError(`maxInFlight must be an integer >= 1, got ${maxInFlight}`);

  const intervalMs = 1000 / rps;
  const start = performance.now();
  const endAt = start + durationSeconds * 1000;
  const pending = new Set<Promise<void>>();
  let n = 0;
  let sent = 0;
  let dropped = 0;
  let failedSends = 0;
  let maxLagMs = 0;

  while (!signal?.aborted) {
    const now = performance.now();
    // Everything due by now goes out in this turn: after a stall (GC, a slow tick) the backlog is
    // sent at once, as the clients it stands for would have sent it.
    for (let due = start + n * intervalMs; due <= now && due < endAt; due = start + n * intervalMs) {
      if (pending.size >= maxInFlight) {
        dropped++;
        onDrop?.(n);
      } else {
        const lagMs = now - due;
        if (lagMs > maxLagMs) maxLagMs = lagMs;
        sent++;
        const p: Promise<void> = send(n, lagMs)
          .catch(() => {
            failedSends++;
          })
          .finally(() => pending.delete(p));
        pending.add(p);
      }
      n++;
    }
    const next = start + n * intervalMs;
    // The last send is due before the end: wait out the rest of the duration, so that `rps` sends
    // per second over `durationSeconds` is what the caller measures.
    await sleep(Math.min(next, endAt) - performance.now(), signal);
    if (next >= endAt) break;
  }
  const scheduleSeconds = (Math.min(performance.now(), endAt) - start) / 1000;
  while (pending.size > 0) await Promise.all([...pending]);
  return { scheduled: sent + dropped, sent, dropped, failedSends, scheduleSeconds, maxLagMs };
}
