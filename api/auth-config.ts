/**
 * Where the API's bearer tokens come from, in this order:
 * 1. `API_TOKENS_FILE`: JSON `{ "tokens": [{ "role": "admin", "sha256": "<hex>" }] }` (hashes only);
 * 2. `API_TOKEN_SCORE`, `API_TOKEN_ANALYST`, `API_TOKEN_ADMIN`: plain tokens, hashed on load;
 * (both may be set: their tokens add up)
 * 3. neither: in production the API refuses to start; in development one admin token is generated,
 *    printed once to stdout, and only its hash is kept in `<dataDir>/api-tokens.json` (mode 0600).
 *    Later starts reuse that hash; delete the file to get a new token.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../lib/logger';
import { AuthConfigError } from './errors';
import { checkAuthConfig, hashToken } from './plugins/auth';
import type { AuthConfig, Role, TokenEntry } from './types';

/** Shortest plain token accepted from the environment: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 16;

const ENV_TOKENS: readonly [string, Role][] = [
  ['API_TOKEN_SCORE', 'score'],
  ['API_TOKEN_ANALYST', 'analyst'],
  ['API_TOKEN_ADMIN', 'admin'],
];

export const DEV_TOKENS_FILE = 'api-tokens.json';

export interface LoadAuthConfigOptions {
  /** Where the development token's hash is kept (`DATA_DIR`). */
  dataDir: string;
  logger: Logger;
  /** Refuse to generate a development token. @default env.NODE_ENV === 'production' */
  production?: boolean;
  /** Where a generated token is printed, once. @default process.stdout */
  print?: (text: string) => void;
}

async function readTokensFile(path: string, source: string): Promise<AuthConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new AuthConfigError(`${source}: cannot read ${path} as JSON: ${(err as Error).message}`);
  }
  const auth = parsed as AuthConfig;
  checkAuthConfig(auth, `${source} (${path})`);
  return { tokens: auth.tokens.map((t): TokenEntry => ({ role: t.role, sha256: t.sha256 })) };
}

/** The API's tokens from the environment (see the module comment); throws AuthConfigError when unusable. */
export async function loadAuthConfig(env: NodeJS.ProcessEnv, options: LoadAuthConfigOptions): Promise<AuthConfig> {
  const { dataDir, logger } = options;
  const production = options.production ?? env.NODE_ENV === 'production';
  const print = options.print ?? ((text: string) => void process.stdout.write(text));
  const tokens: TokenEntry[] = [];

  if (env.API_TOKENS_FILE) {
    tokens.push(...(await readTokensFile(env.API_TOKENS_FILE, 'API_TOKENS_FILE')).tokens);
  }
  for (const [name, role] of ENV_TOKENS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
      throw new AuthConfigError(`${name} must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -base64 32)`);
    }
    tokens.push({ role, sha256: hashToken(value) });
  }
  if (tokens.length > 0) {
    logger.info({ roles: tokens.map((t) => t.role), file: env.API_TOKENS_FILE || undefined }, 'API tokens loaded');
    return { tokens };
  }

  if (production) {
    throw new AuthConfigError(
      'no API tokens configured: set API_TOKENS_FILE (JSON {"tokens":[{"role":"admin","sha256":"<hex sha256 of the token>"}]}) ' +
        'or API_TOKEN_SCORE / API_TOKEN_ANALYST / API_TOKEN_ADMIN. NODE_ENV=production never generates a token.',
    );
  }

  const file = join(dataDir, DEV_TOKENS_FILE);
  const existing = await stat(file).catch(() => undefined);
  if (existing) {
    const auth = await readTokensFile(file, 'development token file');
    if ((existing.mode & 0o077) !== 0) {
      await chmod(file, 0o600);
      logger.warn({ file }, 'development token file was readable by others; its mode is now 0600');
    }
    logger.info(
      { file },
      'using the development admin token whose hash is stored in this file (the token itself was printed to stdout when it was generated; delete the file and restart to get a new one)',
    );
    return auth;
  }

  const token = randomBytes(32).toString('base64url');
  const auth: AuthConfig = { tokens: [{ role: 'admin', sha256: hashToken(token) }] };
  await mkdir(dataDir, { recursive: true });
  // 'wx': two processes starting at once must not overwrite each other's token.
  await writeFile(file, `${JSON.stringify({ ...auth, createdAt: new Date().toISOString(), note: 'sha256 of a development admin token; delete this file to rotate it' }, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  print(
    [
      '',
      'No API tokens configured (API_TOKENS_FILE, API_TOKEN_SCORE/ANALYST/ADMIN): generated a development admin token.',
      'It is shown only this once; only its sha256 is stored, in ' + file + '.',
      '',
      `  API admin token: ${token}`,
      '',
      `Use it as:  curl -H "Authorization: Bearer ${token}" http://${env.API_HOST || '127.0.0.1'}:${env.API_PORT || '8000'}/api/v1/admin/deployment`,
      `To rotate it, delete ${file} and restart.`,
      '',
    ].join('\n'),
  );
  logger.warn({ file }, 'generated a development admin token (printed to stdout, not logged); set API tokens before production');
  return auth;
}
