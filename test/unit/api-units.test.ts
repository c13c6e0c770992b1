import { describeValidation, fieldOfPointer } from '../../api/plugins/errors';
import { LatencyHistogram, LiveStats, SlotStats } from '../../api/live-stats';
import { chooseSlot, fnv1a32 } from '../../api/routing';
import { confidence, ensembleScores, riskLevel, writeFeatureRow } from '../../api/scoring';
import { InvalidRequestError, ScoringError } from '../../api/errors';
import { createRandom } from '../../lib/ml/data/random';
import type { ModelSetManifest } from '../../lib/serving/contract';

describe('routing', () => {
  test('fnv1a32 matches the published FNV-1a test vectors', () => {
    // From the FNV reference test suite (Fowler/Noll/Vo, "test_fnv.c"), 32-bit FNV-1a.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  test('0 % never and 100 % always picks the canary; the share tracks the percentage', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `txn_${i}`);
    expect(ids.every((id) => chooseSlot(id, 0) === 'champion')).toBe(true);
    expect(ids.every((id) => chooseSlot(id, 100) === 'canary')).toBe(true);
    for (const percent of [1, 5, 25, 50]) {
      const share = (ids.filter((id) => chooseSlot(id, percent) === 'canary').length / ids.length) * 100;
      expect(Math.abs(share - percent)).toBeLessThan(1.5);
    }
  });

  test('ramping up only moves ids from the champion to the canary', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i * 7919}`);
    for (const id of ids) {
      if (chooseSlot(id, 5) === 'canary') expect(chooseSlot(id, 25)).toBe('canary');
      if (chooseSlot(id, 25) === 'champion') expect(chooseSlot(id, 5)).toBe('champion');
    }
  });
});

describe('live statistics', () => {
  test('latency quantiles are within the bucket resolution of the exact ones', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBe(0);
    const rnd = createRandom(3);
    const samples = Array.from({ length: 5000 }, () => Math.exp(rnd.next() * 6 - 2)); // 0.14 ms .. 55 ms, log-uniform
    for (const s of samples) h.record(s);
    const sorted = [...samples].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(Math.abs(h.quantile(q) / exact - 1)).toBeLessThan(0.03);
    }
    expect(h.count).toBe(5000);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.quantile(0.95)).toBe(0);
  });

  test('out-of-range latencies are clamped, not lost', () => {
    const h = new LatencyHistogram({ minMs: 1, maxMs: 100 });
    h.record(0.001);
    h.record(10_000);
    expect(h.count).toBe(2);
    expect(h.quantile(0.5)).toBe(1);
    expect(h.quantile(1)).toBeGreaterThanOrEqual(95);
  });

  test('scores fall into 20 equal bins with 1.0 in the last', () => {
    const s = new SlotStats();
    for (const score of [0, 0.049, 0.05, 0.5, 0.999, 1]) s.recordScore(score);
    const expected = new Array(20).fill(0);
    expected[0] = 2;
    expected[1] = 1;
    expected[10] = 1;
    expected[19] = 2;
    expect(s.scoreHistogram).toEqual(expected);
  });

  test('a slot restarts from zero when its release changes', () => {
    const live = new LiveStats();
    const a = live.forRelease('canary', 'rel-a');
    a.requests += 3;
    a.errors += 1;
    a.latency.record(5);
    expect(live.snapshot('canary', 'rel-a')).toMatchObject({ release: 'rel-a', requests: 3, errors: 1 });
    expect(live.snapshot('champion', null)).toMatchObject({ release: null, requests: 0 });
    expect(live.snapshot('canary', 'rel-b')).toEqual({ release: 'rel-b', requests: 0, errors: 0, p50Ms: 0, p95Ms: 0, scoreHistogram: new Array(20).fill(0) });
  });
});

describe('decision', () => {
  test('HIGH and CRITICAL are exactly the scores at or above the threshold, whatever the threshold', () => {
    const rnd = createRandom(9);
    for (let i = 0; i < 5000; i++) {
      const t = 0.01 + rnd.next() * 0.98;
      const score = rnd.next();
      const level = riskLevel(score, t);
      expect(level === 'HIGH' || level === 'CRITICAL').toBe(score >= t);
      const c = confidence(score, t);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(1);
    }
  });

  test('documented bands at threshold 0.5', () => {
    expect([0.1, 0.3, 0.6, 0.8].map((s) => riskLevel(s, 0.5))).toEqual(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);
    expect(confidence(0.5, 0.5)).toBe(0);
    expect(confidence(1, 0.5)).toBe(1);
    expect(confidence(0, 0.5)).toBe(1);
    expect(confidence(0.75, 0.5)).toBeCloseTo(0.5);
  });

  test('the ensemble weighs present members only and refuses all-zero weights', () => {
    const manifest = { id: 'r', weights: { xgboost: 0.5, random_forest: 0.3, neural_network: 0.15 } } as unknown as ModelSetManifest;
    const members = new Map([
      ['xgboost', Float32Array.of(0.2, 1)],
      ['random_forest', Float32Array.of(0.6, 0)],
    ] as const);
    const out = ensembleScores(manifest, members, 2);
    expect(out[0]).toBeCloseTo((0.5 * 0.2 + 0.3 * 0.6) / 0.8, 6);
    expect(out[1]).toBeCloseTo(0.5 / 0.8, 6);
    expect(() => ensembleScores({ id: 'r', weights: {} } as unknown as ModelSetManifest, members, 2)).toThrow(ScoringError);
  });
});

describe('feature rows', () => {
  const names = ['a', 'b', 'c'];
  test('array and object inputs give the same row; order follows the model', () => {
    const out = new Float32Array(6);
    writeFeatureRow([1, 2, 3], names, out, 0, 'features');
    writeFeatureRow({ c: 3, a: 1, b: 2 }, names, out, 1, 'features');
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3]);
  });
  test.each([
    [[1, 2], 'features'],
    [[1, Infinity, 3], 'features[1]'],
    [[1, 2, 1e40], 'features[2]'],
    [{ a: 1, b: 2 }, 'features.c'],
    [{ a: 1, b: 2, c: 3, d: 4 }, 'features.d'],
    [{ a: 1, b: 2, C: 3 }, 'features.C'],
    [{ a: 1, b: NaN, c: 3 }, 'features.b'],
  ])('%j is refused naming %s', (input, field) => {
    let error: unknown;
    try {
      writeFeatureRow(input as number[], names, new Float32Array(3), 0, 'features');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe(field);
    expect((error as InvalidRequestError).message.startsWith(field)).toBe(true);
  });
});

describe('validation messages', () => {
  test('JSON pointers become field paths', () => {
    expect(fieldOfPointer('/transactions/3/features/0')).toBe('transactions[3].features[0]');
    expect(fieldOfPointer('/features', 'V~1x')).toBe('features.V~1x');
    expect(fieldOfPointer('/features/a~1b')).toBe('features.a/b');
    expect(fieldOfPointer('')).toBe('');
  });

  test('a union failure reports the deepest, most specific error', () => {
    const errors = [
      { keyword: 'type', instancePath: '/features', schemaPath: '#/anyOf/0/type', params: { type: 'array' }, message: 'must be array' },
      { keyword: 'type', instancePath: '/features/V3', schemaPath: '#/anyOf/1/type', params: { type: 'number' }, message: 'must be number' },
      { keyword: 'anyOf', instancePath: '/features', schemaPath: '#/anyOf', params: {}, message: 'must match a schema in anyOf' },
    ];
    expect(describeValidation(errors)).toEqual({ field: 'features.V3', message: 'features.V3 must be number' });
    expect(describeValidation([errors[0]!, { ...errors[0]!, params: { type: 'object' } }])).toEqual({ field: 'features', message: 'features must be array or object' });
    expect(describeValidation([{ keyword: 'required', instancePath: '', schemaPath: '#/required', params: { missingProperty: 'transaction_id' }, message: 'x' }])).toEqual({
      field: 'transaction_id',
      message: 'transaction_id is required',
    });
  });
});
