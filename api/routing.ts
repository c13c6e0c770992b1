/**
 * Sticky canary routing: a transaction id always lands in the same slot for a given canary share,
 * and raising the share only moves ids from the champion to the canary (never back), so a client
 * retrying a transaction sees the same model set while the canary ramps up.
 */
import type { Slot } from '../lib/serving/contract';

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** Hash buckets: a percentage resolves to 0.01 points. */
const BUCKETS = 10_000;

/**
 * The slot serving `transactionId` when the canary takes `canaryPercent` (0–100) of the traffic:
 * `canary` when `fnv1a32(id) mod 10000 < percent * 100`.
 */
export function chooseSlot(transactionId: string, canaryPercent: number): Slot {
  if (!(canaryPercent > 0)) return 'champion';
  return fnv1a32(transactionId) % BUCKETS < canaryPercent * 100 ? 'canary' : 'champion';
}
