/** `GET /health` (liveness plus what is loaded) and `GET /ready` (200 only with a champion). Both public. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { LoadedModelSet } from '../../lib/serving/contract';
import { HealthResponseSchema, ReadyResponseSchema } from '../schemas';

function slotInfo(set: LoadedModelSet | undefined) {
  if (!set) return null;
  return { release: set.manifest.id, loaded_at: set.loadedAt, members: set.manifest.members.map((m) => ({ kind: m.kind, version: m.version })) };
}

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { models, now, startedAt } = app.serving;

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and loaded releases',
        description: 'Always 200 while the process serves HTTP; status is degraded when no champion is loaded.',
        response: { 200: HealthResponseSchema },
      },
    },
    async () => {
      const champion = models.champion();
      const canary = models.canary();
      const t = now();
      return {
        status: champion ? ('ok' as const) : ('degraded' as const),
        timestamp: new Date(t).toISOString(),
        uptime_seconds: Math.max(0, (t - startedAt) / 1000),
        champion: slotInfo(champion),
        canary: slotInfo(canary),
        canary_percent: canary ? models.canaryPercent() : 0,
        rejected: models.rejected().map((r) => ({ slot: r.slot, release: r.release, reason: r.reason, at: r.at })),
      };
    },
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: 200 only when a champion model set is loaded',
        response: { 200: ReadyResponseSchema, 503: ReadyResponseSchema },
      },
    },
    async (_request, reply) => {
      const champion = models.champion();
      if (!champion) return reply.code(503).send({ status: 'not_ready' as const, reason: 'no champion model set is loaded' });
      return { status: 'ready' as const, release: champion.manifest.id };
    },
  );
};

export default healthRoutes;
