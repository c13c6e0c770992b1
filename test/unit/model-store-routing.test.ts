import { createRandom } from '../../lib/ml/data/random';
import { ROUTING_BUCKETS, chooseSlot, fnv1a32, routingBucket } from '../../lib/model-store/routing';

// Random transaction ids, UUID-shaped, from a fixed seed: the share checks below hold within a
// point by 3–7 standard deviations, and a fixed sample keeps a rare unlucky draw from flaking CI.
const random = createRandom(20_240_601);
const hex = (n: number): string => Array.from({ length: n }, () => random.int(16).toString(16)).join('');
const ids = Array.from({ length: 20_000 }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-${hex(4)}-${hex(12)}`);
const canaryShare = (percent: number, of: (string | undefined)[] = ids): number => (100 * of.filter((id) => chooseSlot(id, percent) === 'canary').length) / of.length;

describe('chooseSlot', () => {
  it('is sticky: the same transaction id always gets the same slot', () => {
    for (const id of ids.slice(0, 2000)) {
      const first = chooseSlot(id, 25);
      for (let i = 0; i < 3; i++) expect(chooseSlot(id, 25)).toBe(first);
    }
    expect(routingBucket('txn-42')).toBe(routingBucket('txn-42'));
  });

  it.each([5, 25, 50])('sends %d %% of 20,000 random transaction ids to the canary, within one point', (percent) => {
    expect(Math.abs(canaryShare(percent) - percent)).toBeLessThanOrEqual(1);
  });

  it.each([5, 25, 50])('sends %d %% of 20,000 sequential ids (txn-0, txn-1, …) to the canary, within one point', (percent) => {
    const sequential = Array.from({ length: 20_000 }, (_, i) => `txn-${i}`);
    expect(Math.abs(canaryShare(percent, sequential) - percent)).toBeLessThanOrEqual(1);
  });

  it('hashes with FNV-1a 32 (published test vectors), like the API', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('only moves transactions to the canary when the share grows', () => {
    const at5 = ids.filter((id) => chooseSlot(id, 5) === 'canary');
    expect(at5.length).toBeGreaterThan(0);
    for (const id of at5) expect(chooseSlot(id, 25)).toBe('canary');
  });

  it('routes requests without an id at random, in the same proportion', () => {
    // Math.random cannot be seeded: 100,000 draws put one point at 7 standard deviations.
    const none = new Array<undefined>(100_000).fill(undefined);
    expect(Math.abs(canaryShare(25, none) - 25)).toBeLessThanOrEqual(1);
  });

  it('sends nothing to the canary at 0 % (or below, or NaN) and everything at 100 %', () => {
    const sample = ids.slice(0, 1000);
    for (const percent of [0, -5, Number.NaN]) expect(canaryShare(percent, sample)).toBe(0);
    expect(canaryShare(100, sample)).toBe(100);
    expect(canaryShare(250, sample)).toBe(100);
  });

  it('spreads ids over all buckets', () => {
    const buckets = ids.map(routingBucket);
    expect(Math.min(...buckets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...buckets)).toBeLessThan(ROUTING_BUCKETS);
    // 20,000 ids over 10 deciles: each decile within 10 % ± 1.5 points.
    const deciles = new Array<number>(10).fill(0);
    for (const b of buckets) deciles[Math.floor(b / (ROUTING_BUCKETS / 10))]!++;
    for (const count of deciles) expect(Math.abs(count / ids.length - 0.1)).toBeLessThan(0.015);
  });
});
