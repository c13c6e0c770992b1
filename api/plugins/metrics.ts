/**
 * Prometheus metrics on `GET /metrics`, from a registry owned by this app instance (tests and
 * several apps in one process never share counters).
 *
 * `/metrics` needs no token: scrapers usually cannot do per-target bearer auth without handing them
 * a real credential, and the smallest role here (score) would let the scraper score transactions. The
 * series carry only route names, status codes, release ids and score distributions — no transaction
 * data, ids or tokens. Keep the port off public networks (the server binds 127.0.0.1 by default).
 */
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics, linearBuckets } from 'prom-client';
import type { Slot } from '../../lib/serving/contract';

/** The `served_by` label: a slot, `mixed` for a batch split across both, `none` when nothing was scored. */
export type ServedByLabel = Slot | 'mixed' | 'none';

export interface ApiMetrics {
  readonly registry: Registry;
  /** Counts one scored transaction. */
  observePrediction(servedBy: Slot, release: string, score: number, prediction: 0 | 1): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    apiMetrics: ApiMetrics;
  }
  interface FastifyRequest {
    /** Which slot(s) served the request, for the request metrics' `served_by` label. */
    servedBy: ServedByLabel;
  }
}

export interface MetricsPluginOptions {
  /** Also collect prom-client's process metrics (CPU, memory, event loop lag). @default false */
  processMetrics?: boolean;
}

export default fp<MetricsPluginOptions>(
  async (app, { processMetrics = false }) => {
    const registry = new Registry();
    if (processMetrics) collectDefaultMetrics({ register: registry });

    const requests = new Counter({
      name: 'fraud_api_requests_total',
      help: 'HTTP requests by route template, status code and serving slot.',
      labelNames: ['route', 'status', 'served_by'] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'fraud_api_request_duration_seconds',
      help: 'HTTP request duration in seconds, by route template and serving slot.',
      labelNames: ['route', 'served_by'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const scores = new Histogram({
      name: 'fraud_api_prediction_score',
      help: 'Ensemble fraud scores served, by slot and release.',
      labelNames: ['served_by', 'release'] as const,
      // 0.05, 0.10, …, 1.00 (rounded so the bucket labels read cleanly).
      buckets: linearBuckets(0.05, 0.05, 20).map((b) => Math.round(b * 100) / 100),
      registers: [registry],
    });
    const predictions = new Counter({
      name: 'fraud_api_predictions_total',
      help: 'Transactions scored, by slot, release and predicted class.',
      labelNames: ['served_by', 'release', 'prediction'] as const,
      registers: [registry],
    });

    app.decorate('apiMetrics', {
      registry,
      observePrediction(servedBy: Slot, release: string, score: number, prediction: 0 | 1) {
        scores.observe({ served_by: servedBy, release }, score);
        predictions.inc({ served_by: servedBy, release, prediction: String(prediction) });
      },
    } satisfies ApiMetrics);
    app.decorateRequest('servedBy', 'none');

    app.addHook('onResponse', async (request, reply) => {
      // The route template, never the raw URL: unmatched paths would otherwise grow the label set without bound.
      const route = request.routeOptions.url ?? 'unmatched';
      const servedBy = request.servedBy;
      requests.inc({ route, status: String(reply.statusCode), served_by: servedBy });
      duration.observe({ route, served_by: servedBy }, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description:
            'Prometheus text exposition. Public (no token): a scraper gets no credential that could score or administer; ' +
            'the series hold route names, status codes, release ids and score distributions only.',
          produces: ['text/plain'],
        },
      },
      async (_request, reply) => {
        reply.type(registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'api-metrics' },
);
