import { type Logger, silentLogger } from '../logger';
import { ArtifactsApi } from './artifacts';
import { DEFAULT_BATCH_LIMITS } from './batch';
import { HttpClient, type RetryOptions, withRetryDefaults } from './http';
import { ModelUriResolver, type ResolvedModel } from './model-uri';
import { RegistryApi } from './registry';
import { TrackingApi } from './tracking';

export interface MlflowClientOptions {
  /** Base URL of the tracking server, e.g. `loadConfig().mlflowTrackingUri`. Credentials in it become basic auth. */
  trackingUri: string;
  /** A child `{ module: 'mlflow' }` is taken from it. @default silentLogger */
  logger?: Logger;
  /** @default DEFAULT_RETRY_OPTIONS (5 retries, 0.5 s doubling to at most 10 s, 20 % jitter) */
  retry?: RetryOptions;
  /**
   * Per API request, in ms: axios limits the wait for the response headers by wall clock (for a
   * request with a body, sending it counts), then the silence between body chunks. @default 60000
   */
  timeoutMs?: number;
  /** The same limit for artifact file uploads and downloads, which can be large. @default 600000 */
  transferTimeoutMs?: number;
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  token?: string;
  /** Sent as basic auth when no `token` is given; never logged. */
  basicAuth?: { username: string; password: string };
  /** Files moved in parallel by directory uploads and downloads. @default 4 */
  transferConcurrency?: number;
}

/**
 * A typed MLflow REST client. Calls are grouped like MLflow's API:
 * `tracking` (experiments, runs, metrics), `artifacts` (through the server's artifact proxy)
 * and `registry` (registered models, versions, stages, aliases); model URIs are resolved here.
 *
 * @example
 * const mlflow = new MlflowClient({ trackingUri: loadConfig().mlflowTrackingUri, logger });
 * const exp = await mlflow.tracking.getOrCreateExperiment('fraud-detection');
 * const run = await mlflow.tracking.createRun({ experimentId: exp.experiment_id, runName: 'xgb', idempotencyKey: `${workflowId}/xgb` });
 */
export class MlflowClient {
  readonly tracking: TrackingApi;
  readonly artifacts: ArtifactsApi;
  readonly registry: RegistryApi;
  private readonly http: HttpClient;
  private readonly models: ModelUriResolver;

  constructor(options: MlflowClientOptions) {
    const logger = (options.logger ?? silentLogger).child({ module: 'mlflow' });
    const timeoutMs = options.timeoutMs ?? 60_000;
    if (!(timeoutMs > 0)) throw new TypeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    const transferTimeoutMs = options.transferTimeoutMs ?? 600_000;
    if (!(transferTimeoutMs > 0)) throw new TypeError(`transferTimeoutMs must be > 0, got ${transferTimeoutMs}`);
    const concurrency = options.transferConcurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`transferConcurrency must be an integer ≥ 1, got ${concurrency}`);
    if (options.token !== undefined && options.basicAuth !== undefined) throw new TypeError('pass either token or basicAuth, not both');

    this.http = new HttpClient({
      trackingUri: options.trackingUri,
      logger,
      retry: withRetryDefaults(options.retry),
      timeoutMs,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.basicAuth !== undefined ? { basicAuth: options.basicAuth } : {}),
    });
    this.tracking = new TrackingApi(this.http, logger, DEFAULT_BATCH_LIMITS);
    this.artifacts = new ArtifactsApi(this.http, this.tracking, logger, { concurrency, transferTimeoutMs });
    this.registry = new RegistryApi(this.http, logger);
    this.models = new ModelUriResolver(this.tracking, this.registry, this.artifacts);
  }

  /** The tracking URI without credentials. */
  get trackingUri(): string {
    return this.http.uri;
  }

  /**
   * Resolves `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or
   * `runs:/<run_id>/<path>` to the registry version, its run and the artifact URI to download.
   */
  resolveModelUri(uri: string): Promise<ResolvedModel> {
    return this.models.resolve(uri);
  }

  /** Resolves a model URI and downloads the model directory under `dstDir`; `localPath` is where it landed. */
  downloadModel(uri: string, dstDir: string): Promise<ResolvedModel & { localPath: string }> {
    return this.models.download(uri, dstDir);
  }

  /** The server's MLflow version (`GET /version`), e.g. `3.17.2`. */
  async serverVersion(): Promise<string> {
    return (await this.http.bytes({ method: 'GET', path: '/version' })).toString('utf8').trim();
  }

  /** True when `GET /health` answers OK; false (after retries) when it does not. */
  async isHealthy(): Promise<boolean> {
    try {
      return (await this.http.bytes({ method: 'GET', path: '/health' })).toString('utf8').trim() === 'OK';
    } catch {
      return false;
    }
  }

  /** Releases idle keep-alive sockets so a process or test can exit promptly. */
  close(): void {
    this.http.close();
  }
}

export { ARTIFACT_PROXY_PATH, ArtifactsApi, joinArtifactUri, parseArtifactUri, type ArtifactLocation, type ArtifactSource } from './artifacts';
export {
  chunkLogBatch,
  DEFAULT_BATCH_LIMITS,
  prepareLogBatch,
  type BatchLimits,
  type LogBatchInput,
  type MetricInput,
  type ParamValue,
  type WireBatch,
} from './batch';
export * from './errors';
export { backoffDelayMs, DEFAULT_RETRY_OPTIONS, parseRetryAfter, withRetryDefaults, type RetryOptions } from './http';
export { parseModelUri, ModelUriResolver, type ParsedModelUri, type ResolvedModel } from './model-uri';
export { isAliasNotFound, modelVersionFilter, RegistryApi, type CreateModelVersionOptions, type SearchModelVersionsOptions, type WaitOptions } from './registry';
export { IDEMPOTENCY_TAG, PARENT_RUN_TAG, TrackingApi, type CreateRunOptions, type SearchRunsOptions, type UpdateRunOptions } from './tracking';
export * from './types';
export { MLFLOW_LIMITS } from './validation';
