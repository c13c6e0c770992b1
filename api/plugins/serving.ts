/**
 * The serving state shared by the routes: the live models, the scorer (routing, ensemble, decision),
 * the per-slot live statistics, the explainer and the clock.
 */
import fp from 'fastify-plugin';
import type { ModelKind } from '../../lib/ml/types';
import type { ServingModels } from '../../lib/serving/contract';
import { LiveStats } from '../live-stats';
import { Scorer } from '../scoring';
import type { AppDeps, BackgroundSample, ExplainFn, ExplainMethodInfo } from '../types';

/**
 * How each kind is explained unless `deps.explainMethods` says otherwise (as lib/explain does it:
 * TreeSHAP on the boosted and random-forest trees, Kernel SHAP on the network and on the isolation
 * forest's calibrated probability).
 */
export const DEFAULT_EXPLAIN_METHODS: Record<ModelKind, ExplainMethodInfo> = {
  xgboost: { method: 'tree_shap', needsBackground: false },
  random_forest: { method: 'tree_shap', needsBackground: false },
  isolation_forest: { method: 'kernel_shap', needsBackground: true },
  neural_network: { method: 'kernel_shap', needsBackground: true },
};

export interface ServingContext {
  readonly models: ServingModels;
  readonly scorer: Scorer;
  readonly liveStats: LiveStats;
  readonly explain: ExplainFn;
  readonly background: BackgroundSample | undefined;
  explainMethod(kind: ModelKind): ExplainMethodInfo;
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** `now()` when the app was built. */
  readonly startedAt: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    serving: ServingContext;
  }
}

export type ServingPluginOptions = Pick<AppDeps, 'models' | 'explain' | 'ensemble' | 'background' | 'explainMethods' | 'now'>;

export default fp<ServingPluginOptions>(
  async (app, opts) => {
    const threshold = opts.ensemble?.threshold;
    if (threshold !== undefined && !(threshold > 0 && threshold < 1)) {
      throw new TypeError(`ensemble.threshold must be in (0, 1), got ${threshold}`);
    }
    const { background } = opts;
    if (background && (!(background.numRows > 0) || background.features.length % background.numRows !== 0)) {
      throw new TypeError(`background: ${background.features.length} values do not split into ${background.numRows} rows`);
    }
    const now = opts.now ?? Date.now;
    const liveStats = new LiveStats();
    const methods = { ...DEFAULT_EXPLAIN_METHODS, ...opts.explainMethods };
    app.decorate('serving', {
      models: opts.models,
      scorer: new Scorer(opts.models, liveStats, { threshold }),
      liveStats,
      explain: opts.explain,
      background,
      explainMethod: (kind: ModelKind) => methods[kind],
      now,
      startedAt: now(),
    } satisfies ServingContext);
  },
  { name: 'api-serving' },
);
