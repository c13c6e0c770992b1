import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortInUseError, ServiceStartError } from '../../lib/stack/errors';
import { freePort } from '../../lib/stack/net';
import { groupAlive, readRecord, startService, stopService } from '../../lib/stack/processes';
import type { ServiceSpec } from '../../lib/stack/services';

/** The process manager behind stack:up/down, exercised with plain `node` child processes. */
describe('stack process manager', () => {
  let dir: string;
  let dirs: { runDir: string; logDir: string };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stack-unit-'));
    dirs = { runDir: join(dir, 'run'), logDir: join(dir, 'logs') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const nodeService = (script: string, overrides: Partial<ServiceSpec> = {}): ServiceSpec => ({
    name: 'worker',
    title: 'probe service',
    command: process.execPath,
    args: ['-e', script],
    local: true,
    ports: [],
    urls: {},
    startTimeoutMs: 5_000,
    probe: async () => true,
    ...overrides,
  });

  it('fails at once, naming the port, when the port is taken by another program', async () => {
    const server: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const spec = nodeService('setInterval(() => {}, 1000)', { ports: [{ host: '127.0.0.1', port, hint: 'set X_PORT' }] });
      const err = await startService(spec, dirs).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toContain(`Port ${port}`);
      expect((err as Error).message).toContain('set X_PORT');
      expect(readRecord(dirs, 'worker')).toBeUndefined();
    } finally {
      server.close();
    }
  });

  it('reports an early exit with the end of the service log', async () => {
    const spec = nodeService("console.error('boom: bad flag'); process.exit(3)", { probe: async () => false });
    const err = await startService(spec, dirs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as Error).message).toContain('exited with code 3');
    expect((err as Error).message).toContain('boom: bad flag');
    expect(readRecord(dirs, 'worker')).toBeUndefined();
  });

  it('stops a service that never becomes healthy, and leaves no process', async () => {
    const spec = nodeService('setInterval(() => {}, 1000)', { probe: async () => false, startTimeoutMs: 1_000 });
    const err = await startService(spec, dirs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as Error).message).toContain('not healthy');
  });

  it('stops the whole process group, children included', async () => {
    // The service forks a grandchild, as mlflow (uvicorn) and tsx do.
    const script = "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); setInterval(() => {}, 1000);";
    const record = await startService(nodeService(script), dirs);
    expect(groupAlive(record.pid)).toBe(true);
    expect(await stopService('worker', dirs)).toBe(true);
    expect(groupAlive(record.pid)).toBe(false);
    expect(readRecord(dirs, 'worker')).toBeUndefined();
    expect(await stopService('worker', dirs)).toBe(false);
  });
});
