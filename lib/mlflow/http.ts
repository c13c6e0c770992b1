import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from '../logger';
import { MlflowApiError, MlflowConnectionError, MlflowError, isRetryableStatus } from './errors';

/**
 * How failed requests are retried. Retries cover connection errors, 408, 429 and 5xx; any other
 * 4xx is final. The defaults mirror the Python client's shape (5 retries, doubling backoff,
 * jitter, Retry-After honoured) but cap the total wait near 20 s, so a dead server surfaces to the
 * caller (a Temporal activity has its own, longer retry policy) instead of hanging for minutes.
 */
export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. @default 5 */
  maxRetries?: number;
  /** Wait before the first retry; it doubles on each further retry. @default 500 */
  initialDelayMs?: number;
  /**
   * Upper bound of a single wait, jitter included. A `Retry-After` longer than this is not waited
   * out: the error is thrown at once so the caller's own retry policy decides. @default 10000
   */
  maxDelayMs?: number;
  /** Random extra wait as a fraction of the backoff (0 to 1), so clients that failed together do not retry together. @default 0.2 */
  jitter?: number;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<Required<RetryOptions>> = Object.freeze({
  maxRetries: 5,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  jitter: 0.2,
});

/** Fills the defaults in and throws `TypeError` on values that cannot work. */
export function withRetryDefaults(options: RetryOptions = {}): Required<RetryOptions> {
  const r: Required<RetryOptions> = { ...DEFAULT_RETRY_OPTIONS };
  for (const key of Object.keys(r) as Array<keyof RetryOptions>) {
    const v = options[key];
    if (v !== undefined) r[key] = v;
  }
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) throw new TypeError(`retry.maxRetries must be an integer ≥ 0, got ${r.maxRetries}`);
  if (!Number.isFinite(r.initialDelayMs) || r.initialDelayMs < 0) throw new TypeError(`retry.initialDelayMs must be ≥ 0, got ${r.initialDelayMs}`);
  if (!Number.isFinite(r.maxDelayMs) || r.maxDelayMs < r.initialDelayMs) {
    throw new TypeError(`retry.maxDelayMs (${r.maxDelayMs}) must be finite and ≥ retry.initialDelayMs (${r.initialDelayMs})`);
  }
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new TypeError(`retry.jitter must be between 0 and 1, got ${r.jitter}`);
  return r;
}

/** The wait before retry number `retryIndex + 1`: doubling from `initialDelayMs`, plus jitter, never above `maxDelayMs`. */
export function backoffDelayMs(retryIndex: number, retry: Required<RetryOptions>, random: () => number = Math.random): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** retryIndex);
  return Math.round(Math.min(retry.maxDelayMs, base * (1 + retry.jitter * random())));
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Failures where the request never reached the server, so even a create can be sent again. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
/** Failures after the request may have been processed (the answer was lost). */
const MAYBE_SENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'ERR_NETWORK',
  'ERR_BAD_RESPONSE', // axios: "stream has been aborted" mid-response (we never let a status fail validation)
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Node's code of a network failure, or undefined when `err` is something else (a local disk error, a bug). */
export function networkErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (NOT_SENT_CODES.has(e.code) || MAYBE_SENT_CODES.has(e.code))) return e.code;
  // Node's happy-eyeballs connect throws an AggregateError whose members carry the codes.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = networkErrorCode(inner);
      if (code !== undefined) return code;
    }
  }
  if (e.cause !== undefined && e.cause !== err) return networkErrorCode(e.cause);
  return undefined;
}

/** Strips an AxiosError (whose `config.headers` holds the Authorization header) down to message and code. */
function sanitize(err: unknown): unknown {
  if (!axios.isAxiosError(err)) return err;
  const plain = new Error(err.message) as Error & { code?: string };
  if (err.code !== undefined) plain.code = err.code;
  return plain;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | boolean | ReadonlyArray<string> | undefined;

export interface RequestSpec<T> {
  method: HttpMethod;
  /** A path under the tracking URI (`/api/2.0/mlflow/runs/get`), or an absolute URL (artifact URIs naming another host). */
  path: string;
  /** GET arguments. Arrays repeat the key, as MLflow expects (`stages=A&stages=B`). */
  query?: Record<string, QueryValue>;
  /** JSON body; MLflow reads one on every method but GET, DELETE included. */
  json?: unknown;
  /** Raw body, made afresh for every attempt because a stream can be read only once. */
  body?: () => Buffer | Readable;
  /** Required with a stream `body`: the proxy needs a length to store the file. */
  contentLength?: number;
  /**
   * False for calls that create something on each execution (`runs/create`,
   * `model-versions/create`). Such a call is re-sent only when the server surely did not process
   * it (connection refused, 408, 429, 503); after an ambiguous failure (timeout, reset, other
   * 5xx) it is re-sent only when `recover` finds nothing. @default true
   */
  idempotent?: boolean;
  /** Looks for what an ambiguously failed attempt may have created; a value found is returned as the result. */
  recover?: () => Promise<T | undefined>;
  /** Overrides the client's `timeoutMs`, for file transfers that legitimately take long. */
  timeoutMs?: number;
}

export interface HttpClientOptions {
  trackingUri: string;
  logger: Logger;
  retry: Required<RetryOptions>;
  timeoutMs: number;
  token?: string;
  basicAuth?: { username: string; password: string };
}

interface Failure {
  kind: 'status' | 'network';
  retryable: boolean;
  /** The server may have carried the request out although we saw a failure. */
  maybeProcessed: boolean;
  retryAfterMs?: number;
  toError(attempts: number): Error;
  logFields: Record<string, unknown>;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Reads an error answer's body defensively: JSON `{error_code, message}`, else a short text excerpt. */
export function parseErrorBody(body: Buffer | string, status: number): { errorCode: string; message: string } {
  const text = (typeof body === 'string' ? body : body.toString('utf8')).trim();
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { error_code?: unknown; message?: unknown };
      if (typeof parsed === 'object' && parsed !== null) {
        return {
          errorCode: typeof parsed.error_code === 'string' && parsed.error_code !== '' ? parsed.error_code : `HTTP_${status}`,
          message: typeof parsed.message === 'string' ? parsed.message : text.slice(0, 500),
        };
      }
    } catch {
      // Not JSON after all; fall through to the text excerpt.
    }
  }
  // Proxies answer with HTML pages; keep only their words.
  const plain = text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { errorCode: `HTTP_${status}`, message: plain === '' ? `empty ${status} response` : plain.slice(0, 500) };
}

async function readLimited(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The one place that talks HTTP: an axios instance plus the retry loop. Statuses are never
 * thrown by axios (`validateStatus` accepts all) so that every error body, JSON or not, is read
 * here and turned into a typed error.
 */
export class HttpClient {
  /** The tracking URI without credentials, safe to print. */
  readonly uri: string;
  private readonly axios: AxiosInstance;
  private readonly logger: Logger;
  private readonly retry: Required<RetryOptions>;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  constructor(options: HttpClientOptions) {
    let url: URL;
    try {
      url = new URL(options.trackingUri);
    } catch {
      throw new TypeError(`trackingUri '${options.trackingUri}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`trackingUri must be an http(s) URL of an MLflow server, got protocol '${url.protocol}'`);
    }
    // Credentials in the URI become basic auth and are removed from everything printed.
    let basicAuth = options.basicAuth;
    if (url.username !== '' && basicAuth === undefined) {
      basicAuth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    }
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    this.uri = url.toString().replace(/\/+$/, '');
    this.logger = options.logger;
    this.retry = options.retry;

    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    else if (basicAuth !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`;
    }
    this.axios = axios.create({
      baseURL: this.uri,
      timeout: options.timeoutMs,
      headers,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Every status comes back as a response and is judged in `execute`.
      validateStatus: () => true,
      // Following a redirect would make axios buffer whole uploads to replay them; a redirect
      // means the tracking URI is wrong (http vs https, missing prefix) and is reported instead.
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
    });
  }

  /** Sends a request and parses the JSON answer (`{}` for an empty body). */
  async json<T>(spec: RequestSpec<T>): Promise<T> {
    return this.execute(spec, 'arraybuffer', async (res) => {
      const buf = res.data as Buffer;
      if (buf.length === 0) return {} as T;
      try {
        return JSON.parse(buf.toString('utf8')) as T;
      } catch (err) {
        throw new MlflowApiError({
          errorCode: 'INVALID_RESPONSE',
          status: res.status,
          method: spec.method,
          endpoint: this.endpointOf(spec.path),
          serverMessage: `expected JSON, got: ${parseErrorBody(buf, res.status).message.slice(0, 200)}`,
          cause: err,
        });
      }
    });
  }

  /** Sends a request and returns the raw body (small artifacts, `/version`). */
  async bytes(spec: RequestSpec<Buffer>): Promise<Buffer> {
    return this.execute(spec, 'arraybuffer', async (res) => res.data as Buffer);
  }

  /**
   * Streams a GET's body to `destFile`. The file appears only when complete (written beside it,
   * then renamed), so an interrupted download never leaves a truncated file behind.
   */
  async download(spec: RequestSpec<void>, destFile: string): Promise<void> {
    await this.execute(spec, 'stream', async (res) => {
      // Directories are made only once the server has answered 2xx: a 404 leaves no trace on disk.
      await mkdir(dirname(destFile), { recursive: true });
      const tmp = `${destFile}.part-${randomUUID()}`;
      try {
        await pipeline(res.data as Readable, createWriteStream(tmp));
        await rename(tmp, destFile);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    });
  }

  /** Closes idle keep-alive sockets. The client stays usable; new sockets are opened on demand. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** The path part of a request, for logs and errors: never the query, which may carry secrets. */
  endpointOf(path: string): string {
    if (/^https?:\/\//i.test(path)) return new URL(path).pathname;
    const prefix = new URL(this.uri).pathname.replace(/\/+$/, '');
    return prefix + (path.split('?')[0] ?? path);
  }

  private async execute<T>(spec: RequestSpec<T>, responseType: 'arraybuffer' | 'stream', onSuccess: (res: AxiosResponse) => Promise<T>): Promise<T> {
    const idempotent = spec.idempotent ?? true;
    const endpoint = this.endpointOf(spec.path);
    const maxAttempts = this.retry.maxRetries + 1;
    const url = spec.path + buildQuery(spec.query);

    for (let attempt = 1; ; attempt++) {
      let failure: Failure;
      const started = Date.now();
      let data: unknown;
      try {
        const headers: Record<string, string> = {};
        if (spec.json !== undefined) {
          headers['Content-Type'] = 'application/json';
          data = JSON.stringify(spec.json);
        } else if (spec.body !== undefined) {
          headers['Content-Type'] = 'application/octet-stream';
          if (spec.contentLength !== undefined) headers['Content-Length'] = String(spec.contentLength);
          data = spec.body();
        }
        const res = await this.axios.request({
          method: spec.method,
          url,
          data,
          headers,
          responseType,
          ...(spec.timeoutMs !== undefined ? { timeout: spec.timeoutMs } : {}),
        });
        this.logger.debug({ method: spec.method, endpoint, status: res.status, ms: Date.now() - started }, 'mlflow request');
        if (res.status >= 200 && res.status < 300) return await onSuccess(res);
        failure = await this.statusFailure(res, spec.method, endpoint);
      } catch (err) {
        if (err instanceof MlflowError) throw err;
        const code = networkErrorCode(err);
        if (code === undefined) throw sanitize(err);
        const detail = err instanceof Error ? err.message : String(err);
        failure = {
          kind: 'network',
          retryable: true,
          maybeProcessed: !NOT_SENT_CODES.has(code),
          toError: (attempts) =>
            new MlflowConnectionError({ uri: this.uri, method: spec.method, endpoint, attempts, code, detail, cause: sanitize(err) }),
          logFields: { code },
        };
      } finally {
        // A file stream the failed attempt did not finish would keep its descriptor open.
        if (data instanceof Readable && !data.destroyed) data.destroy();
      }

      if (!failure.retryable || attempt >= maxAttempts) throw failure.toError(attempt);
      const mayDuplicate = !idempotent && failure.maybeProcessed;
      if (mayDuplicate && spec.recover === undefined) throw failure.toError(attempt);

      let delayMs = backoffDelayMs(attempt - 1, this.retry);
      if (failure.retryAfterMs !== undefined) {
        if (failure.retryAfterMs > this.retry.maxDelayMs) {
          this.logger.warn(
            { method: spec.method, endpoint, attempt, retryAfterMs: failure.retryAfterMs, maxDelayMs: this.retry.maxDelayMs, ...failure.logFields },
            'MLflow asked to retry later than retry.maxDelayMs allows; giving up',
          );
          throw failure.toError(attempt);
        }
        delayMs = Math.max(delayMs, failure.retryAfterMs);
      }
      this.logger.warn(
        { method: spec.method, endpoint, attempt, maxAttempts, delayMs, ...failure.logFields },
        'MLflow request failed; retrying',
      );
      await sleep(delayMs);
      if (mayDuplicate && spec.recover !== undefined) {
        // The failed attempt may have created the object; reuse it rather than make a second one.
        const found = await spec.recover();
        if (found !== undefined) {
          this.logger.warn({ method: spec.method, endpoint, attempt }, 'MLflow create had failed ambiguously; found what it created');
          return found;
        }
      }
    }
  }

  private async statusFailure(res: AxiosResponse, method: string, endpoint: string): Promise<Failure> {
    const raw = Buffer.isBuffer(res.data) ? res.data : await readLimited(res.data as Readable, MAX_ERROR_BODY_BYTES);
    const { errorCode, message } = parseErrorBody(raw, res.status);
    // `mlflow server --no-serve-artifacts` answers artifact routes with a permanent 503.
    const permanent = res.status === 503 && message.includes('--no-serve-artifacts');
    const status = res.status;
    const header = res.headers['retry-after'] as unknown;
    const retryAfterMs = typeof header === 'string' ? parseRetryAfter(header) : undefined;
    const redirect = status >= 300 && status < 400 ? ` (redirect to ${String(res.headers.location ?? '?')}: check MLFLOW_TRACKING_URI)` : '';
    return {
      kind: 'status',
      retryable: isRetryableStatus(status) && !permanent,
      maybeProcessed: !(status === 408 || status === 429 || status === 503),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      toError: () => new MlflowApiError({ errorCode, status, method, endpoint, serverMessage: message + redirect, permanent }),
      logFields: { status, errorCode },
    };
  }
}

function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as ReadonlyArray<string>) params.append(key, v);
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs === '' ? '' : `?${qs}`;
}
