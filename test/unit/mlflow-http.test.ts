import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  backoffDelayMs,
  IDEMPOTENCY_TAG,
  MlflowApiError,
  MlflowClient,
  MlflowConnectionError,
  parseRetryAfter,
  withRetryDefaults,
  type RetryOptions,
} from '../../lib/mlflow';

/**
 * The retry policy and idempotent creates, against a tiny local HTTP server whose answers each
 * test scripts. Nothing of axios is mocked: the client runs exactly as it does in production.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Handler = (req: Seen, res: http.ServerResponse, n: number) => void;

interface TestServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function startServer(handler: Handler): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(s, res, seen.length);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const FAST: RetryOptions = { maxRetries: 3, initialDelayMs: 1, maxDelayMs: 20, jitter: 0 };

/** A logger whose lines land in `lines`, to check what is (and is not) logged. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

let server: TestServer | undefined;
let client: MlflowClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

async function serve(handler: Handler, retry: RetryOptions = FAST, extra: { timeoutMs?: number; token?: string; logger?: pino.Logger } = {}) {
  server = await startServer(handler);
  client = new MlflowClient({ trackingUri: server.url, retry, ...extra });
  return { server, client };
}

const RUN = { info: { run_id: 'r1', experiment_id: '1', status: 'RUNNING', artifact_uri: 'mlflow-artifacts:/1/r1/artifacts', lifecycle_stage: 'active' } };

describe('retry policy', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries HTTP %i and then succeeds', async (status) => {
    const { server, client } = await serve((_req, res, n) => (n === 1 ? json(res, status, { error_code: 'X', message: 'flaky' }) : json(res, 200, { run: RUN })));
    const run = await client.tracking.getRun('r1');
    expect(run.info.run_id).toBe('r1');
    expect(server.seen).toHaveLength(2);
  });

  it.each([
    [400, 'INVALID_PARAMETER_VALUE'],
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'RESOURCE_DOES_NOT_EXIST'],
    [409, 'ALREADY_EXISTS'],
    [501, 'NOT_IMPLEMENTED'],
  ])('never retries HTTP %i', async (status, code) => {
    const { server, client } = await serve((_req, res) => json(res, status, { error_code: code, message: 'nope' }));
    const err = await client.tracking.getRun('secret-run').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowApiError);
    const apiErr = err as MlflowApiError;
    expect(apiErr).toMatchObject({ name: 'MlflowApiError', status, errorCode: code, method: 'GET', endpoint: '/api/2.0/mlflow/runs/get', serverMessage: 'nope', retryable: false });
    // The query (which can carry names or tokens) stays out of the error.
    expect(apiErr.message).not.toContain('secret-run');
    expect(server.seen).toHaveLength(1);
  });

  it('gives up after maxRetries + 1 attempts with the last status', async () => {
    const { server, client } = await serve((_req, res) => json(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }));
    const err = (await client.tracking.getRun('r1').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(server.seen).toHaveLength(4);
  });

  it('does not retry a 503 from a server started with --no-serve-artifacts (plain text, permanent)', async () => {
    const { server, client } = await serve((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('Endpoint: /api/2.0/mlflow-artifacts/artifacts disabled due to the mlflow server running with `--no-serve-artifacts`.');
    });
    const err = (await client.artifacts.listArtifactsAtUri('mlflow-artifacts:/1/r1/artifacts').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err).toMatchObject({ status: 503, errorCode: 'HTTP_503', retryable: false });
    expect(err.serverMessage).toContain('--no-serve-artifacts');
    expect(server.seen).toHaveLength(1);
  });

  it('honours Retry-After in seconds', async () => {
    const { server, client } = await serve(
      (_req, res, n) => (n === 1 ? json(res, 429, { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' }, { 'Retry-After': '1' }) : json(res, 200, { run: RUN })),
      { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5000, jitter: 0 },
    );
    const started = Date.now();
    await client.tracking.getRun('r1');
    const elapsed = Date.now() - started;
    expect(server.seen).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(4000);
  });

  it('honours Retry-After as an HTTP date', async () => {
    // HTTP dates have whole seconds, so "2 s from now" means a wait of 1 to 2 s.
    const { server, client } = await serve(
      (_req, res, n) =>
        n === 1 ? json(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'later' }, { 'Retry-After': new Date(Date.now() + 2000).toUTCString() }) : json(res, 200, { run: RUN }),
      { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5000, jitter: 0 },
    );
    const started = Date.now();
    await client.tracking.getRun('r1');
    const elapsed = Date.now() - started;
    expect(server.seen).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
  });

  it('does not wait out a Retry-After longer than maxDelayMs: it fails at once', async () => {
    const { server, client } = await serve((_req, res) => json(res, 429, { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'come back in an hour' }, { 'Retry-After': '3600' }), {
      maxRetries: 5,
      initialDelayMs: 1,
      maxDelayMs: 5000,
      jitter: 0,
    });
    const started = Date.now();
    const err = (await client.tracking.getRun('r1').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toMatchObject({ name: 'MlflowApiError', status: 429, retryable: true });
    expect(server.seen).toHaveLength(1);
    // Neither the hour asked for nor a capped 5 s wait.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('keeps the total wait within the bounded backoff', async () => {
    const retry = { maxRetries: 4, initialDelayMs: 100, maxDelayMs: 150, jitter: 0 };
    const { server, client } = await serve((_req, res) => json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'boom' }), retry);
    const started = Date.now();
    await expect(client.tracking.getRun('r1')).rejects.toBeInstanceOf(MlflowApiError);
    const elapsed = Date.now() - started;
    // Waits 100, then 150 three times (capped from 200, 400, 800): 550 ms, where uncapped doubling would take 1500.
    expect(server.seen).toHaveLength(5);
    expect(elapsed).toBeGreaterThanOrEqual(540);
    expect(elapsed).toBeLessThan(1200);
  });

  it('retries a connection reset', async () => {
    const { server, client } = await serve((_req, res, n) => (n === 1 ? res.socket?.destroy() : json(res, 200, { run: RUN })));
    await expect(client.tracking.getRun('r1')).resolves.toMatchObject({ info: { run_id: 'r1' } });
    expect(server.seen).toHaveLength(2);
  });

  it('retries a request that times out', async () => {
    const { server, client } = await serve(
      (_req, res, n) => {
        if (n === 1) setTimeout(() => { if (!res.destroyed) json(res, 200, { run: RUN }); }, 3000).unref();
        else json(res, 200, { run: RUN });
      },
      FAST,
      { timeoutMs: 200 },
    );
    await expect(client.tracking.getRun('r1')).resolves.toMatchObject({ info: { run_id: 'r1' } });
    expect(server.seen).toHaveLength(2);
  });

  it('throws MlflowConnectionError naming the URI when nothing listens', async () => {
    const probe = await startServer(() => undefined);
    const deadUrl = probe.url;
    await probe.close();
    client = new MlflowClient({ trackingUri: deadUrl, retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5, jitter: 0 } });
    const err = (await client.tracking.getRun('r1').catch((e: unknown) => e)) as MlflowConnectionError;
    expect(err).toBeInstanceOf(MlflowConnectionError);
    expect(err).toMatchObject({ name: 'MlflowConnectionError', uri: deadUrl, code: 'ECONNREFUSED', attempts: 3, retryable: true });
    expect(err.message).toContain(deadUrl);
  });

  it('turns an HTML error page into a readable API error', async () => {
    const { client } = await serve(
      (_req, res) => {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html><head><style>p{}</style></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>');
      },
      { maxRetries: 0 },
    );
    const err = (await client.tracking.getRun('r1').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toMatchObject({ status: 502, errorCode: 'HTTP_502', serverMessage: '502 Bad Gateway nginx' });
  });

  it('reports a 2xx that is not JSON as INVALID_RESPONSE instead of crashing', async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>login page</html>');
    });
    await expect(client.tracking.getRun('r1')).rejects.toMatchObject({ name: 'MlflowApiError', errorCode: 'INVALID_RESPONSE', status: 200 });
  });

  it('logs each retry at warn with the endpoint and attempt, and never the token', async () => {
    const { logger, lines } = capturingLogger();
    const token = 'tok-very-secret-123';
    const { server, client } = await serve((_req, res, n) => (n < 3 ? json(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }) : json(res, 200, { run: RUN })), FAST, {
      token,
      logger,
    });
    await client.tracking.getRun('r1');
    expect(server.seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((w) => [w.endpoint, w.attempt, w.status])).toEqual([
      ['/api/2.0/mlflow/runs/get', 1, 503],
      ['/api/2.0/mlflow/runs/get', 2, 503],
    ]);
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it('takes basic auth from the URI and keeps the password out of URIs and errors', async () => {
    server = await startServer((_req, res) => json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no run' }));
    const withCreds = server.url.replace('http://', 'http://alice:pa55word@');
    client = new MlflowClient({ trackingUri: withCreds, retry: FAST });
    const err = (await client.tracking.getRun('r1').catch((e: unknown) => e)) as Error;
    expect(server.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('alice:pa55word').toString('base64')}`);
    expect(client.trackingUri).toBe(server.url);
    expect(`${err.message} ${JSON.stringify(err)}`).not.toContain('pa55word');
  });
});

describe('backoff arithmetic', () => {
  it('doubles from initialDelayMs and stops at maxDelayMs', () => {
    const r = withRetryDefaults({ initialDelayMs: 500, maxDelayMs: 10_000, jitter: 0 });
    expect([0, 1, 2, 3, 4, 5, 10, 60].map((i) => backoffDelayMs(i, r))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('adds at most `jitter` of the backoff and never exceeds maxDelayMs', () => {
    const r = withRetryDefaults({ initialDelayMs: 500, maxDelayMs: 10_000, jitter: 0.2 });
    expect(backoffDelayMs(0, r, () => 0)).toBe(500);
    expect(backoffDelayMs(0, r, () => 0.999)).toBeLessThanOrEqual(600);
    expect(backoffDelayMs(0, r, () => 0.999)).toBeGreaterThan(590);
    for (let i = 0; i < 20; i++) expect(backoffDelayMs(i, r, () => 0.999)).toBeLessThanOrEqual(10_000);
  });

  it('defaults to 5 retries and a modest total wait', () => {
    const r = withRetryDefaults();
    expect(r.maxRetries).toBe(5);
    const worst = Array.from({ length: r.maxRetries }, (_, i) => backoffDelayMs(i, r, () => 1)).reduce((a, b) => a + b, 0);
    expect(worst).toBeLessThanOrEqual(25_000);
  });

  it('rejects impossible retry options with TypeError', () => {
    expect(() => withRetryDefaults({ maxRetries: -1 })).toThrow(TypeError);
    expect(() => withRetryDefaults({ maxRetries: 1.5 })).toThrow(TypeError);
    expect(() => withRetryDefaults({ initialDelayMs: 100, maxDelayMs: 10 })).toThrow(TypeError);
    expect(() => withRetryDefaults({ jitter: 2 })).toThrow(TypeError);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('idempotent creates', () => {
  /**
   * A fake `runs/create` whose first answer is lost: the run is created, then the server answers
   * 500 (or drops the connection). `runs/search` finds runs by the idempotency tag.
   */
  function fakeRuns(firstCreate: 'lose-500' | 'lose-reset' | 'fail-before-create') {
    const runs: Array<{ info: typeof RUN.info; data: { tags: Array<{ key: string; value: string }> } }> = [];
    let creates = 0;
    const handler: Handler = (req, res) => {
      if (req.url.startsWith('/api/2.0/mlflow/runs/create')) {
        creates += 1;
        const body = JSON.parse(req.body) as { tags: Array<{ key: string; value: string }> };
        if (creates === 1 && firstCreate === 'fail-before-create') return json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'db down' });
        const run = { info: { ...RUN.info, run_id: `run-${runs.length + 1}` }, data: { tags: body.tags } };
        runs.push(run);
        if (creates === 1 && firstCreate === 'lose-500') return json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'lost' });
        if (creates === 1 && firstCreate === 'lose-reset') return res.socket?.destroy();
        return json(res, 200, { run });
      }
      if (req.url.startsWith('/api/2.0/mlflow/runs/search')) {
        const { filter } = JSON.parse(req.body) as { filter: string };
        const key = /= '(.*)'$/.exec(filter)?.[1];
        const found = runs.filter((r) => r.data.tags.some((t) => t.key === IDEMPOTENCY_TAG && t.value === key));
        return json(res, 200, found.length > 0 ? { runs: found.slice(0, 1) } : {});
      }
      json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: req.url });
    };
    return { handler, runs, creates: () => creates };
  }

  it.each(['lose-500', 'lose-reset'] as const)('after a lost create response (%s) returns the run created instead of a duplicate', async (mode) => {
    const fake = fakeRuns(mode);
    const { client } = await serve(fake.handler);
    const run = await client.tracking.createRun({ experimentId: '1', runName: 'r' });
    expect(run.info.run_id).toBe('run-1');
    expect(fake.runs).toHaveLength(1);
    expect(fake.creates()).toBe(1);
  });

  it('re-sends the create when the failed attempt created nothing', async () => {
    const fake = fakeRuns('fail-before-create');
    const { client } = await serve(fake.handler);
    const run = await client.tracking.createRun({ experimentId: '1' });
    expect(run.info.run_id).toBe('run-1');
    expect(fake.creates()).toBe(2);
    expect(fake.runs).toHaveLength(1);
  });

  it('with a caller key, searches first and returns the existing run without creating', async () => {
    const fake = fakeRuns('fail-before-create');
    fake.runs.push({ info: { ...RUN.info, run_id: 'earlier' }, data: { tags: [{ key: IDEMPOTENCY_TAG, value: 'wf-7/xgb' }] } });
    const { server, client } = await serve(fake.handler);
    const run = await client.tracking.createRun({ experimentId: '1', idempotencyKey: 'wf-7/xgb' });
    expect(run.info.run_id).toBe('earlier');
    expect(fake.creates()).toBe(0);
    expect(server.seen.map((s) => s.url)).toEqual(['/api/2.0/mlflow/runs/search']);
  });

  it('tags the run with the key it was given', async () => {
    const fake = fakeRuns('lose-500');
    const { server, client } = await serve(fake.handler);
    await client.tracking.createRun({ experimentId: '1', idempotencyKey: 'wf-8/rf', parentRunId: 'parent-1' });
    const create = server.seen.find((s) => s.url.startsWith('/api/2.0/mlflow/runs/create'));
    const tags = (JSON.parse(create?.body ?? '{}') as { tags: Array<{ key: string; value: string }> }).tags;
    expect(tags).toEqual(expect.arrayContaining([{ key: IDEMPOTENCY_TAG, value: 'wf-8/rf' }, { key: 'mlflow.parentRunId', value: 'parent-1' }]));
  });

  it('a model-version create whose response is lost returns the version it made', async () => {
    const versions: Array<Record<string, unknown>> = [];
    let creates = 0;
    const { client } = await serve((req, res) => {
      if (req.url.startsWith('/api/2.0/mlflow/model-versions/create')) {
        creates += 1;
        const body = JSON.parse(req.body) as { name: string; source: string; tags: unknown[] };
        const mv = { name: body.name, version: String(versions.length + 1), source: body.source, status: 'READY', current_stage: 'None', tags: body.tags };
        versions.push(mv);
        return creates === 1 ? json(res, 502, { error_code: 'BAD_GATEWAY', message: 'lost' }) : json(res, 200, { model_version: mv });
      }
      if (req.url.startsWith('/api/2.0/mlflow/model-versions/search')) {
        const filter = new URL(req.url, 'http://x').searchParams.get('filter') ?? '';
        const key = /tags\.`fraudml\.idempotency_key` = '([^']*)'/.exec(filter)?.[1];
        const found = versions.filter((v) => (v.tags as Array<{ key: string; value: string }>).some((t) => t.value === key));
        return json(res, 200, { model_versions: found });
      }
      if (req.url.startsWith('/api/2.0/mlflow/model-versions/get')) return json(res, 200, { model_version: versions[0] });
      json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: req.url });
    });
    const mv = await client.registry.createModelVersion({ name: 'm', source: 'mlflow-artifacts:/1/r1/artifacts/model', runId: 'r1' });
    expect(mv.version).toBe('1');
    expect(versions).toHaveLength(1);
    expect(creates).toBe(1);
  });
});

describe('waiting for a model version', () => {
  const version = (status: string, extra: Record<string, unknown> = {}) => ({
    model_version: { name: 'm', version: '4', source: 'mlflow-artifacts:/1/r1/artifacts/model', current_stage: 'None', status, ...extra },
  });

  it('polls until READY', async () => {
    const { server, client } = await serve((_req, res, n) => json(res, 200, version(n < 3 ? 'PENDING_REGISTRATION' : 'READY')));
    const mv = await client.registry.waitForModelVersion('m', 4, { timeoutMs: 10_000, pollIntervalMs: 20 });
    expect(mv.status).toBe('READY');
    expect(server.seen).toHaveLength(3);
  });

  it('fails with reason "failed" on FAILED_REGISTRATION, carrying the server message', async () => {
    const { client } = await serve((_req, res) => json(res, 200, version('FAILED_REGISTRATION', { status_message: 'copy to storage failed' })));
    await expect(client.registry.waitForModelVersion('m', '4', { timeoutMs: 10_000 })).rejects.toMatchObject({
      name: 'MlflowRegistrationError',
      reason: 'failed',
      modelName: 'm',
      version: '4',
      retryable: false,
      message: expect.stringContaining('copy to storage failed') as unknown,
    });
  });

  it('fails with reason "timeout" when still pending at the deadline', async () => {
    const { server, client } = await serve((_req, res) => json(res, 200, version('PENDING_REGISTRATION')));
    const started = Date.now();
    await expect(client.registry.waitForModelVersion('m', 4, { timeoutMs: 300, pollIntervalMs: 50 })).rejects.toMatchObject({
      name: 'MlflowRegistrationError',
      reason: 'timeout',
      status: 'PENDING_REGISTRATION',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(server.seen.length).toBeGreaterThan(2);
  });
});
