/**
 * Request and response schemas of every route (TypeBox → JSON Schema → Ajv validation, fast
 * serialization and the OpenAPI document). Response schemas also keep anything not listed here out
 * of a response body.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CREDIT_CARD_FEATURES } from '../lib/ml/data/synthetic';
import { MODEL_KINDS, type ModelKind } from '../lib/ml/types';
import { SLOTS, type DeploymentStatus, type Slot } from '../lib/serving/contract';
import { CONFIDENCE_DOC, RISK_LEVEL_DOC, RISK_LEVELS, type RiskLevel } from './scoring';

/** A string restricted to `values`, as one `enum` (one clear validation error, unlike a union of literals). */
function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

// ---------------------------------------------------------------------------------------------- errors

export const ApiErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'Stable machine-readable code, e.g. invalid_request, unauthorized, forbidden, no_champion.' }),
    message: Type.String({ description: 'What went wrong, for a human.' }),
    field: Type.Optional(Type.String({ description: 'The request field at fault, e.g. `transactions[3].features[0]` or `features.V29`.' })),
  },
  { $id: 'ApiError', title: 'ApiError' },
);
export type ApiErrorBody = Static<typeof ApiErrorSchema>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: the body names the field at fault.',
  401: 'Missing or unknown bearer token.',
  403: 'The token’s role may not call this route.',
  409: 'The server lacks what the request needs (e.g. background rows for a kernel explanation).',
  500: 'Unexpected server error (no details in the body; see the server log with the request id).',
  501: 'Not supported by the loaded model set.',
  503: 'No champion model set is loaded.',
};

/** Response schemas for the given error statuses, all the shared `ApiError` body. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(
    statuses.map((status) => [status, Type.Unsafe<ApiErrorBody>(Type.Ref('ApiError', { description: ERROR_DESCRIPTIONS[status] ?? 'Error.' }))]),
  );
}

// --------------------------------------------------------------------------------------------- scoring

/** Number of features of the credit-card schema the models are trained on. */
export const FEATURE_COUNT = CREDIT_CARD_FEATURES.length;

export const TransactionId = Type.String({ minLength: 1, maxLength: 128, description: 'Client transaction id; also decides champion or canary (sticky).' });

export const FeaturesSchema = Type.Union(
  [
    Type.Array(Type.Number(), {
      minItems: FEATURE_COUNT,
      maxItems: FEATURE_COUNT,
      description: `${FEATURE_COUNT} finite numbers in the model's feature order: ${CREDIT_CARD_FEATURES.join(', ')}.`,
    }),
    Type.Record(Type.String(), Type.Number(), {
      description: `Finite numbers keyed by feature name; exactly the model's feature names (${CREDIT_CARD_FEATURES.join(', ')}), no more, no fewer.`,
    }),
  ],
  { description: 'Raw (unscaled) features of one transaction, as an array in feature order or an object by name.' },
);

export const ModelKindSchema = StringEnum<ModelKind>(MODEL_KINDS, { description: 'A member model kind.' });
const SlotSchema = StringEnum<Slot>(SLOTS);

export const PredictRequestSchema = Type.Object(
  { transaction_id: TransactionId, features: FeaturesSchema },
  {
    additionalProperties: false,
    examples: [{ transaction_id: 'txn_0001', features: [406, ...Array.from({ length: 28 }, () => 0), 89.5] }],
  },
);
export type PredictRequest = Static<typeof PredictRequestSchema>;

export const PredictionSchema = Type.Object({
  transaction_id: Type.String(),
  fraud_score: Type.Number({ minimum: 0, maximum: 1, description: 'Weighted mean of the member scores (manifest weights, normalised over the members present).' }),
  prediction: Type.Unsafe<0 | 1>({ type: 'integer', enum: [0, 1], description: '1 (fraud) when fraud_score >= threshold.' }),
  risk_level: StringEnum<RiskLevel>(RISK_LEVELS, { description: RISK_LEVEL_DOC }),
  confidence: Type.Number({ minimum: 0, maximum: 1, description: CONFIDENCE_DOC }),
  threshold: Type.Number({ description: "The decision threshold used: the release manifest's unless the server overrides it." }),
  model_scores: Type.Record(Type.String(), Type.Number(), { description: 'Fraud probability of each member model, by kind.' }),
  model_versions: Type.Record(Type.String(), Type.String(), { description: 'MLflow model version of each member, by kind.' }),
  release: Type.String({ description: 'Release id of the model set that scored the transaction.' }),
  served_by: SlotSchema,
  processing_time_ms: Type.Number({ description: 'Server time for this transaction; in a batch, its share of its slot’s scoring call.' }),
});

export const BatchRequestSchema = Type.Object(
  { transactions: Type.Array(PredictRequestSchema, { minItems: 1, maxItems: 1000, description: '1 to 1,000 transactions.' }) },
  { additionalProperties: false },
);
export type BatchRequest = Static<typeof BatchRequestSchema>;

export const BatchResponseSchema = Type.Object({
  results: Type.Array(PredictionSchema, { description: 'One prediction per transaction, in request order.' }),
  count: Type.Integer(),
  fraud_detected: Type.Integer({ description: 'How many results have prediction 1.' }),
  processing_time_ms: Type.Number(),
});

// --------------------------------------------------------------------------------------------- explain

export const ExplainRequestSchema = Type.Object(
  {
    transaction_id: Type.Optional(TransactionId),
    features: FeaturesSchema,
    // A union of literals (not an enum) so the handler's type is ModelKind; the error formatter lists the choices.
    model: Type.Optional(Type.Union(MODEL_KINDS.map((k) => Type.Literal(k)), { description: 'Which member of the champion to explain. Default xgboost.' })),
    top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'How many top contributions to return (at most the number of features). Default 10.' })),
  },
  { additionalProperties: false },
);
export type ExplainRequest = Static<typeof ExplainRequestSchema>;

const ContributionSchema = Type.Object({ feature: Type.String(), value: Type.Number(), contribution: Type.Number() });

export const ExplainResponseSchema = Type.Object({
  transaction_id: Type.Optional(Type.String()),
  model: ModelKindSchema,
  version: Type.String({ description: 'MLflow version of the explained member.' }),
  release: Type.String(),
  method: Type.String({ description: 'e.g. tree_shap, kernel_shap.' }),
  output_space: Type.String({ description: 'What bias + Σ contributions adds up to, e.g. margin (log-odds) or probability.' }),
  bias: Type.Number(),
  output: Type.Number(),
  contributions: Type.Array(ContributionSchema, { description: 'Every feature, in feature order.' }),
  top: Type.Array(ContributionSchema, { description: 'The top_k contributions by absolute value.' }),
  processing_time_ms: Type.Number(),
});

const ExplainModelSetSchema = Type.Object({
  release: Type.String(),
  models: Type.Array(
    Type.Object({
      kind: ModelKindSchema,
      version: Type.String(),
      registered_model: Type.String(),
      weight: Type.Number({ description: 'Ensemble weight in the manifest (0 when absent).' }),
      method: Type.String(),
      needs_background: Type.Boolean(),
      available: Type.Boolean({ description: 'Whether POST /api/v1/explain/shap can explain this member now.' }),
      unavailable_reason: Type.Optional(Type.String()),
    }),
  ),
});

export const ExplainModelsResponseSchema = Type.Object({
  champion: Nullable(ExplainModelSetSchema),
  canary: Nullable(ExplainModelSetSchema),
});

// ---------------------------------------------------------------------------------------------- health

const SlotInfoSchema = Type.Object({
  release: Type.String(),
  loaded_at: Type.String(),
  members: Type.Array(Type.Object({ kind: ModelKindSchema, version: Type.String() })),
});

const RejectedSchema = Type.Object({
  slot: SlotSchema,
  release: Nullable(Type.String()),
  reason: Type.String(),
  at: Type.String(),
});

export const HealthResponseSchema = Type.Object({
  status: StringEnum(['ok', 'degraded'] as const, { description: 'degraded: the process runs but no champion is loaded (see rejected).' }),
  timestamp: Type.String(),
  uptime_seconds: Type.Number(),
  champion: Nullable(SlotInfoSchema),
  canary: Nullable(SlotInfoSchema),
  canary_percent: Type.Number(),
  rejected: Type.Array(RejectedSchema, { description: 'Candidates the model store refused (corrupt, half-written, failed smoke test).' }),
});

export const ReadyResponseSchema = Type.Object({
  status: StringEnum(['ready', 'not_ready'] as const),
  release: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
});

// ----------------------------------------------------------------------------------------------- admin

const MemberSchema = Type.Object({
  kind: ModelKindSchema,
  registeredModel: Type.String(),
  version: Type.String(),
  runId: Type.Optional(Type.String()),
  sha256: Type.String(),
  threshold: Type.Optional(Type.Number()),
});

const SlotLiveStatsSchema = Type.Object({
  release: Nullable(Type.String()),
  requests: Type.Integer({ description: 'Transactions this slot scored (or failed to) since its release was loaded.' }),
  errors: Type.Integer({ description: 'Transactions that failed with a 5xx while scoring in this slot.' }),
  p50Ms: Type.Number({ description: 'Median scoring-call latency in ms (fixed log buckets, ~2.5 % error).' }),
  p95Ms: Type.Number(),
  scoreHistogram: Type.Array(Type.Integer(), { minItems: 20, maxItems: 20, description: 'Ensemble scores in 20 equal bins over [0, 1].' }),
});

const DeployedSetSchema = Type.Object({ release: Type.String(), members: Type.Array(MemberSchema), loadedAt: Type.String() });

export const DeploymentStatusSchema = Type.Object({
  routing: Nullable(
    Type.Object({
      schemaVersion: Type.Literal(1),
      canaryPercent: Type.Number(),
      championRelease: Nullable(Type.String()),
      canaryRelease: Nullable(Type.String()),
      deploymentId: Nullable(Type.String()),
      updatedAt: Type.String(),
    }),
  ),
  champion: Nullable(DeployedSetSchema),
  canary: Nullable(DeployedSetSchema),
  live: Type.Object({ champion: SlotLiveStatsSchema, canary: SlotLiveStatsSchema }),
  rejected: Type.Array(RejectedSchema),
});

// The schema and the serving contract must describe the same object, both ways.
const _statusFitsSchema = (s: DeploymentStatus): Static<typeof DeploymentStatusSchema> => s;
const _schemaFitsStatus = (s: Static<typeof DeploymentStatusSchema>): DeploymentStatus => s;
