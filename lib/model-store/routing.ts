/**
 * Which slot serves a request. Sticky: the same transaction id always lands in the same bucket,
 * so retries of one transaction get the same model set and the same score. Buckets are fixed per
 * id and the canary takes the lowest ones, so ramping the canary up (5 % → 25 %) only moves
 * champion traffic to the canary, never back.
 *
 * The hash (FNV-1a, 32 bits, over the id's UTF-8 bytes) and the bucket rule are the same as the
 * API's `api/routing.ts`, so both agree on every id's slot.
 */
import type { Slot } from '../serving/contract';

/** Buckets per 100 %: a share is honoured to 0.01 of a percent. */
export const ROUTING_BUCKETS = 10_000;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash;
}

/** The bucket (0..9999) of a transaction id. */
export function routingBucket(transactionId: string): number {
  return fnv1a32(transactionId) % ROUTING_BUCKETS;
}

/**
 * The slot of a request: `canary` when the id's bucket is below `canaryPercent` × 100, else
 * `champion`. A request without an id gets a random bucket. 0 % or less (and NaN) always gives
 * the champion, 100 % or more always the canary.
 */
export function chooseSlot(transactionId: string | undefined, canaryPercent: number): Slot {
  if (!(canaryPercent > 0)) return 'champion';
  const bucket = transactionId === undefined || transactionId === '' ? Math.floor(Math.random() * ROUTING_BUCKETS) : routingBucket(transactionId);
  return bucket < canaryPercent * (ROUTING_BUCKETS / 100) ? 'canary' : 'champion';
}
