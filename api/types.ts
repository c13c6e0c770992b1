/**
 * What the serving API receives from outside (`buildApp(deps)`): the live models, the explainer,
 * the auth configuration and a logger. The API never reaches for the model store or the SHAP code
 * itself, so tests and the entry point can hand it whatever implements these types.
 */
import type { Logger } from '../lib/logger';
import type { FraudModel, ModelKind } from '../lib/ml/types';
import type { LoadedModelSet, ServingModels } from '../lib/serving/contract';

/** Roles, weakest first: a role may do everything the roles before it may. */
export const ROLES = ['score', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** One accepted bearer token, stored as the hex sha256 of the token (never the token itself). */
export interface TokenEntry {
  role: Role;
  /** Lower-case hex sha256 of the token's UTF-8 bytes, 64 characters. */
  sha256: string;
}

export interface AuthConfig {
  tokens: TokenEntry[];
}

/** One feature's share of a model output. */
export interface FeatureContribution {
  feature: string;
  /** The feature's raw value in the explained row. */
  value: number;
  contribution: number;
}

/** What the SHAP helper (lib/explain) returns for one row. */
export interface ExplainResult {
  /** e.g. `tree_shap`, `kernel_shap`. */
  method: string;
  /** What the contributions add up to, e.g. `margin` (log-odds) or `probability`. */
  outputSpace: string;
  /** The expected output over the background / training data. */
  bias: number;
  /** `bias + Σ contributions`: the model's output for the row in `outputSpace`. */
  output: number;
  /** Every feature, in the model's feature order. */
  contributions: FeatureContribution[];
  /** The `topK` largest contributions by absolute value. */
  top: FeatureContribution[];
}

/** Background rows (row-major, the model's feature order) that kernel methods average over. */
export interface BackgroundSample {
  features: Float32Array;
  numRows: number;
}

export interface ExplainOptions {
  background?: BackgroundSample;
  topK?: number;
}

/** The SHAP helper's façade. May return a promise: the API awaits either. */
export type ExplainFn = (model: FraudModel, row: Float32Array, opts: ExplainOptions) => ExplainResult | Promise<ExplainResult>;

/** How a model kind is explained, so the API can say so up front and refuse early when a background is missing. */
export interface ExplainMethodInfo {
  method: string;
  /** Kernel methods average over background rows; tree methods walk the trees. */
  needsBackground: boolean;
}

/**
 * A loaded model set that also exposes its member models (needed to explain one of them).
 * The contract's `LoadedModelSet` only scores; lib/model-store's sets carry `models` as well.
 */
export type ExplainableModelSet = LoadedModelSet & { readonly models: ReadonlyMap<ModelKind, FraudModel> };

/** Options of the ensemble decision. */
export interface EnsembleOptions {
  /** Decision threshold on the ensemble score, in (0, 1). @default the serving manifest's `threshold` */
  threshold?: number;
}

/** Everything `buildApp` needs. */
export interface AppDeps {
  models: ServingModels;
  explain: ExplainFn;
  auth: AuthConfig;
  logger: Logger;
  ensemble?: EnsembleOptions;
  /** Background rows for kernel explanations, a fixed sample chosen outside the API. @default none: kernel explanations answer 409 */
  background?: BackgroundSample;
  /** Explanation method of each kind. @default tree_shap for xgboost and random_forest; kernel_shap (needs a background) for neural_network and isolation_forest */
  explainMethods?: Partial<Record<ModelKind, ExplainMethodInfo>>;
  /** Wall clock in ms since the epoch, for timestamps and uptime. @default Date.now */
  now?: () => number;
  /** Also export prom-client's process metrics (CPU, memory, event loop) on /metrics. @default false */
  processMetrics?: boolean;
  /** Largest accepted request body in bytes. @default 8 MiB (a 1,000-item batch with named features is about 1 MiB) */
  bodyLimit?: number;
}
