/**
 * The OpenAPI document, generated from the route schemas, and interactive docs at `/docs`
 * (JSON at `/docs/json`). Registered before the routes so it sees every one of them.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { RISK_LEVEL_DOC } from '../scoring';

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Fraud detection serving API',
          version: '1.0.0',
          description:
            'Scores card transactions with the champion model set (and a sticky share with the canary during a deployment), ' +
            'explains scores with SHAP, and reports health, readiness, Prometheus metrics and canary live statistics.\n\n' +
            'Auth: `Authorization: Bearer <token>`. Roles nest: score < analyst < admin. score may predict; analyst may also explain; ' +
            'admin may do everything. /health, /ready, /metrics and /docs are public.\n\n' +
            `Risk levels: ${RISK_LEVEL_DOC}`,
        },
        tags: [
          { name: 'scoring', description: 'Fraud scores (role score or above)' },
          { name: 'explain', description: 'SHAP explanations (role analyst or above)' },
          { name: 'operations', description: 'Health, readiness, metrics (public)' },
          { name: 'admin', description: 'Deployment status (role admin)' },
        ],
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      },
      // Shared schemas (addSchema) appear under components.schemas by their $id.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  },
  { name: 'api-docs' },
);
