import {
  chunkLogBatch,
  DEFAULT_BATCH_LIMITS,
  MLFLOW_LIMITS,
  MlflowValidationError,
  prepareLogBatch,
  type MetricInput,
  type WireBatch,
} from '../../lib/mlflow';
import { truncateTagValue, validateKey } from '../../lib/mlflow/validation';

const RUN_ID = '0123456789abcdef0123456789abcdef';

function requestBytes(chunk: WireBatch): number {
  return Buffer.byteLength(JSON.stringify({ run_id: RUN_ID, ...chunk }), 'utf8');
}

/** Every chunk must be something `_validate_batch_log_api_req` accepts. */
function expectWithinServerLimits(chunks: WireBatch[]): void {
  for (const c of chunks) {
    expect(c.metrics.length).toBeLessThanOrEqual(1000);
    expect(c.params.length).toBeLessThanOrEqual(100);
    expect(c.tags.length).toBeLessThanOrEqual(100);
    expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(1000);
    expect(c.metrics.length + c.params.length + c.tags.length).toBeGreaterThan(0);
    expect(requestBytes(c)).toBeLessThanOrEqual(1_000_000);
  }
}

describe('log-batch chunking', () => {
  it('splits 2500 metrics, 250 params and 150 tags into valid requests, losing and reordering nothing', () => {
    const metrics: MetricInput[] = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 7}`, value: i / 3, step: i, timestamp: 1_700_000_000_000 + i }));
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, i]));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, `v${i}`]));
    const chunks = chunkLogBatch(RUN_ID, prepareLogBatch({ metrics, params, tags }));

    expectWithinServerLimits(chunks);
    expect(chunks.flatMap((c) => c.metrics).map((m) => m.step)).toEqual(metrics.map((m) => m.step));
    expect(chunks.flatMap((c) => c.params).map((p) => p.key)).toEqual(Object.keys(params));
    expect(chunks.flatMap((c) => c.tags).map((t) => t.key)).toEqual(Object.keys(tags));
    // 250 params need 3 requests, 150 tags 2 more at least, 2500 metrics another 3 at least.
    expect(chunks.length).toBeGreaterThanOrEqual(6);
    expect(chunks.length).toBeLessThanOrEqual(8);
  });

  it('fills requests up to the limits rather than sending one entity each', () => {
    const metrics = Array.from({ length: 1000 }, (_, i) => ({ key: 'loss', value: i, step: i, timestamp: 1 }));
    const chunks = chunkLogBatch(RUN_ID, prepareLogBatch({ metrics }));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.metrics).toHaveLength(1000);
    expect(chunkLogBatch(RUN_ID, prepareLogBatch({ metrics: [...metrics, { key: 'loss', value: 0, step: 1000, timestamp: 1 }] }))).toHaveLength(2);
  });

  it('splits by JSON size when values are large', () => {
    // 100 params of 6000 characters fit the count limit but not 1e6 bytes once some are 3-byte characters.
    const params = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`big${i}`, '€'.repeat(6000)]));
    const chunks = chunkLogBatch(RUN_ID, prepareLogBatch({ params }));
    expect(chunks.length).toBeGreaterThan(1);
    expectWithinServerLimits(chunks);
    expect(chunks.flatMap((c) => c.params)).toHaveLength(100);
  });

  it('honours smaller custom limits exactly', () => {
    const limits = { ...DEFAULT_BATCH_LIMITS, maxMetrics: 3, maxEntities: 4 };
    const chunks = chunkLogBatch(RUN_ID, prepareLogBatch({ params: { a: 1, b: 2 }, metrics: Array.from({ length: 7 }, (_, i) => ({ key: 'm', value: i, timestamp: 1 })) }), limits);
    expect(chunks.map((c) => [c.params.length, c.metrics.length])).toEqual([
      [2, 2],
      [0, 3],
      [0, 2],
    ]);
  });

  it('returns no requests for an empty batch', () => {
    expect(chunkLogBatch(RUN_ID, prepareLogBatch({}))).toEqual([]);
  });
});

describe('log-batch preparation', () => {
  it('fills step 0 and one shared timestamp, and sends NaN and infinities as protobuf strings', () => {
    const b = prepareLogBatch({ metrics: [{ key: 'a', value: NaN }, { key: 'b', value: Infinity, step: 4 }, { key: 'c', value: -Infinity }] }, 1234);
    expect(b.metrics).toEqual([
      { key: 'a', value: 'NaN', step: 0, timestamp: 1234 },
      { key: 'b', value: 'Infinity', step: 4, timestamp: 1234 },
      { key: 'c', value: '-Infinity', step: 0, timestamp: 1234 },
    ]);
  });

  it('stringifies params, sends a param repeated with the same value once, and refuses a conflicting one', () => {
    expect(prepareLogBatch({ params: [{ key: 'lr', value: 0.1 }, { key: 'lr', value: '0.1' }, { key: 'deep', value: true }] }).params).toEqual([
      { key: 'lr', value: '0.1' },
      { key: 'deep', value: 'true' },
    ]);
    expect(() => prepareLogBatch({ params: [{ key: 'lr', value: 0.1 }, { key: 'lr', value: 0.2 }] })).toThrow(MlflowValidationError);
  });

  it('keeps the last value of a repeated tag and truncates tag values to 5000 characters', () => {
    const b = prepareLogBatch({ tags: [{ key: 't', value: 'old' }, { key: 'long', value: 'x'.repeat(9000) }, { key: 't', value: 'new' }] });
    expect(b.tags.map((t) => [t.key, t.value.length])).toEqual([
      ['long', 5000],
      ['t', 3],
    ]);
    expect(b.tags.find((t) => t.key === 't')?.value).toBe('new');
  });

  it('does not split a surrogate pair when truncating', () => {
    const value = 'a'.repeat(4999) + '😀' + 'b';
    const cut = truncateTagValue(value);
    expect(cut).toBe('a'.repeat(4999));
    expect(truncateTagValue('short')).toBe('short');
  });

  it('refuses a param value over 6000 characters instead of cutting it', () => {
    expect(() => prepareLogBatch({ params: { p: 'x'.repeat(MLFLOW_LIMITS.maxParamValueLength + 1) } })).toThrow(/param 'p' is 6001 characters/);
  });

  it.each([
    ['', /must not be empty/],
    ['a'.repeat(251), /limit is 250/],
    ['bad$char', /may only contain/],
    ['emoji😀', /may only contain/],
    ['/leading', /normalized relative path/],
    ['trailing/', /normalized relative path/],
    ['double//slash', /normalized relative path/],
    ['a/./b', /normalized relative path/],
    ['../up', /normalized relative path/],
    ['a/../b', /normalized relative path/],
    ['.', /normalized relative path/],
  ])('rejects the metric key %j with a clear error', (key, message) => {
    const err = (() => {
      try {
        prepareLogBatch({ metrics: [{ key, value: 1 }] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(MlflowValidationError);
    expect((err as MlflowValidationError).field).toBe('metric key');
    expect((err as Error).message).toMatch(message);
  });

  it.each(['loss', 'train/loss', 'val.auc@k'.replace('@', '_'), 'précision', 'a b-c_d.e:f', 'a'.repeat(250)])('accepts the key %j', (key) => {
    expect(() => validateKey('metric key', key)).not.toThrow();
  });

  it('validates everything before anything is sent (a bad key late in the batch fails the whole call)', () => {
    const metrics = Array.from({ length: 1500 }, (_, i) => ({ key: i === 1400 ? 'bad key!' : 'ok', value: i }));
    expect(() => prepareLogBatch({ metrics })).toThrow(MlflowValidationError);
  });

  it('rejects non-numeric values, fractional steps and negative timestamps', () => {
    expect(() => prepareLogBatch({ metrics: [{ key: 'a', value: '1' as unknown as number }] })).toThrow(/not a number/);
    expect(() => prepareLogBatch({ metrics: [{ key: 'a', value: 1, step: 1.5 }] })).toThrow(/not an integer/);
    expect(() => prepareLogBatch({ metrics: [{ key: 'a', value: 1, timestamp: -1 }] })).toThrow(/non-negative/);
  });
});
