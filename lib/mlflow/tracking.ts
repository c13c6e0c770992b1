import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { chunkLogBatch, prepareLogBatch, type BatchLimits, type LogBatchInput, DEFAULT_BATCH_LIMITS } from './batch';
import { MlflowApiError, MlflowValidationError } from './errors';
import type { HttpClient } from './http';
import { normalizeExperiment, normalizeMetric, normalizeRun, normalizeRunInfo } from './normalize';
import type { Experiment, Metric, Page, Run, RunInfo, RunStatus, ViewType } from './types';
import { MLFLOW_LIMITS, filterLiteral, prepareTag, validateIdempotencyKey } from './validation';

const API = '/api/2.0/mlflow';

/** The tag that makes run and model-version creation idempotent (see `createRun`). */
export const IDEMPOTENCY_TAG = 'fraudml.idempotency_key';
/** MLflow's own tag linking a nested run to its parent; the UI nests runs by it. */
export const PARENT_RUN_TAG = 'mlflow.parentRunId';

export interface CreateRunOptions {
  experimentId: string;
  runName?: string;
  /** Milliseconds since the epoch. @default Date.now() */
  startTime?: number;
  tags?: Readonly<Record<string, string>>;
  /** Makes this a nested run under `parentRunId` (sets `mlflow.parentRunId`). */
  parentRunId?: string;
  /**
   * A stable key for this logical run, e.g. `<workflowId>/<model>`. With one, an existing run
   * carrying the key is returned instead of creating another, so a retried Temporal activity
   * gets the same run back. Without one, a random key still guards against the duplicate a
   * lost response to `runs/create` would otherwise cause.
   */
  idempotencyKey?: string;
}

export interface SearchRunsOptions {
  experimentIds: readonly string[];
  /** MLflow filter syntax, e.g. `params.model = 'xgboost' and metrics.auc > 0.9`. */
  filter?: string;
  /** @default 'ACTIVE_ONLY' */
  runViewType?: ViewType;
  /** @default 1000 (the server's default) */
  maxResults?: number;
  /** e.g. `['metrics.auc DESC', 'start_time ASC']` */
  orderBy?: readonly string[];
  pageToken?: string;
}

export interface UpdateRunOptions {
  status?: RunStatus;
  /** Milliseconds since the epoch. */
  endTime?: number;
  runName?: string;
}

/** Experiments, runs, params, metrics and tags (`/api/2.0/mlflow/experiments|runs|metrics/...`). */
export class TrackingApi {
  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
    private readonly batchLimits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  async getExperiment(experimentId: string): Promise<Experiment> {
    const res = await this.http.json<{ experiment?: Record<string, unknown> }>({
      method: 'GET',
      path: `${API}/experiments/get`,
      query: { experiment_id: experimentId },
    });
    return normalizeExperiment(res.experiment ?? {});
  }

  /** The experiment with this name, deleted ones included (check `lifecycle_stage`), or undefined. */
  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const res = await this.http.json<{ experiment?: Record<string, unknown> }>({
        method: 'GET',
        path: `${API}/experiments/get-by-name`,
        query: { experiment_name: name },
      });
      return normalizeExperiment(res.experiment ?? {});
    } catch (err) {
      if (err instanceof MlflowApiError && err.isNotFound) return undefined;
      throw err;
    }
  }

  /**
   * Returns the active experiment called `name`, creating it, or restoring it if it was deleted
   * (a deleted experiment keeps its name, so creating another would fail). Safe when several
   * processes race: a concurrent create shows up as 400 RESOURCE_ALREADY_EXISTS and is re-read.
   */
  async getOrCreateExperiment(name: string, options: { artifactLocation?: string; tags?: Readonly<Record<string, string>> } = {}): Promise<Experiment> {
    if (name.trim() === '' || name.length > MLFLOW_LIMITS.maxExperimentNameLength) {
      throw new MlflowValidationError('experiment name', `must be 1-${MLFLOW_LIMITS.maxExperimentNameLength} characters`);
    }
    let experiment = await this.getExperimentByName(name);
    if (experiment === undefined) {
      try {
        const res = await this.http.json<{ experiment_id: string }>({
          method: 'POST',
          path: `${API}/experiments/create`,
          json: {
            name,
            artifact_location: options.artifactLocation,
            tags: Object.entries(options.tags ?? {}).map(([k, v]) => prepareTag(k, v)),
          },
        });
        this.logger.info({ experimentId: res.experiment_id, name }, 'created MLflow experiment');
        return this.checkedArtifactLocation(await this.getExperiment(res.experiment_id));
      } catch (err) {
        if (!(err instanceof MlflowApiError && err.isAlreadyExists)) throw err;
        experiment = await this.getExperimentByName(name);
        if (experiment === undefined) throw err;
      }
    }
    if (experiment.lifecycle_stage === 'deleted') {
      await this.restoreExperiment(experiment.experiment_id);
      this.logger.info({ experimentId: experiment.experiment_id, name }, 'restored deleted MLflow experiment');
      experiment = await this.getExperiment(experiment.experiment_id);
    }
    return this.checkedArtifactLocation(experiment);
  }

  /** Marks an experiment and its runs deleted; its name stays taken until restored or purged. */
  async deleteExperiment(experimentId: string): Promise<void> {
    await this.http.json({ method: 'POST', path: `${API}/experiments/delete`, json: { experiment_id: experimentId } });
  }

  /** Restores a deleted experiment; restoring one that a concurrent caller already restored is fine. */
  async restoreExperiment(experimentId: string): Promise<void> {
    try {
      await this.http.json({ method: 'POST', path: `${API}/experiments/restore`, json: { experiment_id: experimentId } });
    } catch (err) {
      if (!(err instanceof MlflowApiError) || err.retryable) throw err;
      const now = await this.getExperiment(experimentId);
      if (now.lifecycle_stage !== 'active') throw err;
    }
  }

  /**
   * Creates a run, or returns the one already created for `idempotencyKey` (see
   * {@link CreateRunOptions.idempotencyKey}). The run found may be in any state; a caller that
   * resumes work should look at `info.status`.
   */
  async createRun(options: CreateRunOptions): Promise<Run> {
    const key = options.idempotencyKey ?? randomUUID();
    validateIdempotencyKey(key);
    if (options.idempotencyKey !== undefined) {
      const existing = await this.findRunByIdempotencyKey(options.experimentId, key);
      if (existing !== undefined) {
        this.logger.info({ runId: existing.info.run_id, idempotencyKey: key }, 'reusing MLflow run created earlier with this key');
        return existing;
      }
    }
    const tags = Object.entries(options.tags ?? {}).map(([k, v]) => prepareTag(k, v));
    if (options.parentRunId !== undefined) tags.push({ key: PARENT_RUN_TAG, value: options.parentRunId });
    tags.push({ key: IDEMPOTENCY_TAG, value: key });
    const res = await this.http.json<{ run?: { info?: unknown; data?: unknown } }>({
      method: 'POST',
      path: `${API}/runs/create`,
      json: {
        experiment_id: options.experimentId,
        run_name: options.runName,
        start_time: options.startTime ?? Date.now(),
        tags,
      },
      idempotent: false,
      recover: async () => {
        const found = await this.findRunByIdempotencyKey(options.experimentId, key);
        return found === undefined ? undefined : { run: found };
      },
    });
    const run = normalizeRun(res.run ?? {});
    this.logger.debug({ runId: run.info.run_id, experimentId: options.experimentId }, 'created MLflow run');
    return run;
  }

  /** The oldest active run of the experiment tagged with this idempotency key, if any. */
  async findRunByIdempotencyKey(experimentId: string, key: string): Promise<Run | undefined> {
    const page = await this.searchRuns({
      experimentIds: [experimentId],
      filter: `tags.\`${IDEMPOTENCY_TAG}\` = ${filterLiteral(key)}`,
      orderBy: ['start_time ASC'],
      maxResults: 1,
    });
    return page.items[0];
  }

  async getRun(runId: string): Promise<Run> {
    const res = await this.http.json<{ run?: { info?: unknown; data?: unknown } }>({ method: 'GET', path: `${API}/runs/get`, query: { run_id: runId } });
    return normalizeRun(res.run ?? {});
  }

  async updateRun(runId: string, options: UpdateRunOptions): Promise<RunInfo> {
    const res = await this.http.json<{ run_info?: Record<string, unknown> }>({
      method: 'POST',
      path: `${API}/runs/update`,
      json: { run_id: runId, status: options.status, end_time: options.endTime, run_name: options.runName },
    });
    return normalizeRunInfo(res.run_info ?? {});
  }

  /** Ends a run with a terminal status and an end time (now unless given). */
  async endRun(runId: string, status: Extract<RunStatus, 'FINISHED' | 'FAILED' | 'KILLED'> = 'FINISHED', endTime: number = Date.now()): Promise<RunInfo> {
    return this.updateRun(runId, { status, endTime });
  }

  /** One page of runs; pass `next_page_token` back as `pageToken` for the next. */
  async searchRuns(options: SearchRunsOptions): Promise<Page<Run>> {
    const res = await this.http.json<{ runs?: Array<{ info?: unknown; data?: unknown }>; next_page_token?: string }>({
      method: 'POST',
      path: `${API}/runs/search`,
      json: {
        experiment_ids: options.experimentIds,
        filter: options.filter,
        run_view_type: options.runViewType ?? 'ACTIVE_ONLY',
        max_results: options.maxResults,
        order_by: options.orderBy,
        page_token: options.pageToken,
      },
    });
    return page((res.runs ?? []).map(normalizeRun), res.next_page_token);
  }

  /** Sets (overwrites) one run tag; the value is cut to 5000 characters. */
  async setTag(runId: string, key: string, value: string): Promise<void> {
    const tag = prepareTag(key, value);
    await this.http.json({ method: 'POST', path: `${API}/runs/set-tag`, json: { run_id: runId, ...tag } });
  }

  /**
   * Logs metrics, params and tags in as many `log-batch` requests as the server's limits
   * require. Everything is validated before the first request. Re-sending the same batch after
   * a lost response is harmless: params and tags are re-set to the same values and the server
   * drops metric points identical in key, value, step and timestamp.
   */
  async logBatch(runId: string, input: LogBatchInput): Promise<void> {
    const chunks = chunkLogBatch(runId, prepareLogBatch(input), this.batchLimits);
    for (const chunk of chunks) {
      await this.http.json({ method: 'POST', path: `${API}/runs/log-batch`, json: { run_id: runId, ...chunk } });
    }
    if (chunks.length > 1) this.logger.debug({ runId, requests: chunks.length }, 'logged MLflow batch in several requests');
  }

  /** Every point of one metric, across pages. */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.http.json<{ metrics?: Array<Record<string, unknown>>; next_page_token?: string }>({
        method: 'GET',
        path: `${API}/metrics/get-history`,
        query: { run_id: runId, metric_key: key, page_token: pageToken, max_results: 25_000 },
      });
      out.push(...(res.metrics ?? []).map(normalizeMetric));
      pageToken = res.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out;
  }

  private checkedArtifactLocation(experiment: Experiment): Experiment {
    if (!experiment.artifact_location.startsWith('mlflow-artifacts:')) {
      // Runs of this experiment will fail on artifact calls; say so early, but the experiment is still usable for metrics.
      this.logger.warn(
        { experimentId: experiment.experiment_id, artifactLocation: experiment.artifact_location },
        'MLflow experiment does not store artifacts through the artifact proxy; artifact calls on its runs will fail',
      );
    }
    return experiment;
  }
}

export function page<T>(items: T[], token: string | undefined): Page<T> {
  return token ? { items, next_page_token: token } : { items };
}
