import { CancellationScope, condition, defineQuery, defineSignal, isCancellation, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CandidateModel, PreparedRelease } from '../activities/deployment';
import type { DeploymentStatus, ModelSetMember } from '../lib/serving/contract';
import { analyseLive, compareOffline, slotWindow, type LiveAnalysis, type OfflineMetrics } from './canary-analysis';
import { parseCanaryInput } from './canary-input';

// Store and registry steps: quick, idempotent, retried through MLflow restarts.
const store = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// Downloads models and scores the held-out data with both sets.
const { prepareRelease } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

// Watching the API: a few quick retries; an API that stays unreachable rolls the canary back.
const watch = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

export type CanaryPhase = 'resolving' | 'evaluating' | 'rejected' | 'deploying' | 'awaiting_approval' | 'baking' | 'promoting' | 'promoted' | 'rolling_back' | 'rolled_back' | 'deployed_as_champion';

export interface CanaryStatus {
  phase: CanaryPhase;
  release?: string;
  candidates?: CandidateModel[];
  comparison?: { challenger: OfflineMetrics; champion: OfflineMetrics | null; reasons: string[] };
  /** Current canary share, percent. */
  canaryPercent: number;
  step?: { index: number; of: number; percent: number; bakeEndsAt?: string };
  lastAnalysis?: LiveAnalysis;
  waitingForApproval: boolean;
  reason?: string;
}

export interface CanaryResult {
  outcome: 'promoted' | 'rolled_back' | 'rejected' | 'deployed_as_champion';
  release: string | null;
  /** Why it was rejected or rolled back; for `deployed_as_champion`, that there was no champion. */
  reason: string | null;
  members: ModelSetMember[];
  comparison: CanaryStatus['comparison'] | null;
  analyses: { percent: number; analysis: LiveAnalysis }[];
}

/** `temporal workflow query --name status`. */
export const statusQuery = defineQuery<CanaryStatus>('status');
/** Lets a step waiting for approval go on (with `requireApproval`). */
export const approveSignal = defineSignal('approve');
/** Rolls the canary back now; the optional argument is the reason recorded. */
export const abortSignal = defineSignal<[string?]>('abort');

class Rollback extends Error {}

/**
 * The Temporal twin of the DAG `05_model_deployment_canary_http`.
 * 1. Check the input; take the store's canary lock (one canary at a time).
 * 2. Resolve the version of each model in MLflow (the latest in Staging unless pinned).
 * 3. Write them to the model store as a release; compare challenger and champion ensembles on
 *    held-out data (PR-AUC, recall, FPR at threshold, scoring time). A failed rule rejects, with
 *    the reason tagged on the MLflow versions.
 * 4. No champion yet: the release becomes the champion directly (Production, alias `champion`).
 * 5. Otherwise put it in `canary/` and wait for the API to load it (a refused file rolls back).
 * 6. For each traffic step (5 → 25 → 50 → 100 %): optionally wait for `approve`, set the share,
 *    bake, checking the API's live canary-vs-champion metrics (error rate, p95 latency, PSI) at
 *    every interval; a failed check or the `abort` signal rolls back.
 * 7. Promote: `canary/` becomes `champion/` atomically, MLflow Production (old one archived),
 *    alias `champion`, routing reset. Roll back: routing 0 %, canary removed, versions tagged.
 */
export async function canaryDeployment(input?: unknown): Promise<CanaryResult> {
  const status: CanaryStatus = { phase: 'resolving', canaryPercent: 0, waitingForApproval: false };
  let approvals = 0;
  let abortReason: string | undefined;
  setHandler(statusQuery, () => status);
  setHandler(approveSignal, () => void approvals++);
  setHandler(abortSignal, (reason?: string) => void (abortReason ??= reason?.trim() || 'aborted by the abort signal'));

  const plan = parseCanaryInput(input);
  const analyses: CanaryResult['analyses'] = [];
  await store.claimCanaryLock();
  let prepared: PreparedRelease | undefined;
  let canaryStarted = false;
  try {
    const candidates = await store.resolveCandidates({ models: plan.models, versions: plan.versions });
    status.candidates = candidates;
    status.phase = 'evaluating';
    prepared = await prepareRelease({ candidates, weights: plan.weights, holdout: plan.holdout });
    status.release = prepared.release;
    const base = { release: prepared.release, members: prepared.members, analyses };

    if (prepared.champion === null) {
      status.phase = 'deploying';
      await store.deployAsChampion({ release: prepared.release, members: prepared.members });
      await watch.waitForServedRelease({ slot: 'champion', release: prepared.release, timeoutSeconds: plan.apiLoadTimeoutSeconds });
      status.phase = 'deployed_as_champion';
      status.comparison = { challenger: prepared.challenger, champion: null, reasons: [] };
      return { ...base, outcome: 'deployed_as_champion', reason: 'no champion was deployed: the Staging models became the champion directly', comparison: status.comparison };
    }
    if (prepared.champion.release === prepared.release) {
      status.phase = 'rejected';
      return { ...base, outcome: 'rejected', reason: `release ${prepared.release} is already the champion`, comparison: null };
    }

    const decision = compareOffline(prepared.challenger, prepared.champion, plan.comparison);
    status.comparison = { challenger: prepared.challenger, champion: prepared.champion, reasons: decision.reasons };
    if (!decision.passed) {
      status.phase = 'rejected';
      const reason = `challenger rejected against champion ${prepared.champion.release}: ${decision.reasons.join('; ')}`;
      status.reason = reason;
      await store.tagRejected({ members: prepared.members, reason });
      return { ...base, outcome: 'rejected', reason, comparison: status.comparison };
    }

    status.phase = 'deploying';
    canaryStarted = true;
    await store.startCanary({ release: prepared.release });
    await watch.waitForServedRelease({ slot: 'canary', release: prepared.release, timeoutSeconds: plan.apiLoadTimeoutSeconds }).catch((err: unknown) => {
      throw new Rollback(failureMessage(err));
    });

    for (const [index, percent] of plan.steps.entries()) {
      if (plan.requireApproval) {
        status.phase = 'awaiting_approval';
        status.waitingForApproval = true;
        const wanted = approvals + 1;
        await condition(() => approvals >= wanted || abortReason !== undefined);
        status.waitingForApproval = false;
      }
      if (abortReason !== undefined) throw new Rollback(abortReason);
      await store.setCanaryShare({ release: prepared.release, percent });
      status.canaryPercent = percent;
      status.phase = 'baking';
      const analysis = await bake(plan, prepared.release, (a) => (status.lastAnalysis = a), () => abortReason, (endsAt) => {
        status.step = { index, of: plan.steps.length, percent, bakeEndsAt: endsAt };
      });
      analyses.push({ percent, analysis });
      if (analysis.verdict === 'fail') throw new Rollback(`at ${percent} % canary traffic: ${analysis.reasons.join('; ')}`);
    }

    status.phase = 'promoting';
    await store.promoteRelease({ release: prepared.release, members: prepared.members });
    status.canaryPercent = 0;
    await watch.waitForServedRelease({ slot: 'champion', release: prepared.release, timeoutSeconds: plan.apiLoadTimeoutSeconds });
    status.phase = 'promoted';
    return { ...base, outcome: 'promoted', reason: null, comparison: status.comparison };
  } catch (err) {
    if (!prepared || !canaryStarted) throw err;
    const reason = err instanceof Rollback ? err.message : isCancellation(err) ? 'the deployment was cancelled' : `the deployment failed: ${failureMessage(err)}`;
    status.phase = 'rolling_back';
    status.reason = reason;
    const release = prepared;
    // Roll back even when the workflow itself is being cancelled.
    await CancellationScope.nonCancellable(() => store.rollbackRelease({ release: release.release, members: release.members, reason }));
    status.canaryPercent = 0;
    status.phase = 'rolled_back';
    if (isCancellation(err)) throw err;
    return { release: release.release, members: release.members, analyses, outcome: 'rolled_back', reason, comparison: status.comparison ?? null };
  } finally {
    await CancellationScope.nonCancellable(() => store.releaseCanaryLock());
  }
}

/**
 * One bake: reads the API's live stats at the start and then every check interval until the bake
 * time is over; fails as soon as a check fails, or when aborted.
 */
async function bake(
  plan: ReturnType<typeof parseCanaryInput>,
  release: string,
  onAnalysis: (a: LiveAnalysis) => void,
  aborted: () => string | undefined,
  onStart: (endsAt: string) => void,
): Promise<LiveAnalysis> {
  const started = Date.now();
  const endsAt = started + plan.bakeSeconds * 1000;
  onStart(new Date(endsAt).toISOString());
  const before: DeploymentStatus = await readStatus();
  if (before.canary?.release !== release) throw new Rollback(`the serving API no longer serves release ${release} as canary`);
  for (;;) {
    const remaining = endsAt - Date.now();
    const final = remaining <= 0;
    if (!final) {
      // Wakes early for an abort; the deterministic workflow clock drives the bake.
      await condition(() => aborted() !== undefined, Math.min(plan.checkIntervalSeconds * 1000, remaining));
    }
    const reason = aborted();
    if (reason !== undefined) throw new Rollback(reason);
    const now = await readStatus();
    if (now.canary?.release !== release) throw new Rollback(`the serving API stopped serving release ${release} as canary (it serves ${now.canary?.release ?? 'none'})`);
    const analysis = analyseLive(slotWindow(before.live.canary, now.live.canary), slotWindow(before.live.champion, now.live.champion), plan.analysis, final);
    onAnalysis(analysis);
    if (analysis.verdict === 'fail' || final) return analysis;
  }
}

async function readStatus(): Promise<DeploymentStatus> {
  try {
    return await watch.readDeploymentStatus();
  } catch (err) {
    if (isCancellation(err)) throw err;
    throw new Rollback(`the serving API's live metrics could not be read: ${failureMessage(err)}`);
  }
}

function failureMessage(err: unknown): string {
  let e: unknown = err;
  // ActivityFailure → its cause carries the activity's own message.
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: unknown }).cause;
  return e instanceof Error ? e.message : String(err);
}

