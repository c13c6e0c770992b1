import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { MlflowApiError, MlflowRegistrationError, MlflowValidationError } from './errors';
import type { HttpClient } from './http';
import { normalizeModelVersion, normalizeRegisteredModel } from './normalize';
import { IDEMPOTENCY_TAG, page } from './tracking';
import type { ModelStage, ModelVersion, Page, RegisteredModel } from './types';
import { canonicalStage, filterLiteral, prepareTag, validateAlias, validateIdempotencyKey, validateModelName } from './validation';

const API = '/api/2.0/mlflow';

export interface WaitOptions {
  /** Give up after this long. @default 300000 (Python's `await_registration_for`) */
  timeoutMs?: number;
  /** Longest pause between polls; polling starts faster. @default 1000 */
  pollIntervalMs?: number;
}

export interface CreateModelVersionOptions {
  /** Registered model name; the model must exist (see `getOrCreateRegisteredModel`). */
  name: string;
  /** Where the model files are, e.g. the run's `mlflow-artifacts:/…/artifacts/model` or `runs:/<run_id>/model`. */
  source: string;
  /** The run that produced it. MLflow 3 requires it when `source` lies in that run's artifacts. */
  runId?: string;
  tags?: Readonly<Record<string, string>>;
  description?: string;
  runLink?: string;
  /** MLflow 3 logged-model id, when registering a `models:/m-…` source. */
  modelId?: string;
  /**
   * A stable key for this logical version, e.g. `<workflowId>/<model>`: an existing version of
   * `name` tagged with it is returned instead of registering another. Without one, a random key
   * still guards against a duplicate after a lost response.
   */
  idempotencyKey?: string;
  /** Wait for status READY (the default), or `false` to return the version as created. */
  wait?: WaitOptions | false;
}

export interface SearchModelVersionsOptions {
  /** e.g. `name = 'fraud-xgb' and tags.champion = 'true'`; see {@link modelVersionFilter}. */
  filter?: string;
  /** Up to 200000. @default the server's (10000) */
  maxResults?: number;
  /** e.g. `['version_number DESC']` */
  orderBy?: readonly string[];
  pageToken?: string;
}

/** Builds `name = '…' AND tags.\`k\` = '…'` with literals quoted safely. */
export function modelVersionFilter(criteria: { name?: string; runId?: string; tags?: Readonly<Record<string, string>> }): string {
  const parts: string[] = [];
  if (criteria.name !== undefined) parts.push(`name = ${filterLiteral(criteria.name)}`);
  if (criteria.runId !== undefined) parts.push(`run_id = ${filterLiteral(criteria.runId)}`);
  for (const [key, value] of Object.entries(criteria.tags ?? {})) {
    if (key.includes('`')) throw new MlflowValidationError('tag key', `'${key}' contains a backtick`);
    parts.push(`tags.\`${key}\` = ${filterLiteral(value)}`);
  }
  return parts.join(' AND ');
}

/** MLflow answers an unset alias with 400 INVALID_PARAMETER_VALUE "Registered model alias X not found." */
export function isAliasNotFound(err: unknown): boolean {
  return err instanceof MlflowApiError && err.status === 400 && /alias .* not found/i.test(err.serverMessage);
}

/** The model registry (`/api/2.0/mlflow/registered-models/...` and `model-versions/...`). */
export class RegistryApi {
  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
  ) {}

  /**
   * Returns the registered model `name`, creating it first if needed. MLflow answers a duplicate
   * name with 400 RESOURCE_ALREADY_EXISTS, which here means "someone created it; read it".
   */
  async getOrCreateRegisteredModel(name: string, options: { description?: string; tags?: Readonly<Record<string, string>> } = {}): Promise<RegisteredModel> {
    validateModelName(name);
    try {
      const res = await this.http.json<{ registered_model?: Record<string, unknown> }>({
        method: 'POST',
        path: `${API}/registered-models/create`,
        json: { name, description: options.description, tags: Object.entries(options.tags ?? {}).map(([k, v]) => prepareTag(k, v)) },
      });
      this.logger.info({ modelName: name }, 'created registered model');
      return normalizeRegisteredModel(res.registered_model ?? {});
    } catch (err) {
      if (err instanceof MlflowApiError && err.isAlreadyExists) return this.getRegisteredModel(name);
      throw err;
    }
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    const res = await this.http.json<{ registered_model?: Record<string, unknown> }>({
      method: 'GET',
      path: `${API}/registered-models/get`,
      query: { name },
    });
    return normalizeRegisteredModel(res.registered_model ?? {});
  }

  /** Deletes a registered model with all its versions. */
  async deleteRegisteredModel(name: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `${API}/registered-models/delete`, json: { name } });
  }

  /**
   * Registers a new version and, unless `wait: false`, waits until it is READY. Idempotent
   * through {@link CreateModelVersionOptions.idempotencyKey}.
   */
  async createModelVersion(options: CreateModelVersionOptions): Promise<ModelVersion> {
    validateModelName(options.name);
    const key = options.idempotencyKey ?? randomUUID();
    validateIdempotencyKey(key);
    let version: ModelVersion | undefined;
    if (options.idempotencyKey !== undefined) {
      version = await this.findModelVersionByIdempotencyKey(options.name, key);
      if (version !== undefined) this.logger.info({ modelName: options.name, modelVersion: version.version, idempotencyKey: key }, 'reusing model version registered earlier with this key');
    }
    if (version === undefined) {
      const tags = Object.entries(options.tags ?? {}).map(([k, v]) => prepareTag(k, v));
      tags.push({ key: IDEMPOTENCY_TAG, value: key });
      const res = await this.http.json<{ model_version?: Record<string, unknown> }>({
        method: 'POST',
        path: `${API}/model-versions/create`,
        json: {
          name: options.name,
          source: options.source,
          run_id: options.runId,
          tags,
          run_link: options.runLink,
          description: options.description,
          model_id: options.modelId,
        },
        idempotent: false,
        recover: async () => {
          const found = await this.findModelVersionByIdempotencyKey(options.name, key);
          return found === undefined ? undefined : { model_version: found as unknown as Record<string, unknown> };
        },
      });
      version = normalizeModelVersion(res.model_version ?? {});
      this.logger.info({ modelName: version.name, modelVersion: version.version, runId: version.run_id }, 'registered model version');
    }
    if (options.wait === false) return version;
    return this.waitForModelVersion(version.name, version.version, options.wait ?? {});
  }

  /** The oldest version of `name` tagged with this idempotency key, if any. */
  async findModelVersionByIdempotencyKey(name: string, key: string): Promise<ModelVersion | undefined> {
    const res = await this.searchModelVersions({
      filter: modelVersionFilter({ name, tags: { [IDEMPOTENCY_TAG]: key } }),
      orderBy: ['version_number ASC'],
      maxResults: 1,
    });
    return res.items[0];
  }

  /**
   * Polls until the version is READY. Throws {@link MlflowRegistrationError} with reason `failed`
   * on FAILED_REGISTRATION, or `timeout` when still pending after `timeoutMs`.
   */
  async waitForModelVersion(name: string, version: string | number, options: WaitOptions = {}): Promise<ModelVersion> {
    const timeoutMs = options.timeoutMs ?? 300_000;
    const maxPollMs = options.pollIntervalMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    let pollMs = Math.min(100, maxPollMs);
    for (;;) {
      const mv = await this.getModelVersion(name, version);
      if (mv.status === 'READY') return mv;
      if (mv.status === 'FAILED_REGISTRATION') {
        throw new MlflowRegistrationError({ reason: 'failed', modelName: name, version: mv.version, status: mv.status, detail: mv.status_message ?? 'no message' });
      }
      if (Date.now() + pollMs > deadline) {
        throw new MlflowRegistrationError({ reason: 'timeout', modelName: name, version: mv.version, status: mv.status, detail: `${timeoutMs} ms` });
      }
      await new Promise((r) => setTimeout(r, pollMs));
      pollMs = Math.min(maxPollMs, pollMs * 2);
    }
  }

  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    const res = await this.http.json<{ model_version?: Record<string, unknown> }>({
      method: 'GET',
      path: `${API}/model-versions/get`,
      query: { name, version: String(version) },
    });
    return normalizeModelVersion(res.model_version ?? {});
  }

  /** Where the version's files are: its storage location, else its `source` (which may be `runs:/…`). */
  async getModelVersionDownloadUri(name: string, version: string | number): Promise<string> {
    const res = await this.http.json<{ artifact_uri?: string }>({
      method: 'GET',
      path: `${API}/model-versions/get-download-uri`,
      query: { name, version: String(version) },
    });
    return res.artifact_uri ?? '';
  }

  /**
   * Moves a version to a stage. With `archiveExistingVersions`, the versions currently in that
   * stage move to Archived in the same call (allowed for Staging and Production only).
   * Stages are deprecated in MLflow ≥2.9 in favour of aliases but still served by 3.x.
   */
  async transitionModelVersionStage(
    name: string,
    version: string | number,
    stage: ModelStage | string,
    options: { archiveExistingVersions?: boolean } = {},
  ): Promise<ModelVersion> {
    const canonical = canonicalStage(stage);
    const archive = options.archiveExistingVersions ?? false;
    if (archive && canonical !== 'Staging' && canonical !== 'Production') {
      throw new MlflowValidationError('stage', `archiveExistingVersions is only allowed for Staging and Production, not ${canonical}`);
    }
    const res = await this.http.json<{ model_version?: Record<string, unknown> }>({
      method: 'POST',
      path: `${API}/model-versions/transition-stage`,
      json: { name, version: String(version), stage: canonical, archive_existing_versions: archive },
    });
    return normalizeModelVersion(res.model_version ?? {});
  }

  async setModelVersionTag(name: string, version: string | number, key: string, value: string): Promise<void> {
    const tag = prepareTag(key, value);
    await this.http.json({ method: 'POST', path: `${API}/model-versions/set-tag`, json: { name, version: String(version), ...tag } });
  }

  async deleteModelVersionTag(name: string, version: string | number, key: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `${API}/model-versions/delete-tag`, json: { name, version: String(version), key } });
  }

  /** Points `alias` at `version`, moving it from any other version. */
  async setRegisteredModelAlias(name: string, alias: string, version: string | number): Promise<void> {
    validateAlias(alias);
    await this.http.json({ method: 'POST', path: `${API}/registered-models/alias`, json: { name, alias, version: String(version) } });
  }

  /**
   * The version `alias` points at. An unset alias is a 400 INVALID_PARAMETER_VALUE from the
   * server (a missing model a 404); {@link findModelVersionByAlias} turns the former into undefined.
   */
  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const res = await this.http.json<{ model_version?: Record<string, unknown> }>({
      method: 'GET',
      path: `${API}/registered-models/alias`,
      query: { name, alias },
    });
    return normalizeModelVersion(res.model_version ?? {});
  }

  /** The version `alias` points at, or undefined when the alias is not set (e.g. no champion yet). */
  async findModelVersionByAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    try {
      return await this.getModelVersionByAlias(name, alias);
    } catch (err) {
      if (isAliasNotFound(err)) return undefined;
      throw err;
    }
  }

  async deleteRegisteredModelAlias(name: string, alias: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `${API}/registered-models/alias`, json: { name, alias } });
  }

  /** The newest READY version in each of `stages` (every stage when omitted). */
  async getLatestVersions(name: string, stages?: ReadonlyArray<ModelStage | string>): Promise<ModelVersion[]> {
    const res = await this.http.json<{ model_versions?: Array<Record<string, unknown>> }>({
      method: 'POST',
      path: `${API}/registered-models/get-latest-versions`,
      json: { name, stages: stages?.map(canonicalStage) },
    });
    return (res.model_versions ?? []).map(normalizeModelVersion);
  }

  /** One page of model versions matching `filter`; pass `next_page_token` back as `pageToken`. */
  async searchModelVersions(options: SearchModelVersionsOptions = {}): Promise<Page<ModelVersion>> {
    const res = await this.http.json<{ model_versions?: Array<Record<string, unknown>>; next_page_token?: string }>({
      method: 'GET',
      path: `${API}/model-versions/search`,
      query: { filter: options.filter, max_results: options.maxResults, order_by: options.orderBy, page_token: options.pageToken },
    });
    return page((res.model_versions ?? []).map(normalizeModelVersion), res.next_page_token);
  }

  /** Every model version matching `filter`, following page tokens. */
  async searchAllModelVersions(filter: string, options: { orderBy?: readonly string[]; pageSize?: number } = {}): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.searchModelVersions({ filter, orderBy: options.orderBy, maxResults: options.pageSize ?? 1000, pageToken });
      out.push(...res.items);
      pageToken = res.next_page_token;
    } while (pageToken !== undefined);
    return out;
  }
}
