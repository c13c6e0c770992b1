/**
 * One error shape for every route: `{ error, message, field? }`. Schema failures become 400
 * `invalid_request` naming the field; other client errors keep their status; anything unexpected is
 * a 500 whose body carries only the request id (the details go to the log, never to the client).
 */
import type { FastifyError, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors';
import type { ApiErrorBody } from '../schemas';

const COMBINATORS = new Set(['anyOf', 'oneOf', 'allOf', 'if', 'then', 'else', 'not']);

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** `/transactions/3/features/0` → `transactions[3].features[0]`. */
export function fieldOfPointer(pointer: string, extra?: string): string {
  const segments = pointer.split('/').slice(1).map(unescapePointer);
  if (extra !== undefined) segments.push(extra);
  let field = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) field += `[${s}]`;
    else field += field === '' ? s : `.${s}`;
  }
  return field;
}

function fieldOf(e: FastifySchemaValidationError): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof p.missingProperty === 'string') return fieldOfPointer(e.instancePath, p.missingProperty);
  if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') return fieldOfPointer(e.instancePath, p.additionalProperty);
  return fieldOfPointer(e.instancePath);
}

function depth(field: string): number {
  return field === '' ? 0 : field.split(/\.|\[/).length;
}

/**
 * The one error worth reporting out of Ajv's list. A union (`features`: array or object) reports a
 * failure per branch; the deepest field is the most specific one (`features[0] must be number` beats
 * `features must be object`), and at equal depth a constraint beats a bare type mismatch.
 */
export function describeValidation(errors: readonly FastifySchemaValidationError[], context = 'body'): { message: string; field: string } {
  const plain = errors.filter((e) => !COMBINATORS.has(e.keyword));
  const pool = plain.length > 0 ? plain : [...errors];
  let best = pool[0];
  let bestRank = -1;
  for (const e of pool) {
    const rank = depth(fieldOf(e)) * 2 + (e.keyword === 'type' ? 0 : 1);
    if (rank > bestRank) {
      best = e;
      bestRank = rank;
    }
  }
  if (!best) return { message: `${context} is invalid`, field: context };
  const field = fieldOf(best);
  const name = field === '' ? context : field;
  const params = best.params as Record<string, unknown>;
  let message: string;
  switch (best.keyword) {
    case 'type': {
      const types = [...new Set(pool.filter((e) => e.keyword === 'type' && fieldOf(e) === field).map((e) => String((e.params as { type?: unknown }).type)))];
      message = `${name} must be ${types.join(' or ')}`;
      break;
    }
    case 'required':
      message = `${name} is required`;
      break;
    case 'additionalProperties':
      message = `${name} is not an allowed field`;
      break;
    case 'const': {
      const allowed = pool.filter((e) => e.keyword === 'const' && fieldOf(e) === field).map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
      message = `${name} must be one of ${allowed.join(', ')}`;
      break;
    }
    case 'enum':
      message = `${name} must be one of ${(params.allowedValues as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ') ?? 'the allowed values'}`;
      break;
    default:
      message = `${name} ${best.message ?? 'is invalid'}`;
  }
  return { message, field: name };
}

const CLIENT_ERROR_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      let status: number;
      let body: ApiErrorBody;
      if (error instanceof ApiError) {
        status = error.statusCode;
        body = { error: error.code, message: error.message, ...(error.field !== undefined ? { field: error.field } : {}) };
        if (status >= 500) request.log.warn({ code: error.code }, error.message);
      } else if (error.validation) {
        status = 400;
        body = { error: 'invalid_request', ...describeValidation(error.validation, error.validationContext ?? 'body') };
      } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
        // Fastify's own client errors (bad JSON, wrong content type, body too large): safe messages.
        status = error.statusCode;
        body = { error: CLIENT_ERROR_CODES[status] ?? 'client_error', message: error.message };
      } else {
        status = 500;
        request.log.error({ err: error }, 'unhandled error');
        body = { error: 'internal_error', message: `internal server error (request id ${String(request.id)}; details are in the server log)` };
      }
      return reply.code(status).type('application/json; charset=utf-8').send(body);
    });

    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } satisfies ApiErrorBody),
    );
  },
  { name: 'api-errors' },
);
