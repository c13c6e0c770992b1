import { MlflowValidationError } from './errors';
import type { KeyValue } from './types';
import { prepareParam, prepareTag, validateKey } from './validation';

/** One metric point. `step` defaults to 0 and `timestamp` to the time of the `logBatch` call. */
export interface MetricInput {
  key: string;
  value: number;
  step?: number;
  /** Milliseconds since the epoch. */
  timestamp?: number;
}

export type ParamValue = string | number | boolean;

/** What `logBatch` takes: params and tags as a record or as `{ key, value }` lists. */
export interface LogBatchInput {
  metrics?: readonly MetricInput[];
  params?: Readonly<Record<string, ParamValue>> | ReadonlyArray<{ key: string; value: ParamValue }>;
  tags?: Readonly<Record<string, string>> | ReadonlyArray<{ key: string; value: string }>;
}

/**
 * A metric as sent. Protobuf JSON carries non-finite doubles as the strings `"NaN"`,
 * `"Infinity"` and `"-Infinity"`; `JSON.stringify` would turn them into `null`, which the server rejects.
 */
export interface WireMetric {
  key: string;
  value: number | 'NaN' | 'Infinity' | '-Infinity';
  timestamp: number;
  step: number;
}

export interface WireBatch {
  metrics: WireMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** The server's `log-batch` limits (`_validate_batch_log_api_req`). */
export interface BatchLimits {
  maxMetrics: number;
  maxParams: number;
  maxTags: number;
  /** Metrics, params and tags together. */
  maxEntities: number;
  /** Size of the JSON request body in bytes. */
  maxBytes: number;
}

export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({
  maxMetrics: 1000,
  maxParams: 100,
  maxTags: 100,
  maxEntities: 1000,
  maxBytes: 1_000_000,
});

export function encodeMetricValue(value: number): WireMetric['value'] {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** The inverse of {@link encodeMetricValue}. A missing value is proto3's default, 0. */
export function decodeMetricValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === undefined) return 0;
  if (typeof value === 'string') return Number(value);
  return NaN;
}

function entries<V>(input: Readonly<Record<string, V>> | ReadonlyArray<{ key: string; value: V }> | undefined): Array<[string, V]> {
  if (input === undefined) return [];
  if (Array.isArray(input)) return (input as ReadonlyArray<{ key: string; value: V }>).map((e) => [e.key, e.value]);
  return Object.entries(input as Record<string, V>);
}

/**
 * Validates and normalizes everything before the first request, so a bad key halfway through
 * does not leave a half-logged run. Params repeated with the same value are sent once (MLflow
 * rejects a key twice in one batch); with different values they are an error, as params are write-once.
 */
export function prepareLogBatch(input: LogBatchInput, now: number = Date.now()): WireBatch {
  const metrics: WireMetric[] = (input.metrics ?? []).map((m, i) => {
    validateKey('metric key', m.key);
    if (typeof m.value !== 'number') throw new MlflowValidationError('metric value', `metric '${m.key}' (#${i}) is ${typeof m.value}, not a number`);
    const step = m.step ?? 0;
    const timestamp = m.timestamp ?? now;
    if (!Number.isSafeInteger(step)) throw new MlflowValidationError('metric step', `metric '${m.key}' step ${step} is not an integer`);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new MlflowValidationError('metric timestamp', `metric '${m.key}' timestamp ${timestamp} is not a non-negative integer of milliseconds`);
    }
    return { key: m.key, value: encodeMetricValue(m.value), timestamp, step };
  });

  const params: KeyValue[] = [];
  const seen = new Map<string, string>();
  for (const [key, value] of entries(input.params)) {
    const p = prepareParam(key, value);
    const previous = seen.get(p.key);
    if (previous === undefined) {
      seen.set(p.key, p.value);
      params.push(p);
    } else if (previous !== p.value) {
      throw new MlflowValidationError('param', `param '${p.key}' is given twice with different values ('${previous}', '${p.value}')`);
    }
  }

  // Tags overwrite, so only the last value of a repeated key matters.
  const tagMap = new Map<string, string>();
  for (const [key, value] of entries(input.tags)) {
    const t = prepareTag(key, value);
    tagMap.delete(t.key);
    tagMap.set(t.key, t.value);
  }
  const tags = [...tagMap].map(([key, value]) => ({ key, value }));
  return { metrics, params, tags };
}

function byteSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * Splits a prepared batch into requests the server accepts: per request at most `maxMetrics`
 * metrics, `maxParams` params, `maxTags` tags, `maxEntities` in all and `maxBytes` of JSON.
 * Params go first and metrics keep their order, so each metric's points arrive in sequence.
 */
export function chunkLogBatch(runId: string, batch: WireBatch, limits: BatchLimits = DEFAULT_BATCH_LIMITS): WireBatch[] {
  const envelope = byteSize({ run_id: runId, metrics: [], params: [], tags: [] });
  const chunks: WireBatch[] = [];
  let current: WireBatch = { metrics: [], params: [], tags: [] };
  let bytes = envelope;
  let count = 0;

  const flush = (): void => {
    if (count > 0) chunks.push(current);
    current = { metrics: [], params: [], tags: [] };
    bytes = envelope;
    count = 0;
  };
  const add = <K extends keyof WireBatch>(kind: K, item: WireBatch[K][number], max: number): void => {
    // +1 for the comma that separates array items.
    const size = byteSize(item) + 1;
    if (envelope + size > limits.maxBytes) {
      throw new MlflowValidationError('log batch', `one ${kind.slice(0, -1)} ('${item.key}') alone exceeds the ${limits.maxBytes}-byte request limit`);
    }
    if (current[kind].length >= max || count >= limits.maxEntities || bytes + size > limits.maxBytes) flush();
    (current[kind] as Array<WireBatch[K][number]>).push(item);
    bytes += size;
    count += 1;
  };

  for (const p of batch.params) add('params', p, limits.maxParams);
  for (const t of batch.tags) add('tags', t, limits.maxTags);
  for (const m of batch.metrics) add('metrics', m, limits.maxMetrics);
  flush();
  return chunks;
}
