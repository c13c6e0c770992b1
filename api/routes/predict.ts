/** `POST /api/v1/predict` and `POST /api/v1/batch-predict` (role score or above). */
import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Slot } from '../../lib/serving/contract';
import type { PredictItem, Scorer } from '../scoring';
import { BatchRequestSchema, BatchResponseSchema, PredictionSchema, PredictRequestSchema, errorResponses } from '../schemas';

/**
 * Scores `items` and labels the request with the slot(s) it used, also when scoring fails there:
 * a canary's 5xx must count against the canary in `fraud_api_requests_total`.
 */
function scoreAndRecord(app: FastifyInstance, request: FastifyRequest, scorer: Scorer, items: readonly PredictItem[], fieldPrefix: (i: number) => string) {
  const slots = new Set<Slot>();
  try {
    const result = scorer.score(items, fieldPrefix, (slot) => slots.add(slot));
    for (const g of result.groups) {
      for (const p of g.predictions) app.apiMetrics.observePrediction(g.slot, g.release, p.fraud_score, p.prediction);
    }
    return result;
  } finally {
    request.servedBy = slots.size === 0 ? 'none' : slots.size > 1 ? 'mixed' : ([...slots][0] as Slot);
  }
}

const predictRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { scorer } = app.serving;

  app.post(
    '/predict',
    {
      onRequest: app.requireRole('score'),
      schema: {
        tags: ['scoring'],
        summary: 'Score one transaction',
        description:
          'Scores with the champion, or with the canary for a sticky share of transaction ids during a canary deployment ' +
          '(FNV-1a of transaction_id mod 10000 < canary percent × 100).',
        security: [{ bearerAuth: [] }],
        body: PredictRequestSchema,
        response: { 200: PredictionSchema, ...errorResponses(400, 401, 403, 500, 503) },
      },
    },
    async (request) => {
      const started = performance.now();
      const { predictions } = scoreAndRecord(app, request, scorer, [request.body], () => '');
      const prediction = predictions[0];
      if (!prediction) throw new Error('scorer returned no prediction for one transaction');
      return { ...prediction, processing_time_ms: performance.now() - started };
    },
  );

  app.post(
    '/batch-predict',
    {
      onRequest: app.requireRole('score'),
      schema: {
        tags: ['scoring'],
        summary: 'Score 1 to 1,000 transactions',
        description:
          'Each transaction is routed like a single prediction; results come back in request order. ' +
          'One invalid transaction rejects the whole batch with 400 naming it, e.g. field `transactions[3].features[0]`.',
        security: [{ bearerAuth: [] }],
        body: BatchRequestSchema,
        response: { 200: BatchResponseSchema, ...errorResponses(400, 401, 403, 500, 503) },
      },
    },
    async (request) => {
      const started = performance.now();
      const { predictions } = scoreAndRecord(app, request, scorer, request.body.transactions, (i) => `transactions[${i}].`);
      return {
        results: predictions,
        count: predictions.length,
        fraud_detected: predictions.reduce((n, p) => n + p.prediction, 0),
        processing_time_ms: performance.now() - started,
      };
    },
  );
};

export default predictRoutes;
