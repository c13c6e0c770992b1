/**
 * MLflow REST shapes, keeping MLflow's own snake_case field names so they read like the REST
 * docs and the Python entities. The server omits default-valued fields; the client fills the
 * lists (`tags`, `metrics`, …) so they are always arrays, and leaves scalars optional.
 */

export type LifecycleStage = 'active' | 'deleted';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';
/** Canonical registry stage names; inputs are matched case-insensitively. */
export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time?: number;
  last_update_time?: number;
  tags: KeyValue[];
}

export interface Metric {
  key: string;
  /**
   * NaN round-trips (the wire carries it as the string "NaN"). MLflow's SQL store keeps ±Infinity
   * as ±1.7976931348623157e308 (the largest double), so that is what comes back.
   */
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

export interface RunData {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface Run {
  info: RunInfo;
  data: RunData;
}

export interface FileInfo {
  /** Relative to what was listed: run-relative for run listings, the basename for URI listings. */
  path: string;
  is_dir: boolean;
  /** Bytes; absent for directories. */
  file_size?: number;
}

export interface ModelVersion {
  name: string;
  /** A string on the wire, e.g. `"3"`. */
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  run_link?: string;
  status: ModelVersionStatus;
  status_message?: string;
  tags: KeyValue[];
  aliases: string[];
  model_id?: string;
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions: ModelVersion[];
  tags: KeyValue[];
  aliases: RegisteredModelAlias[];
}

/** One page of a paged search. `next_page_token` is absent on the last page. */
export interface Page<T> {
  items: T[];
  next_page_token?: string;
}

/** Tags, params or metrics as `{ key: value }`; later duplicates win, like MLflow's own views. */
export function toRecord<V>(entries: ReadonlyArray<{ key: string; value: V }>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const e of entries) out[e.key] = e.value;
  return out;
}
