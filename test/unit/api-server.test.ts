import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startApi } from '../../api/server';

test('startApi listens on the configured host and a free port, with tokens from the environment', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'api-server-'));
  const token = 'server-admin-token-0123456789';
  const api = await startApi({
    models: { champion: () => undefined, canary: () => undefined, canaryPercent: () => 0, routing: () => undefined, rejected: () => [] },
    explain: () => Promise.reject(new Error('unused')),
    logger: pino({ level: 'silent' }),
    env: { API_HOST: '127.0.0.1', API_PORT: '0', API_TOKEN_ADMIN: token, DATA_DIR: dataDir },
  });
  try {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${api.url}/ready`)).status).toBe(503);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/v1/admin/deployment`)).status).toBe(401);
    expect((await fetch(`${api.url}/api/v1/admin/deployment`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Process metrics are on by default for a real server.
    expect(await (await fetch(`${api.url}/metrics`)).text()).toContain('process_cpu_user_seconds_total');
  } finally {
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('startApi refuses a bad API_PORT', async () => {
  await expect(
    startApi({
      models: { champion: () => undefined, canary: () => undefined, canaryPercent: () => 0, routing: () => undefined, rejected: () => [] },
      explain: () => Promise.reject(new Error('unused')),
      logger: pino({ level: 'silent' }),
      auth: { tokens: [] },
      env: { API_PORT: 'http' },
    }),
  ).rejects.toThrow(/API_PORT=http/);
});
