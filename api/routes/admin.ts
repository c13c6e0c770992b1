/** `GET /api/v1/admin/deployment` (role admin): what the canaryDeployment workflow reads between steps. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DeploymentStatus, LoadedModelSet } from '../../lib/serving/contract';
import { DeploymentStatusSchema, errorResponses } from '../schemas';

function deployed(set: LoadedModelSet | undefined): DeploymentStatus['champion'] {
  return set ? { release: set.manifest.id, members: set.manifest.members, loadedAt: set.loadedAt } : null;
}

const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { models, liveStats } = app.serving;

  app.get(
    '/admin/deployment',
    {
      onRequest: app.requireRole('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Routing, loaded releases and per-slot live statistics',
        description:
          'Live statistics of a slot count since the release it serves was loaded (they restart when that release changes): ' +
          'transactions scored, 5xx scoring errors, scoring latency p50/p95 and a 20-bin score histogram.',
        security: [{ bearerAuth: [] }],
        response: { 200: DeploymentStatusSchema, ...errorResponses(401, 403, 500) },
      },
    },
    async (): Promise<DeploymentStatus> => {
      const champion = models.champion();
      const canary = models.canary();
      return {
        routing: models.routing() ?? null,
        champion: deployed(champion),
        canary: deployed(canary),
        live: {
          champion: liveStats.snapshot('champion', champion?.manifest.id ?? null),
          canary: liveStats.snapshot('canary', canary?.manifest.id ?? null),
        },
        rejected: [...models.rejected()],
      };
    },
  );
};

export default adminRoutes;
