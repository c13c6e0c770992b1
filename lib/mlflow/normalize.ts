import { decodeMetricValue } from './batch';
import type { Experiment, FileInfo, KeyValue, Metric, ModelVersion, RegisteredModel, Run, RunInfo } from './types';

/**
 * The server drops default-valued fields (empty lists, zero numbers) from its JSON. These
 * functions restore the lists and decode non-finite metric values, so callers can index
 * without `?? []` everywhere. Each accepts its own output unchanged.
 */

type Raw<T> = Partial<Record<keyof T, unknown>> & Record<string, unknown>;

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  // int64 may come as a string from some proxies; accept both.
  if (typeof value === 'string' && value !== '' && !Number.isNaN(Number(value))) return Number(value);
  return undefined;
}

function withOptional<T extends object>(base: T, optional: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

export function normalizeExperiment(raw: Raw<Experiment>): Experiment {
  return withOptional(
    {
      experiment_id: String(raw.experiment_id ?? ''),
      name: String(raw.name ?? ''),
      artifact_location: String(raw.artifact_location ?? ''),
      lifecycle_stage: (str(raw.lifecycle_stage) ?? 'active') as Experiment['lifecycle_stage'],
      tags: list<KeyValue>(raw.tags),
    },
    { creation_time: num(raw.creation_time), last_update_time: num(raw.last_update_time) },
  );
}

export function normalizeRunInfo(raw: Raw<RunInfo>): RunInfo {
  return withOptional(
    {
      run_id: String(raw.run_id ?? raw.run_uuid ?? ''),
      experiment_id: String(raw.experiment_id ?? ''),
      status: (str(raw.status) ?? 'RUNNING') as RunInfo['status'],
      artifact_uri: String(raw.artifact_uri ?? ''),
      lifecycle_stage: (str(raw.lifecycle_stage) ?? 'active') as RunInfo['lifecycle_stage'],
    },
    { run_name: str(raw.run_name), start_time: num(raw.start_time), end_time: num(raw.end_time) },
  );
}

export function normalizeMetric(raw: Raw<Metric>): Metric {
  return { key: String(raw.key), value: decodeMetricValue(raw.value), timestamp: num(raw.timestamp) ?? 0, step: num(raw.step) ?? 0 };
}

export function normalizeRun(raw: { info?: unknown; data?: unknown }): Run {
  const data = (raw.data ?? {}) as Record<string, unknown>;
  return {
    info: normalizeRunInfo((raw.info ?? {}) as Raw<RunInfo>),
    data: {
      metrics: list<Raw<Metric>>(data.metrics).map(normalizeMetric),
      params: list<KeyValue>(data.params).map((p) => ({ key: p.key, value: p.value ?? '' })),
      tags: list<KeyValue>(data.tags).map((t) => ({ key: t.key, value: t.value ?? '' })),
    },
  };
}

export function normalizeModelVersion(raw: Raw<ModelVersion>): ModelVersion {
  return withOptional(
    {
      name: String(raw.name ?? ''),
      version: String(raw.version ?? ''),
      current_stage: str(raw.current_stage) ?? 'None',
      source: String(raw.source ?? ''),
      status: (str(raw.status) ?? 'READY') as ModelVersion['status'],
      tags: list<KeyValue>(raw.tags).map((t) => ({ key: t.key, value: t.value ?? '' })),
      aliases: list<string>(raw.aliases),
    },
    {
      creation_timestamp: num(raw.creation_timestamp),
      last_updated_timestamp: num(raw.last_updated_timestamp),
      description: str(raw.description),
      run_id: str(raw.run_id) || undefined,
      run_link: str(raw.run_link) || undefined,
      status_message: str(raw.status_message),
      model_id: str(raw.model_id) || undefined,
    },
  );
}

export function normalizeRegisteredModel(raw: Raw<RegisteredModel>): RegisteredModel {
  return withOptional(
    {
      name: String(raw.name ?? ''),
      latest_versions: list<Raw<ModelVersion>>(raw.latest_versions).map(normalizeModelVersion),
      tags: list<KeyValue>(raw.tags).map((t) => ({ key: t.key, value: t.value ?? '' })),
      aliases: list<{ alias: string; version: unknown }>(raw.aliases).map((a) => ({ alias: a.alias, version: String(a.version) })),
    },
    {
      creation_timestamp: num(raw.creation_timestamp),
      last_updated_timestamp: num(raw.last_updated_timestamp),
      description: str(raw.description),
    },
  );
}

export function normalizeFileInfo(raw: Raw<FileInfo>): FileInfo {
  return withOptional({ path: String(raw.path ?? ''), is_dir: raw.is_dir === true }, { file_size: num(raw.file_size) });
}
