import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { DEV_TOKENS_FILE, loadAuthConfig } from '../../api/auth-config';
import { AuthConfigError } from '../../api/errors';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => lines.join('') };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api-auth-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noModels = { champion: () => undefined, canary: () => undefined, canaryPercent: () => 0, routing: () => undefined, rejected: () => [] };

describe('loadAuthConfig', () => {
  test('plain tokens from the environment are kept as sha256 hashes with their roles', async () => {
    const { logger, text } = capture();
    const env = { API_TOKEN_SCORE: 's'.repeat(20), API_TOKEN_ADMIN: 'a'.repeat(24) };
    const auth = await loadAuthConfig(env, { dataDir: dir, logger, production: true });
    expect(auth).toEqual({ tokens: [{ role: 'score', sha256: sha256('s'.repeat(20)) }, { role: 'admin', sha256: sha256('a'.repeat(24)) }] });
    expect(text()).not.toContain('s'.repeat(20));
    expect(text()).not.toContain('a'.repeat(24));
  });

  test('a short environment token is refused', async () => {
    await expect(loadAuthConfig({ API_TOKEN_ADMIN: 'admin123' }, { dataDir: dir, logger: pino({ level: 'silent' }) })).rejects.toThrow(/API_TOKEN_ADMIN must be at least 16/);
  });

  test('API_TOKENS_FILE is read and checked', async () => {
    const file = join(dir, 'tokens.json');
    const tokens = [{ role: 'analyst', sha256: sha256('analyst-token-123456') }];
    await writeFile(file, JSON.stringify({ tokens }));
    expect(await loadAuthConfig({ API_TOKENS_FILE: file }, { dataDir: dir, logger: pino({ level: 'silent' }), production: true })).toEqual({ tokens });

    await writeFile(file, JSON.stringify({ tokens: [{ role: 'analyst', sha256: 'analyst-token-123456' }] }));
    await expect(loadAuthConfig({ API_TOKENS_FILE: file }, { dataDir: dir, logger: pino({ level: 'silent' }) })).rejects.toThrow(/tokens\[0\]\.sha256/);
    await writeFile(file, JSON.stringify({ tokens: [{ role: 'root', sha256: sha256('x') }] }));
    await expect(loadAuthConfig({ API_TOKENS_FILE: file }, { dataDir: dir, logger: pino({ level: 'silent' }) })).rejects.toThrow(/tokens\[0\]\.role/);
    await expect(loadAuthConfig({ API_TOKENS_FILE: join(dir, 'missing.json') }, { dataDir: dir, logger: pino({ level: 'silent' }) })).rejects.toThrow(AuthConfigError);
  });

  test('in production, no tokens means no start, and no file is written', async () => {
    const printed: string[] = [];
    const run = loadAuthConfig({ NODE_ENV: 'production' }, { dataDir: dir, logger: pino({ level: 'silent' }), print: (t) => printed.push(t) });
    await expect(run).rejects.toThrow(AuthConfigError);
    await expect(run).rejects.toThrow(/API_TOKENS_FILE/);
    expect(printed).toEqual([]);
    await expect(stat(join(dir, DEV_TOKENS_FILE))).rejects.toThrow();
  });

  test('in development, one admin token is generated, printed once, stored only as a 0600 hash, and reused', async () => {
    const { logger, text } = capture();
    const printed: string[] = [];
    const print = (t: string) => printed.push(t);
    const auth = await loadAuthConfig({}, { dataDir: dir, logger, print });
    expect(printed).toHaveLength(1);
    const token = /API admin token: (\S+)/.exec(printed[0] ?? '')?.[1] ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(auth.tokens).toEqual([{ role: 'admin', sha256: sha256(token) }]);

    const file = join(dir, DEV_TOKENS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = await readFile(file, 'utf8');
    expect(stored).toContain(sha256(token));
    expect(stored).not.toContain(token);
    expect(text()).not.toContain(token);

    // Later starts reuse the hash and print nothing; a loosened mode is tightened again.
    await chmod(file, 0o644);
    const again = await loadAuthConfig({}, { dataDir: dir, logger, print });
    expect(again).toEqual(auth);
    expect(printed).toHaveLength(1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(text()).toContain('delete the file');

    // The printed token opens the admin routes of an app built with that config.
    const app = await buildApp({ models: noModels, explain: () => Promise.reject(new Error('unused')), auth: again, logger: pino({ level: 'silent' }) });
    try {
      expect((await app.inject({ url: '/api/v1/admin/deployment', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      expect((await app.inject({ url: '/api/v1/admin/deployment', headers: { authorization: `Bearer ${token}x` } })).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});

describe('buildApp', () => {
  test('refuses a malformed token configuration', async () => {
    await expect(
      buildApp({ models: noModels, explain: () => Promise.reject(new Error('unused')), auth: { tokens: [{ role: 'admin', sha256: 'plain-token' }] }, logger: pino({ level: 'silent' }) }),
    ).rejects.toThrow(AuthConfigError);
  });
});
