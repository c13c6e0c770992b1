/**
 * The input of `canaryDeployment`, checked field by field before anything is touched. Every field
 * is optional, so `--input '{}'` deploys the Staging models with the defaults. Pure and
 * deterministic: runs inside the workflow.
 */
import type { ModelKind } from '../lib/ml/types';
import { inputFields, isObject, TRAINABLE_MODELS, type DatasetSpec } from './input-fields';

export interface CanaryDeploymentInput {
  /** Which models make up the deployed ensemble. @default all four */
  models?: ModelKind[];
  /** Exact registered versions to deploy, by model (e.g. `{ "xgboost": "7" }`). @default the latest Staging version of each */
  versions?: Partial<Record<ModelKind, string>>;
  /** Ensemble weights by model. @default xgboost 0.5, random_forest 0.3, neural_network 0.15, isolation_forest 0.05 (the seed's) */
  weights?: Partial<Record<ModelKind, number>>;
  /** Canary traffic shares in percent, increasing, the last one 100. @default [5, 25, 50, 100] */
  steps?: number[];
  /** How long each step bakes before the next. @default 1800 (30 minutes) */
  bakeSeconds?: number;
  /** How often live metrics are checked during a bake (a failing check rolls back at once). @default 30 */
  checkIntervalSeconds?: number;
  /** Wait for the `approve` signal before each step. @default false */
  requireApproval?: boolean;
  /** Held-out data the challenger and the champion are compared on. @default synthetic, 50,000 rows, seed 7919 */
  holdout?: { source?: 'synthetic'; rows?: number; seed?: number; fraudRate?: number } | { source: 'csv'; path: string; labelColumn?: string };
  /** Offline comparison rules (challenger vs champion on the held-out data). */
  comparison?: {
    /** @default 0.02 */
    maxPrAucDrop?: number;
    /** @default 0.05 */
    maxRecallDrop?: number;
    /** @default 0.005 */
    maxFprIncrease?: number;
    /** Challenger scoring time per row over the champion's. @default 3 */
    maxLatencyRatio?: number;
  };
  /** Live analysis rules (canary vs champion traffic during each bake). */
  analysis?: {
    /** Canary error rate minus champion error rate. @default 0.01 */
    maxErrorRateIncrease?: number;
    /** Canary p95 latency over champion p95. @default 2 */
    maxP95LatencyRatio?: number;
    /** Latencies below this are never a reason to roll back (noise at the millisecond level). @default 25 */
    minP95LatencyMs?: number;
    /** Population stability index of canary vs champion fraud scores. @default 0.25 */
    maxPsi?: number;
    /** Canary requests a step needs before it can pass. @default 20 */
    minCanaryRequests?: number;
  };
  /** How long the API may take to load a new release before the deployment is rolled back. @default 120 */
  apiLoadTimeoutSeconds?: number;
}

export interface CanaryPlan {
  models: ModelKind[];
  versions: Partial<Record<ModelKind, string>>;
  weights: Partial<Record<ModelKind, number>>;
  steps: number[];
  bakeSeconds: number;
  checkIntervalSeconds: number;
  requireApproval: boolean;
  holdout: DatasetSpec;
  comparison: { maxPrAucDrop: number; maxRecallDrop: number; maxFprIncrease: number; maxLatencyRatio: number };
  analysis: { maxErrorRateIncrease: number; maxP95LatencyRatio: number; minP95LatencyMs: number; maxPsi: number; minCanaryRequests: number };
  apiLoadTimeoutSeconds: number;
}

export const DEFAULT_WEIGHTS: Record<ModelKind, number> = { xgboost: 0.5, random_forest: 0.3, neural_network: 0.15, isolation_forest: 0.05 };

const fields = inputFields('canaryDeployment');
const invalid: (field: string, problem: string) => never = fields.invalid;
const { checkKeys, num, bool, parseDataset, parseModels } = fields;

function obj(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) invalid(field, 'must be an object');
  return value;
}

/** Checks the raw workflow input and fills the defaults; throws a non-retryable failure naming the first bad field. */
export function parseCanaryInput(raw: unknown): CanaryPlan {
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) invalid('input', `must be a JSON object, got ${JSON.stringify(raw)}`);
  checkKeys(raw, '', ['models', 'versions', 'weights', 'steps', 'bakeSeconds', 'checkIntervalSeconds', 'requireApproval', 'holdout', 'comparison', 'analysis', 'apiLoadTimeoutSeconds']);
  const models = parseModels(raw.models);

  const versions: Partial<Record<ModelKind, string>> = {};
  for (const [kind, v] of Object.entries(obj(raw.versions, 'versions'))) {
    if (!models.includes(kind as ModelKind)) invalid(`versions.${kind}`, `is not one of the deployed models (${models.join(', ')})`);
    if (typeof v !== 'string' && typeof v !== 'number') invalid(`versions.${kind}`, `must be a version number, got ${JSON.stringify(v)}`);
    if (!/^[1-9]\d*$/.test(String(v))) invalid(`versions.${kind}`, `must be a version number, got ${JSON.stringify(v)}`);
    versions[kind as ModelKind] = String(v);
  }

  const weightsRaw = obj(raw.weights, 'weights');
  const weights: Partial<Record<ModelKind, number>> = {};
  for (const kind of models) weights[kind] = DEFAULT_WEIGHTS[kind];
  for (const [kind, w] of Object.entries(weightsRaw)) {
    if (!(TRAINABLE_MODELS as readonly string[]).includes(kind)) invalid(`weights.${kind}`, `is not a model (expected one of: ${TRAINABLE_MODELS.join(', ')})`);
    if (!models.includes(kind as ModelKind)) invalid(`weights.${kind}`, `is given but ${kind} is not in models`);
    weights[kind as ModelKind] = num(w, `weights.${kind}`, 0, { min: 0, max: 1000 });
  }
  if (!Object.values(weights).some((w) => (w ?? 0) > 0)) invalid('weights', 'must give at least one model a positive weight');

  let steps = [5, 25, 50, 100];
  if (raw.steps !== undefined) {
    if (!Array.isArray(raw.steps) || raw.steps.length === 0) invalid('steps', 'must be a non-empty list of percentages');
    steps = raw.steps.map((s, i) => num(s, `steps[${i}]`, 0, { min: 0, max: 100, exclusiveMin: true }));
    steps.forEach((s, i) => {
      if (i > 0 && s <= steps[i - 1]!) invalid(`steps[${i}]`, `must be larger than the step before (${steps[i - 1]}), got ${s}`);
    });
    if (steps[steps.length - 1] !== 100) invalid(`steps[${steps.length - 1}]`, `the last step must be 100 (all traffic) before promotion, got ${steps[steps.length - 1]}`);
  }

  const bakeSeconds = num(raw.bakeSeconds, 'bakeSeconds', 1800, { min: 0, max: 7 * 24 * 3600 });
  const checkIntervalSeconds = num(raw.checkIntervalSeconds, 'checkIntervalSeconds', 30, { min: 0.1, max: 3600 });

  const c = obj(raw.comparison, 'comparison');
  checkKeys(c, 'comparison', ['maxPrAucDrop', 'maxRecallDrop', 'maxFprIncrease', 'maxLatencyRatio']);
  const a = obj(raw.analysis, 'analysis');
  checkKeys(a, 'analysis', ['maxErrorRateIncrease', 'maxP95LatencyRatio', 'minP95LatencyMs', 'maxPsi', 'minCanaryRequests']);

  return {
    models,
    versions,
    weights,
    steps,
    bakeSeconds,
    checkIntervalSeconds,
    requireApproval: bool(raw.requireApproval, 'requireApproval', false),
    holdout: parseDataset(raw.holdout, 'holdout', { rows: 50_000, seed: 7919, fraudRate: 0.00172 }),
    comparison: {
      maxPrAucDrop: num(c.maxPrAucDrop, 'comparison.maxPrAucDrop', 0.02, { min: 0, max: 1 }),
      maxRecallDrop: num(c.maxRecallDrop, 'comparison.maxRecallDrop', 0.05, { min: 0, max: 1 }),
      maxFprIncrease: num(c.maxFprIncrease, 'comparison.maxFprIncrease', 0.005, { min: 0, max: 1 }),
      maxLatencyRatio: num(c.maxLatencyRatio, 'comparison.maxLatencyRatio', 3, { min: 1, max: 1000 }),
    },
    analysis: {
      maxErrorRateIncrease: num(a.maxErrorRateIncrease, 'analysis.maxErrorRateIncrease', 0.01, { min: 0, max: 1 }),
      maxP95LatencyRatio: num(a.maxP95LatencyRatio, 'analysis.maxP95LatencyRatio', 2, { min: 1, max: 1000 }),
      minP95LatencyMs: num(a.minP95LatencyMs, 'analysis.minP95LatencyMs', 25, { min: 0, max: 60_000 }),
      maxPsi: num(a.maxPsi, 'analysis.maxPsi', 0.25, { min: 0, max: 100 }),
      minCanaryRequests: num(a.minCanaryRequests, 'analysis.minCanaryRequests', 20, { min: 0, max: 1e9, integer: true }),
    },
    apiLoadTimeoutSeconds: num(raw.apiLoadTimeoutSeconds, 'apiLoadTimeoutSeconds', 120, { min: 1, max: 3600 }),
  };
}
