/**
 * The one versioned schema (schemaVersion 1) of `manifest.json` and `traffic_routing.json`, used by
 * the writer before it writes and by the reader after it reads, so neither can accept what the
 * other would refuse. TypeBox checks the shape; a few cross-field rules (unique member kinds,
 * a content-derived id, a canary share needs a canary) are checked after it.
 */
import { Type, type Static, type TNumber, type TOptional, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MODEL_KINDS, type ModelKind } from '../ml/types';
import type { ModelSetManifest, ModelSetMember, TrafficRouting } from '../serving/contract';
import { InvalidManifestError, InvalidRoutingError, fieldOfPath } from './errors';
import { computeReleaseId } from './layout';

export const SCHEMA_VERSION = 1;

const ISO_TIMESTAMP = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$';

export const ModelKindSchema = Type.Union(
  MODEL_KINDS.map((kind) => Type.Literal(kind)),
  { description: `one of ${MODEL_KINDS.join(', ')}` },
);
export const ReleaseIdSchema = Type.String({ pattern: '^[0-9a-f]{16}$', description: '16 lowercase hex digits' });
const NullableReleaseIdSchema = Type.Union([ReleaseIdSchema, Type.Null()], { description: 'a release id (16 lowercase hex digits) or null' });
const ProbabilitySchema = Type.Number({ minimum: 0, maximum: 1 });
const TimestampSchema = Type.String({ pattern: ISO_TIMESTAMP, description: 'an ISO 8601 timestamp' });

export const ModelSetMemberSchema = Type.Object(
  {
    kind: ModelKindSchema,
    registeredModel: Type.String({ minLength: 1 }),
    version: Type.String({ pattern: '^[0-9]+$', description: 'a decimal MLflow model version' }),
    runId: Type.Optional(Type.String({ minLength: 1 })),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: '64 lowercase hex digits' }),
    threshold: Type.Optional(ProbabilitySchema),
  },
  { additionalProperties: false },
);

export const EnsembleWeightsSchema = Type.Object(
  Object.fromEntries(MODEL_KINDS.map((kind) => [kind, Type.Optional(Type.Number({ minimum: 0 }))])) as Record<ModelKind, TOptional<TNumber>>,
  { additionalProperties: false },
);

export const ModelSetManifestSchema = Type.Object(
  {
    schemaVersion: Type.Literal(SCHEMA_VERSION),
    id: ReleaseIdSchema,
    createdAt: TimestampSchema,
    members: Type.Array(ModelSetMemberSchema, { minItems: 1, maxItems: MODEL_KINDS.length }),
    weights: EnsembleWeightsSchema,
    threshold: ProbabilitySchema,
  },
  // Strict: a typo (`treshold`) fails loudly instead of silently meaning "default".
  { additionalProperties: false },
);

export const TrafficRoutingSchema = Type.Object(
  {
    schemaVersion: Type.Literal(SCHEMA_VERSION),
    canaryPercent: Type.Number({ minimum: 0, maximum: 100 }),
    championRelease: NullableReleaseIdSchema,
    canaryRelease: NullableReleaseIdSchema,
    deploymentId: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { description: 'a workflow id or null' }),
    updatedAt: TimestampSchema,
  },
  { additionalProperties: false },
);

// The schemas and the contract's types must describe the same JSON: these fail to compile otherwise.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const manifestMatchesContract: Same<Static<typeof ModelSetManifestSchema>, ModelSetManifest> = true;
const memberMatchesContract: Same<Static<typeof ModelSetMemberSchema>, ModelSetMember> = true;
const routingMatchesContract: Same<Static<typeof TrafficRoutingSchema>, TrafficRouting> = true;
void [manifestMatchesContract, memberMatchesContract, routingMatchesContract];

function preview(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The first schema violation as `[field, problem]`, or undefined when the value conforms. */
function firstViolation(schema: TSchema, value: unknown): [string | undefined, string] | undefined {
  if (Value.Check(schema, value)) return undefined;
  const error = Value.Errors(schema, value).First();
  if (!error) return [undefined, 'does not match the schema'];
  const description = typeof error.schema.description === 'string' ? ` (${error.schema.description})` : '';
  return [fieldOfPath(error.path), `${error.message}${description}, got ${preview(error.value)}`];
}

function parseJson<E extends Error>(text: string, fail: (problem: string, cause: unknown) => E): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw fail(`is not valid JSON (${(cause as Error).message})`, cause);
  }
}

/**
 * Checks a manifest against schema version 1 and the cross-field rules: member kinds are unique,
 * the weights of the members sum to more than 0, and `id` is the content hash
 * (`computeReleaseId`). Throws `InvalidManifestError` naming `file` and the field.
 */
export function checkManifest(value: unknown, file: string): ModelSetManifest {
  const violation = firstViolation(ModelSetManifestSchema, value);
  if (violation) throw new InvalidManifestError(file, violation[0], violation[1]);
  const manifest = value as ModelSetManifest;
  const seen = new Set<ModelKind>();
  manifest.members.forEach((member, i) => {
    if (seen.has(member.kind)) throw new InvalidManifestError(file, `members[${i}].kind`, `${member.kind} appears twice`);
    seen.add(member.kind);
  });
  const weightSum = manifest.members.reduce((sum, m) => sum + (manifest.weights[m.kind] ?? 0), 0);
  if (!(weightSum > 0) || !Number.isFinite(weightSum)) {
    throw new InvalidManifestError(file, 'weights', `the members (${[...seen].join(', ')}) must have a positive total weight, got ${weightSum}`);
  }
  const expectedId = computeReleaseId(manifest);
  if (manifest.id !== expectedId) {
    throw new InvalidManifestError(file, 'id', `${manifest.id} is not the content hash of this manifest (${expectedId}): the manifest was edited after it was written`);
  }
  return manifest;
}

/** Parses and checks the text of a `manifest.json`; see {@link checkManifest}. */
export function parseManifest(text: string, file: string): ModelSetManifest {
  return checkManifest(parseJson(text, (problem, cause) => new InvalidManifestError(file, undefined, problem, { cause })), file);
}

/**
 * Checks a routing document against schema version 1, and that a canary share comes with a canary
 * release. Throws `InvalidRoutingError` naming `file` and the field.
 */
export function checkRouting(value: unknown, file: string): TrafficRouting {
  const violation = firstViolation(TrafficRoutingSchema, value);
  if (violation) throw new InvalidRoutingError(file, violation[0], violation[1]);
  const routing = value as TrafficRouting;
  if (routing.canaryPercent > 0 && routing.canaryRelease === null) {
    throw new InvalidRoutingError(file, 'canaryRelease', `is null but canaryPercent is ${routing.canaryPercent}`);
  }
  return routing;
}

/** Parses and checks the text of a `traffic_routing.json`; see {@link checkRouting}. */
export function parseRouting(text: string, file: string): TrafficRouting {
  return checkRouting(parseJson(text, (problem, cause) => new InvalidRoutingError(file, undefined, problem, { cause })), file);
}
