/**
 * `GET /api/v1/explain/models` and `POST /api/v1/explain/shap` (role analyst or above): SHAP
 * contributions of one member model of the champion for one transaction.
 */
import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FraudModel, ModelKind } from '../../lib/ml/types';
import type { LoadedModelSet } from '../../lib/serving/contract';
import { BackgroundUnavailableError, ExplainUnavailableError, InvalidRequestError, NoChampionError } from '../errors';
import { writeFeatureRow } from '../scoring';
import { ExplainModelsResponseSchema, ExplainRequestSchema, ExplainResponseSchema, errorResponses } from '../schemas';
import type { ServingContext } from '../plugins/serving';
import type { ExplainableModelSet } from '../types';

/** The member model of `kind`, when the set exposes its members (lib/model-store's sets do). */
export function memberModel(set: LoadedModelSet, kind: ModelKind): FraudModel | undefined {
  const models = (set as Partial<ExplainableModelSet>).models;
  return models instanceof Map ? models.get(kind) : undefined;
}

/** Why `kind` of `set` cannot be explained right now, or undefined when it can. */
function unavailableReason(serving: ServingContext, set: LoadedModelSet, kind: ModelKind): string | undefined {
  if (!memberModel(set, kind)) return `release ${set.manifest.id} does not expose its ${kind} model object for explanation`;
  if (serving.explainMethod(kind).needsBackground) {
    const bg = serving.background;
    if (!bg) return `${serving.explainMethod(kind).method} needs background rows and the server was started without any`;
    if (bg.features.length !== bg.numRows * set.featureNames.length) {
      return `the background rows have ${bg.features.length / bg.numRows} features but release ${set.manifest.id} has ${set.featureNames.length}`;
    }
  }
  return undefined;
}

function describeSet(serving: ServingContext, set: LoadedModelSet | undefined) {
  if (!set) return null;
  return {
    release: set.manifest.id,
    models: set.manifest.members.map((m) => {
      const { method, needsBackground } = serving.explainMethod(m.kind);
      const reason = unavailableReason(serving, set, m.kind);
      return {
        kind: m.kind,
        version: m.version,
        registered_model: m.registeredModel,
        weight: set.manifest.weights[m.kind] ?? 0,
        method,
        needs_background: needsBackground,
        available: reason === undefined,
        ...(reason !== undefined ? { unavailable_reason: reason } : {}),
      };
    }),
  };
}

const DEFAULT_TOP_K = 10;

const explainRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const serving = app.serving;

  app.get(
    '/explain/models',
    {
      onRequest: app.requireRole('analyst'),
      schema: {
        tags: ['explain'],
        summary: 'Models that can be explained, their versions and explanation methods',
        security: [{ bearerAuth: [] }],
        response: { 200: ExplainModelsResponseSchema, ...errorResponses(401, 403, 500) },
      },
    },
    async () => ({ champion: describeSet(serving, serving.models.champion()), canary: describeSet(serving, serving.models.canary()) }),
  );

  app.post(
    '/explain/shap',
    {
      onRequest: app.requireRole('analyst'),
      schema: {
        tags: ['explain'],
        summary: 'SHAP contributions of one champion member for one transaction',
        description:
          'XGBoost and the random forest use TreeSHAP; Kernel SHAP (neural network, isolation forest) averages over ' +
          'background rows the server was started with, and answers 409 when it has none.',
        security: [{ bearerAuth: [] }],
        body: ExplainRequestSchema,
        response: { 200: ExplainResponseSchema, ...errorResponses(400, 401, 403, 409, 500, 501, 503) },
      },
    },
    async (request) => {
      const started = performance.now();
      const { features, transaction_id, model: kind = 'xgboost', top_k = DEFAULT_TOP_K } = request.body;
      const set = serving.models.champion();
      if (!set) throw new NoChampionError();
      const member = set.manifest.members.find((m) => m.kind === kind);
      if (!member) {
        throw new InvalidRequestError(
          `the champion release ${set.manifest.id} has no ${kind} model; it has ${set.manifest.members.map((m) => m.kind).join(', ')}`,
          'model',
        );
      }
      const row = new Float32Array(set.featureNames.length);
      writeFeatureRow(features, set.featureNames, row, 0, 'features');
      const model = memberModel(set, kind);
      if (!model) throw new ExplainUnavailableError(`release ${set.manifest.id} does not expose its ${kind} model object for explanation`);
      const { method, needsBackground } = serving.explainMethod(kind);
      const reason = unavailableReason(serving, set, kind);
      if (needsBackground && reason !== undefined) throw new BackgroundUnavailableError(`cannot explain ${kind} with ${method}: ${reason}`);
      const result = await serving.explain(model, row, {
        topK: Math.min(top_k, set.featureNames.length),
        ...(needsBackground && serving.background ? { background: serving.background } : {}),
      });
      return {
        ...(transaction_id !== undefined ? { transaction_id } : {}),
        model: kind,
        version: member.version,
        release: set.manifest.id,
        method: result.method,
        output_space: result.outputSpace,
        bias: result.bias,
        output: result.output,
        contributions: result.contributions,
        top: result.top,
        processing_time_ms: performance.now() - started,
      };
    },
  );
};

export default explainRoutes;
