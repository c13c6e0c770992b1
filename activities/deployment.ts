/**
 * Activities of `canaryDeployment`: MLflow registry lookups and stage moves, the model store
 * (releases, slots, routing) and the serving API's live status. Every one is safe to retry: store
 * writes are idempotent by content, MLflow moves set absolute states.
 */
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { activityInfo, ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import axios, { type AxiosInstance } from 'axios';
import type { Logger } from '../lib/logger';
import { loadCsv } from '../lib/ml/data/csv';
import { stratifiedSplit } from '../lib/ml/data/split';
import { generateTransactions } from '../lib/ml/data/synthetic';
import { chooseThreshold, evaluate } from '../lib/ml/metrics';
import { loadModel } from '../lib/ml/models';
import type { Dataset, FraudModel, ModelKind } from '../lib/ml/types';
import type { MlflowClient } from '../lib/mlflow';
import { writeFileAtomic } from '../lib/model-store/fs-atomic';
import { createLoadedModelSet, loadModelSet, pointSlot, promoteCanary, readRouting, resolveSlot, writeRelease, writeRouting } from '../lib/model-store';
import type { DeploymentStatus, LoadedModelSet, ModelSetMember, Slot } from '../lib/serving/contract';
import type { OfflineMetrics } from '../workflows/canary-analysis';
import type { CanaryPlan } from '../workflows/canary-input';
import { classifyFailure } from './errors';
import { registeredModelName } from './mlflow-logging';

export interface DeploymentDeps {
  mlflow: MlflowClient;
  logger: Logger;
  /** MODEL_STORE_DIR, shared with the API. */
  modelStoreDir: string;
  /** The serving API, for its deployment status (admin token). */
  api: { url: string; adminToken: string | undefined };
  /** Whether a workflow still runs (for a stale canary lock); without it a lock is never taken over. */
  isWorkflowRunning?: (workflowId: string) => Promise<boolean>;
}

/** A registered version the deployment uses. */
export interface CandidateModel {
  kind: ModelKind;
  registeredModel: string;
  version: string;
  runId: string;
}

export interface PreparedRelease {
  release: string;
  members: ModelSetMember[];
  threshold: number;
  challenger: OfflineMetrics;
  /** `null` when no champion is deployed yet. */
  champion: (OfflineMetrics & { members: ModelSetMember[] }) | null;
}

const LOCK_FILE = 'canary.lock';

interface LockRecord {
  workflowId: string;
  since: string;
}

function nonRetryable(message: string, type: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

async function holdoutData(spec: CanaryPlan['holdout']): Promise<Dataset> {
  return spec.source === 'csv' ? loadCsv(spec.path, { labelColumn: spec.labelColumn }) : generateTransactions({ rows: spec.rows, seed: spec.seed, fraudRate: spec.fraudRate });
}

/** Two stratified halves of the held-out data. */
function halves(data: Dataset): [Dataset, Dataset] {
  const split = stratifiedSplit(data, { train: 0.5, validation: 0.25, test: 0.25, seed: 1 });
  const { validation: v, test: t } = split;
  const features = new Float32Array(v.features.length + t.features.length);
  features.set(v.features);
  features.set(t.features, v.features.length);
  const labels = new Uint8Array(v.numRows + t.numRows);
  labels.set(v.labels);
  labels.set(t.labels, v.numRows);
  return [split.train, { ...v, features, labels, numRows: labels.length }];
}

/** Ensemble metrics of a model set on `rows` at `threshold`, with its scoring time per row (best of 3). */
function offlineMetrics(release: string, score: (x: Float32Array, n: number) => Float32Array, rows: Dataset, threshold: number): OfflineMetrics {
  let best = Infinity;
  let scores: Float32Array = new Float32Array(0);
  for (let i = 0; i < 3; i++) {
    const started = process.hrtime.bigint();
    scores = score(rows.features, rows.numRows);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000);
  }
  const e = evaluate(rows.labels, scores, threshold);
  return { release, prAuc: e.prAuc, recall: e.recall, fpr: e.fpr, precision: e.precision, threshold, microsPerRow: best / rows.numRows };
}

export function createDeploymentActivities({ mlflow, logger, modelStoreDir, api, isWorkflowRunning }: DeploymentDeps) {
  let http: AxiosInstance | undefined;
  const apiClient = (): AxiosInstance => {
    if (!api.adminToken) throw nonRetryable('API_ADMIN_TOKEN is not set on the worker: it needs the serving API admin token to watch the canary', 'MissingApiToken');
    http ??= axios.create({ baseURL: api.url, timeout: 5000, headers: { authorization: `Bearer ${api.adminToken}` } });
    return http;
  };
  const lockPath = join(modelStoreDir, LOCK_FILE);
  /** The lock's holder; an empty record when there is no (readable) lock. */
  const readLock = async (): Promise<Partial<LockRecord>> => JSON.parse(await readFile(lockPath, 'utf8').catch(() => '{}')) as Partial<LockRecord>;
  const deploymentId = () => activityInfo().workflowExecution?.workflowId ?? 'standalone';

  /** Rewrites the routing file's canary part; the champion it names stays. */
  async function routeCanary(canaryRelease: string | null, percent: number): Promise<void> {
    const routing = await readRouting(modelStoreDir);
    await writeRouting(modelStoreDir, { canaryPercent: percent, championRelease: routing?.championRelease ?? null, canaryRelease, deploymentId: deploymentId() });
  }

  async function deploymentStatus(): Promise<DeploymentStatus> {
    try {
      return (await apiClient().get<DeploymentStatus>('/api/v1/admin/deployment')).data;
    } catch (err) {
      if (axios.isAxiosError(err) && (err.response?.status === 401 || err.response?.status === 403)) {
        throw nonRetryable(`the serving API refused the worker's admin token (${err.response.status}): check API_ADMIN_TOKEN`, 'ApiAuthError');
      }
      throw err;
    }
  }

  async function setStage(members: readonly { registeredModel: string; version: string }[], stage: 'Production', aliases: string[], tags: Record<string, string>): Promise<void> {
    for (const m of members) {
      await mlflow.registry.transitionModelVersionStage(m.registeredModel, m.version, stage, { archiveExistingVersions: true });
      for (const alias of aliases) await mlflow.registry.setRegisteredModelAlias(m.registeredModel, alias, m.version);
      for (const [key, value] of Object.entries(tags)) await mlflow.registry.setModelVersionTag(m.registeredModel, m.version, key, value);
    }
  }

  return {
    /**
     * Only one canary at a time: takes `canary.lock` in the store for this workflow. A lock held by
     * a workflow that no longer runs is taken over; a live one fails this deployment at once.
     */
    async claimCanaryLock(): Promise<void> {
      const me: LockRecord = { workflowId: deploymentId(), since: new Date().toISOString() };
      await mkdir(modelStoreDir, { recursive: true });
      try {
        await writeFile(lockPath, JSON.stringify(me), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readLock();
      if (holder.workflowId === me.workflowId) return;
      const running = holder.workflowId && isWorkflowRunning ? await isWorkflowRunning(holder.workflowId) : true;
      if (running) {
        throw nonRetryable(`another canary deployment (${holder.workflowId ?? 'unknown'}, since ${holder.since ?? '?'}) holds ${lockPath}: wait for it, or send it the abort signal`, 'CanaryInProgress');
      }
      await writeFileAtomic(lockPath, JSON.stringify(me));
      logger.warn({ previous: holder.workflowId }, 'took over the canary lock of a workflow that no longer runs');
    },

    async releaseCanaryLock(): Promise<void> {
      const holder = await readLock();
      if (holder.workflowId === deploymentId()) await unlink(lockPath).catch(() => undefined);
    },

    /**
     * The version of each model: the one asked for, else the latest in `stage` (Staging by
     * default); a model without one fails the deployment, naming it.
     */
    async resolveCandidates(input: { models: ModelKind[]; versions?: Partial<Record<ModelKind, string>>; stage?: 'Staging' }): Promise<CandidateModel[]> {
      const stage = input.stage ?? 'Staging';
      try {
        const out: CandidateModel[] = [];
        for (const kind of input.models) {
          const name = registeredModelName(kind);
          const pinned = input.versions?.[kind];
          if (pinned !== undefined) {
            const v = await mlflow.registry.getModelVersion(name, pinned).catch((e: { errorCode?: string }) => {
              if (e.errorCode === 'RESOURCE_DOES_NOT_EXIST') throw nonRetryable(`${name} has no version ${pinned}`, 'NoCandidate');
              throw e;
            });
            if (!v.run_id) throw nonRetryable(`${name} version ${pinned} has no run to load its model from`, 'NoCandidate');
            out.push({ kind, registeredModel: name, version: v.version, runId: v.run_id });
            continue;
          }
          const versions = await mlflow.registry.getLatestVersions(name, [stage]).catch((e: { errorCode?: string }) => {
            if (e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return [];
            throw e;
          });
          const v = versions[0];
          if (!v?.run_id) throw nonRetryable(`${name} has no version in ${stage}: run trainingPipeline first`, 'NoCandidate');
          out.push({ kind, registeredModel: name, version: v.version, runId: v.run_id });
        }
        return out;
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /**
     * Downloads the candidates' models, writes them to the store as an (unserved) release with an
     * ensemble threshold chosen on one half of the held-out data, and measures challenger and
     * champion ensembles on the other half.
     */
    async prepareRelease(input: { candidates: CandidateModel[]; weights: CanaryPlan['weights']; holdout: CanaryPlan['holdout'] }): Promise<PreparedRelease> {
      try {
        const models = new Map<ModelKind, FraudModel>();
        const files: { member: Omit<ModelSetMember, 'sha256'>; modelJson: Buffer }[] = [];
        for (const c of input.candidates) {
          const modelJson = await mlflow.artifacts.readArtifact(c.runId, 'model/model.json');
          heartbeat();
          const model = await loadModel(JSON.parse(modelJson.toString('utf8')) as unknown);
          const run = await mlflow.tracking.getRun(c.runId);
          const threshold = run.data.metrics.find((m) => m.key === 'threshold')?.value;
          models.set(c.kind, model);
          files.push({ member: { ...c, ...(threshold !== undefined ? { threshold } : {}) }, modelJson });
        }
        const [calibration, evaluation] = halves(await holdoutData(input.holdout));
        heartbeat();
        // Threshold on one half, metrics on the other, so the comparison is not tuned to its own data.
        const draft = createLoadedModelSet('canary', { schemaVersion: 1, id: 'draft', createdAt: '', members: [], weights: input.weights, threshold: 0.5 }, models);
        const threshold = chooseThreshold(calibration.labels, draft.predictEnsemble(calibration.features, calibration.numRows));
        const manifest = await writeRelease(modelStoreDir, { members: files, weights: input.weights, threshold }, { logger });
        heartbeat();
        const challenger = offlineMetrics(manifest.id, (x, n) => draft.predictEnsemble(x, n), evaluation, threshold);

        let champion: PreparedRelease['champion'] = null;
        if (await resolveSlot(modelStoreDir, 'champion')) {
          const set: LoadedModelSet = await loadModelSet(modelStoreDir, 'champion');
          champion = { ...offlineMetrics(set.manifest.id, (x, n) => set.predictEnsemble(x, n), evaluation, set.manifest.threshold), members: set.manifest.members };
        }
        logger.info({ release: manifest.id, challenger, champion }, 'release prepared');
        return { release: manifest.id, members: manifest.members, threshold, challenger, champion };
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /** First deployment: the release becomes the champion directly (store, routing, MLflow Production + alias `champion`). */
    async deployAsChampion(input: { release: string; members: ModelSetMember[] }): Promise<void> {
      try {
        await pointSlot(modelStoreDir, 'champion', input.release);
        await writeRouting(modelStoreDir, { canaryPercent: 0, championRelease: input.release, canaryRelease: null, deploymentId: deploymentId() });
        await setStage(input.members, 'Production', ['champion', 'production'], { deployed_by: deploymentId() });
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /** Puts the release in the canary slot with no traffic yet. */
    async startCanary(input: { release: string }): Promise<void> {
      try {
        await pointSlot(modelStoreDir, 'canary', input.release);
        await routeCanary(input.release, 0);
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    async setCanaryShare(input: { release: string; percent: number }): Promise<void> {
      try {
        await routeCanary(input.release, input.percent);
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /**
     * Waits until the API serves `release` in `slot`. Fails without retry when the API rejected it
     * (its reason, e.g. a corrupt file) or did not load it in time.
     */
    async waitForServedRelease(input: { slot: Slot; release: string; timeoutSeconds: number }): Promise<void> {
      const deadline = Date.now() + input.timeoutSeconds * 1000;
      const signal = Context.current().cancellationSignal;
      let last = 'no answer yet';
      while (Date.now() < deadline && !signal.aborted) {
        try {
          const status = await deploymentStatus();
          if (status[input.slot]?.release === input.release) return;
          const rejected = status.rejected.find((r) => r.slot === input.slot && r.release === input.release);
          if (rejected) throw nonRetryable(`the serving API refused release ${input.release} for ${input.slot}: ${rejected.reason}`, 'ReleaseRejected');
          last = `it serves ${status[input.slot]?.release ?? 'nothing'} in ${input.slot}`;
        } catch (err) {
          if (err instanceof ApplicationFailure) throw err;
          last = `API unreachable at ${api.url}: ${(err as Error).message}`;
        }
        heartbeat(last);
        await new Promise((r) => setTimeout(r, 500));
      }
      if (signal.aborted) throw signal.reason;
      throw nonRetryable(`the serving API did not load release ${input.release} into ${input.slot} within ${input.timeoutSeconds} s (${last})`, 'ReleaseNotServed');
    },

    /** The API's live per-slot statistics and what it serves. */
    async readDeploymentStatus(): Promise<DeploymentStatus> {
      return deploymentStatus();
    },

    /** Canary becomes champion (store first, then MLflow Production with the old version archived, alias `champion`). */
    async promoteRelease(input: { release: string; members: ModelSetMember[] }): Promise<void> {
      try {
        await promoteCanary(modelStoreDir, { release: input.release, deploymentId: deploymentId() });
        await setStage(input.members, 'Production', ['champion', 'production'], { promoted_by: deploymentId() });
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /** Routing back to 0 %, canary slot removed, the MLflow versions tagged with the reason. The champion is untouched. */
    async rollbackRelease(input: { release: string; members: ModelSetMember[]; reason: string }): Promise<void> {
      try {
        await routeCanary(null, 0);
        await pointSlot(modelStoreDir, 'canary', null);
        await tagVersions(input.members, { canary_rollback_reason: input.reason.slice(0, 4000), canary_rolled_back_by: deploymentId() });
        logger.warn({ release: input.release, reason: input.reason }, 'canary rolled back');
      } catch (err) {
        throw classifyFailure(err);
      }
    },

    /** Records on the MLflow versions why the challenger was not deployed. */
    async tagRejected(input: { members: readonly { registeredModel: string; version: string }[]; reason: string }): Promise<void> {
      try {
        await tagVersions(input.members, { canary_rejected_reason: input.reason.slice(0, 4000), canary_rejected_by: deploymentId() });
      } catch (err) {
        throw classifyFailure(err);
      }
    },
  };

  async function tagVersions(members: readonly { registeredModel: string; version: string }[], tags: Record<string, string>): Promise<void> {
    for (const m of members) for (const [key, value] of Object.entries(tags)) await mlflow.registry.setModelVersionTag(m.registeredModel, m.version, key, value);
  }
}

