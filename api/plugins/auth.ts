/**
 * Bearer-token authentication with three nested roles (score < analyst < admin). Tokens are known
 * only by their sha256; a presented token is hashed and compared with every stored hash in constant
 * time. Routes opt in with `onRequest: app.requireRole('analyst')`, which runs before the body is
 * parsed, so an anonymous caller learns nothing about payload validation.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { AuthConfigError } from '../errors';
import type { ApiErrorBody } from '../schemas';
import { ROLES, type AuthConfig, type Role } from '../types';

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook that admits callers whose token has `role` or a stronger one. */
    requireRole(role: Role): onRequestAsyncHookHandler;
  }
  interface FastifyRequest {
    /** The authenticated caller's role, set by `requireRole`; null on public routes. */
    principal: { role: Role } | null;
  }
}

export interface AuthPluginOptions {
  auth: AuthConfig;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Lower-case hex sha256 of a token, the only form in which tokens are stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Checks an AuthConfig's shape; throws AuthConfigError naming the bad entry. */
export function checkAuthConfig(auth: AuthConfig, source = 'auth config'): void {
  if (!auth || !Array.isArray(auth.tokens)) throw new AuthConfigError(`${source}: expected { tokens: [{ role, sha256 }] }`);
  auth.tokens.forEach((t, i) => {
    if (!t || !(ROLES as readonly unknown[]).includes(t.role)) {
      throw new AuthConfigError(`${source}: tokens[${i}].role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(t?.role)}`);
    }
    if (typeof t.sha256 !== 'string' || !SHA256_HEX.test(t.sha256)) {
      throw new AuthConfigError(`${source}: tokens[${i}].sha256 must be 64 lower-case hex characters (the sha256 of the token, not the token)`);
    }
  });
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

function deny(reply: FastifyReply, status: 401 | 403, body: ApiErrorBody): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="fraud-api"');
  return reply.code(status).send(body);
}

export default fp<AuthPluginOptions>(
  async (app, { auth }) => {
    checkAuthConfig(auth);
    if (auth.tokens.length === 0) app.log.warn('no API tokens are configured: every protected route answers 401');
    const stored = auth.tokens.map((t) => ({ role: t.role, hash: Buffer.from(t.sha256, 'hex') }));
    const rank = (role: Role): number => ROLES.indexOf(role);

    /** The role of `token`, or null. Compares against every stored hash so timing does not tell which matched. */
    const roleOf = (token: string): Role | null => {
      const presented = createHash('sha256').update(token, 'utf8').digest();
      let found: Role | null = null;
      for (const entry of stored) {
        if (timingSafeEqual(presented, entry.hash) && (found === null || rank(entry.role) > rank(found))) found = entry.role;
      }
      return found;
    };

    app.decorateRequest('principal', null);
    app.decorate('requireRole', (required: Role): onRequestAsyncHookHandler => {
      return async (request: FastifyRequest, reply: FastifyReply) => {
        const header = request.headers.authorization;
        if (header === undefined || header === '') {
          return deny(reply, 401, { error: 'unauthorized', message: 'missing bearer token: send Authorization: Bearer <token>' });
        }
        const match = BEARER.exec(header);
        const role = match?.[1] !== undefined ? roleOf(match[1]) : null;
        if (role === null) return deny(reply, 401, { error: 'unauthorized', message: 'invalid bearer token' });
        if (rank(role) < rank(required)) {
          return deny(reply, 403, { error: 'forbidden', message: `this route needs the ${required} role; the token has ${role}` });
        }
        request.principal = { role };
      };
    });
  },
  { name: 'api-auth' },
);
