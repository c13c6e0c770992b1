import { Client, Connection, defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { AppConfig } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { TrainingHeartbeat } from '../activities/training';
import { ensureAdminToken } from '../lib/stack/secrets';
import { runSimulator } from '../lib/simulator';
import type { CanaryResult, CanaryStatus } from '../workflows/canary-deployment';
import type { PipelineProgress, TrainingSummary } from '../workflows/training-pipeline';

/** One line per model: its step, and the live progress its training activity heartbeats. */
async function progressLine(handle: WorkflowHandle): Promise<string> {
  const [progress, description] = await Promise.all([handle.query<PipelineProgress>('progress'), handle.describe()]);
  const live = new Map<string, TrainingHeartbeat>();
  for (const a of description.raw.pendingActivities ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    const input = a.activityType?.name === 'trainModel' && a.activityId ? a : undefined;
    if (payload && input) {
      const beat = defaultPayloadConverter.fromPayload<TrainingHeartbeat>(payload);
      live.set(String(a.activityId), beat);
    }
  }
  const beats = [...live.values()].map((b) => `${b.unit} ${b.done}/${b.total}${b.estimatedSecondsLeft !== undefined ? ` ~${b.estimatedSecondsLeft}s left` : ''}`);
  const models = Object.entries(progress.models).map(([k, m]) => `${k}:${m?.status}`);
  return `[${progress.step}] ${models.join('  ')}${beats.length ? `  | ${beats.join(', ')}` : ''}`;
}

export interface RunPipelineOptions {
  workflowId?: string;
  /** Print live progress every few seconds. @default true */
  live?: boolean;
}

/** Starts trainingPipeline, follows it, and returns its summary. */
export async function runTrainingPipeline(cfg: AppConfig, logger: Logger, input: object, opts: RunPipelineOptions = {}): Promise<TrainingSummary> {
  const connection = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    const workflowId = opts.workflowId ?? `training-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const handle = await client.workflow.start('trainingPipeline', { taskQueue: cfg.taskQueue, workflowId, args: [input] });
    logger.info({ workflowId, input }, `trainingPipeline started: http://localhost:${cfg.temporalUiPort}/namespaces/${cfg.temporalNamespace}/workflows/${workflowId}`);
    let last = '';
    const timer =
      opts.live === false
        ? undefined
        : setInterval(() => {
            progressLine(handle).then(
              (line) => {
                if (line !== last) console.log(line);
                last = line;
              },
              () => undefined,
            );
          }, 2000);
    try {
      return (await handle.result()) as TrainingSummary;
    } finally {
      clearInterval(timer);
    }
  } finally {
    await connection.close();
  }
}

/** The summary as a table, with links to MLflow. */
export function printSummary(cfg: AppConfig, s: TrainingSummary): void {
  const ui = cfg.mlflowTrackingUri;
  console.log(`\ntrainingPipeline ${s.workflowId}: dataset ${s.dataset.digest.slice(0, 12)} (${s.dataset.source}), ${s.dataset.trainRows} train / ${s.dataset.testRows} test rows`);
  console.log(`${'model'.padEnd(18)}${'PR-AUC'.padStart(8)}${'ROC-AUC'.padStart(9)}${'recall'.padStart(8)}${'prec.'.padStart(8)}${'train s'.padStart(9)}  result`);
  for (const m of s.models) {
    const result = m.promoted ? `${m.registeredModel} v${m.version} → ${m.stage}` : `not promoted: ${m.reasons.join('; ')}`;
    console.log(`${m.kind.padEnd(18)}${m.metrics.prAuc.toFixed(4).padStart(8)}${m.metrics.rocAuc.toFixed(4).padStart(9)}${m.metrics.recall.toFixed(3).padStart(8)}${m.metrics.precision.toFixed(3).padStart(8)}${m.trainingSeconds.toFixed(1).padStart(9)}  ${result}`);
  }
  console.log(`\nMLflow runs:       ${ui}/#/experiments/${s.experimentId}/runs/${s.pipelineRunId}`);
  console.log(`Registered models: ${ui}/#/models\n`);
}

/** The canary the main job starts: short bakes, so the demo ends within minutes, not hours. */
export const DEMO_CANARY_INPUT = { bakeSeconds: 60, checkIntervalSeconds: 10 };

/**
 * Deploys the Staging models with canaryDeployment: the first time they become the champion
 * directly; later they go through the canary steps, with simulated traffic (20 transactions/s)
 * so the live analysis has something to judge.
 */
export async function runDeployment(cfg: AppConfig, logger: Logger, input: object = DEMO_CANARY_INPUT): Promise<CanaryResult> {
  const connection = await Connection.connect({ address: cfg.temporalAddress });
  const traffic = new AbortController();
  try {
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    const workflowId = `canary-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const handle = await client.workflow.start('canaryDeployment', { taskQueue: cfg.taskQueue, workflowId, args: [input] });
    const link = `http://localhost:${cfg.temporalUiPort}/namespaces/${cfg.temporalNamespace}/workflows/${workflowId}`;
    logger.info({ workflowId }, `canaryDeployment started; watch it: ${link}`);
    let last = '';
    let simulating = false;
    const timer = setInterval(() => {
      handle.query<CanaryStatus>('status').then(
        (st) => {
          const line = `[canary] ${st.phase}${st.canaryPercent ? ` at ${st.canaryPercent} %` : ''}${st.lastAnalysis ? ` (canary ${st.lastAnalysis.canary.requests} req, champion ${st.lastAnalysis.champion.requests} req)` : ''}`;
          if (line !== last) console.log(line);
          last = line;
          if (!simulating && (st.phase === 'baking' || st.phase === 'deploying') && st.comparison?.champion) {
            simulating = true;
            console.log(`[canary] sending simulated traffic (20/s) to ${cfg.apiUrl} while the canary bakes`);
            void runSimulator({ apiUrl: cfg.apiUrl, token: ensureAdminToken(cfg).token, rps: 20, signal: traffic.signal });
          }
        },
        () => undefined,
      );
    }, 2000);
    try {
      const result = (await handle.result()) as CanaryResult;
      printDeployment(cfg, result, link);
      return result;
    } finally {
      clearInterval(timer);
    }
  } finally {
    traffic.abort();
    await connection.close();
  }
}

export function printDeployment(cfg: AppConfig, r: CanaryResult, link: string): void {
  const versions = r.members.map((m) => `${m.registeredModel} v${m.version}`).join(', ');
  const outcome = {
    deployed_as_champion: 'deployed as champion (there was none yet)',
    promoted: 'promoted to champion after the canary steps',
    rolled_back: `rolled back: ${r.reason ?? ''}`,
    rejected: `not deployed: ${r.reason ?? ''}`,
  }[r.outcome];
  console.log(`
canaryDeployment: release ${r.release ?? '-'} ${outcome}`);
  if (versions) console.log(`  models: ${versions}`);
  console.log(`  workflow: ${link}`);
  console.log(`  serving API: ${cfg.apiUrl}/docs (admin token in ${ensureAdminToken(cfg).file ?? 'API_ADMIN_TOKEN'})\n`);
}

/** What `npm start` runs once the stack is up: the training pipeline on the default synthetic data, then the deployment of its models. */
export async function runMainJob(cfg: AppConfig, logger: Logger, input: object = {}, deployment: object = DEMO_CANARY_INPUT): Promise<TrainingSummary> {
  const summary = await runTrainingPipeline(cfg, logger, input);
  printSummary(cfg, summary);
  await runDeployment(cfg, logger, deployment);
  return summary;
}
