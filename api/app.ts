/**
 * The serving API as a Fastify app, built from plugins:
 * errors (one error shape) → docs (OpenAPI, /docs) → auth (bearer roles) → metrics (/metrics) →
 * serving (models, scorer, live stats) → routes: health, predict, explain, admin.
 * `buildApp` never listens (see server.ts), so tests drive it with `app.inject()`.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import authPlugin from './plugins/auth';
import docsPlugin from './plugins/docs';
import errorsPlugin from './plugins/errors';
import metricsPlugin from './plugins/metrics';
import servingPlugin from './plugins/serving';
import adminRoutes from './routes/admin';
import explainRoutes from './routes/explain';
import healthRoutes from './routes/health';
import predictRoutes from './routes/predict';
import { ApiErrorSchema } from './schemas';
import type { AppDeps } from './types';

/**
 * Where a bearer token could appear in a log line; pino replaces them all. Fastify's default request
 * serializer logs no headers, so this guards code that logs a request or its headers whole.
 */
export const REDACTED_LOG_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  '*.authorization',
  '*.headers.authorization',
  'token',
  '*.token',
];

const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export async function buildApp(deps: AppDeps) {
  const logger = deps.logger.child({ module: 'api' }, { redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } });
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ajv: {
      // Fastify's defaults would turn `null` into 0 and "12" into 12, and silently drop unknown fields:
      // a scoring API must reject those instead.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addSchema(ApiErrorSchema);
  await app.register(errorsPlugin);
  await app.register(docsPlugin);
  await app.register(authPlugin, { auth: deps.auth });
  await app.register(metricsPlugin, { processMetrics: deps.processMetrics ?? false });
  await app.register(servingPlugin, {
    models: deps.models,
    explain: deps.explain,
    ensemble: deps.ensemble,
    background: deps.background,
    explainMethods: deps.explainMethods,
    now: deps.now,
  });
  await app.register(healthRoutes);
  await app.register(predictRoutes, { prefix: '/api/v1' });
  await app.register(explainRoutes, { prefix: '/api/v1' });
  await app.register(adminRoutes, { prefix: '/api/v1' });
  return app;
}

export type ApiApp = Awaited<ReturnType<typeof buildApp>>;
