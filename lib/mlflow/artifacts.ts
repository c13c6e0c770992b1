import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import type { Logger } from '../logger';
import { MlflowValidationError, UnsupportedArtifactUriError } from './errors';
import type { HttpClient } from './http';
import { normalizeFileInfo } from './normalize';
import type { TrackingApi } from './tracking';
import type { FileInfo } from './types';
import { normalizeArtifactPath } from './validation';

/** Where the tracking server proxies artifact storage (`mlflow server --serve-artifacts`). */
export const ARTIFACT_PROXY_PATH = '/api/2.0/mlflow-artifacts/artifacts';

/** An `mlflow-artifacts:` URI taken apart. */
export interface ArtifactLocation {
  /** Set when the URI names a host (`mlflow-artifacts://host:port/…`), which then replaces the tracking host. */
  host?: string;
  /** The decoded path under the proxy root, e.g. `1/<run_id>/artifacts/model`; '' for the root. */
  path: string;
}

/**
 * Parses an `mlflow-artifacts:` URI; any other scheme (a local path, `file:`, `s3:`) throws
 * {@link UnsupportedArtifactUriError}, since this client can reach artifacts only through the proxy.
 */
export function parseArtifactUri(uri: string, context = 'MLflow artifacts'): ArtifactLocation {
  if (!uri.startsWith('mlflow-artifacts:')) throw new UnsupportedArtifactUriError(uri, context);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UnsupportedArtifactUriError(uri, context);
  }
  // The path is taken from the raw text: URL parsing would silently resolve '..' segments.
  const rawPath = uri.slice('mlflow-artifacts:'.length).replace(/^\/\/[^/]*/, '').replace(/[?#].*$/, '');
  const path = rawPath
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s))
    .join('/');
  const loc: ArtifactLocation = { path: normalizeArtifactPath(path) };
  if (url.host !== '') loc.host = url.host;
  return loc;
}

/** `base` + '/' + a relative artifact path ('' leaves `base` as is). */
export function joinArtifactUri(base: string, relativePath: string): string {
  const rel = normalizeArtifactPath(relativePath);
  return rel === '' ? base.replace(/\/+$/, '') : `${base.replace(/\/+$/, '')}/${rel}`;
}

function childLocation(loc: ArtifactLocation, name: string): ArtifactLocation {
  return { ...loc, path: loc.path === '' ? name : `${loc.path}/${name}` };
}

/** Joins a server-supplied relative path under `root`, refusing any path that would land outside it. */
function safeLocalPath(root: string, relativePath: string): string {
  const target = resolve(root, ...relativePath.split('/'));
  const base = resolve(root);
  if (target !== base && !target.startsWith(base + sep)) {
    throw new MlflowValidationError('artifact path', `'${relativePath}' would be written outside ${base}`);
  }
  return target;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; the first failure rejects. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Files under `root` as sorted '/'-separated relative paths. Symlinked files are followed; symlinked directories are not (no cycles). */
async function listLocalFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const full = join(dir, entry.name);
      const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) await walk(full, rel);
      else if (entry.isFile()) out.push(rel);
      else if (entry.isSymbolicLink() && (await stat(full)).isFile()) out.push(rel);
    }
  };
  await walk(root, '');
  return out.sort();
}

export type ArtifactSource = Buffer | Uint8Array | string | { localFile: string };

/**
 * Run artifacts through the tracking server's artifact proxy: `PUT`/`GET`
 * `/api/2.0/mlflow-artifacts/artifacts/<path>` and the listing routes. Paths given to these
 * methods are relative to the run's artifact root and use '/'.
 */
export class ArtifactsApi {
  private readonly rootCache = new Map<string, string>();

  constructor(
    private readonly http: HttpClient,
    private readonly tracking: TrackingApi,
    private readonly logger: Logger,
    private readonly options: { concurrency: number; transferTimeoutMs: number },
  ) {}

  /** The run's artifact root (`mlflow-artifacts:/<exp>/<run>/artifacts`); throws {@link UnsupportedArtifactUriError} for any other kind. */
  async runArtifactRoot(runId: string): Promise<string> {
    const cached = this.rootCache.get(runId);
    if (cached !== undefined) return cached;
    const run = await this.tracking.getRun(runId);
    const root = run.info.artifact_uri;
    parseArtifactUri(root, `Run ${runId}`);
    this.rootCache.set(runId, root);
    return root;
  }

  /** Uploads bytes (a string is UTF-8) as the run artifact `artifactPath`, e.g. `model/MLmodel`. */
  async logArtifactBytes(runId: string, artifactPath: string, data: Buffer | Uint8Array | string): Promise<void> {
    const rel = this.requireFilePath(artifactPath);
    await this.uploadToUri(joinArtifactUri(await this.runArtifactRoot(runId), rel), data);
  }

  /** Uploads a local file as `<artifactDir>/<its file name>`; returns that run-relative path. */
  async logArtifact(runId: string, localFile: string, artifactDir = ''): Promise<string> {
    const rel = joinRelative(normalizeArtifactPath(artifactDir), basename(localFile));
    await this.uploadToUri(joinArtifactUri(await this.runArtifactRoot(runId), rel), { localFile });
    return rel;
  }

  /**
   * Uploads every file under `localDir` (recursively) to `<artifactDir>/…`, keeping the layout.
   * Returns the run-relative paths written. Empty directories do not exist in artifact storage.
   */
  async logArtifacts(runId: string, localDir: string, artifactDir = ''): Promise<string[]> {
    const root = await this.runArtifactRoot(runId);
    const dir = normalizeArtifactPath(artifactDir);
    const files = await listLocalFiles(localDir);
    const written = await mapLimit(files, this.options.concurrency, async (file) => {
      const rel = joinRelative(dir, file);
      await this.uploadToUri(joinArtifactUri(root, rel), { localFile: join(localDir, ...file.split('/')) });
      return rel;
    });
    this.logger.debug({ runId, files: written.length, artifactDir: dir }, 'uploaded artifact directory');
    return written;
  }

  /** Uploads one file to any `mlflow-artifacts:` URI (e.g. a logged model's `artifact_uri` + '/MLmodel'). Overwrites. */
  async uploadToUri(artifactUri: string, source: ArtifactSource): Promise<void> {
    const loc = parseArtifactUri(artifactUri, 'Artifact upload');
    if (loc.path === '') throw new MlflowValidationError('artifact path', `'${artifactUri}' names the artifact root, not a file`);
    const url = this.proxyFileUrl(loc);
    if (typeof source === 'object' && !(source instanceof Uint8Array)) {
      const { localFile } = source;
      const info = await stat(localFile);
      if (!info.isFile()) throw new MlflowValidationError('local file', `${localFile} is not a file`);
      // A stream keeps large model files out of memory; a fresh one is opened for each attempt.
      await this.http.json({ method: 'PUT', path: url, body: () => createReadStream(localFile), contentLength: info.size, timeoutMs: this.options.transferTimeoutMs });
      return;
    }
    const buf = typeof source === 'string' ? Buffer.from(source, 'utf8') : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    await this.http.json({ method: 'PUT', path: url, body: () => buf, contentLength: buf.length, timeoutMs: this.options.transferTimeoutMs });
  }

  /** Direct children of `path` in a run, paths relative to the run root (MLflow's `artifacts/list`). */
  async listArtifacts(runId: string, path = ''): Promise<FileInfo[]> {
    const rel = normalizeArtifactPath(path);
    const out: FileInfo[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.http.json<{ files?: Array<Record<string, unknown>>; next_page_token?: string }>({
        method: 'GET',
        path: '/api/2.0/mlflow/artifacts/list',
        query: { run_id: runId, path: rel === '' ? undefined : rel, page_token: pageToken },
      });
      out.push(...(res.files ?? []).map(normalizeFileInfo));
      pageToken = res.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out;
  }

  /** Direct children of an `mlflow-artifacts:` URI; each `path` is the child's name. Empty for a file or a missing path. */
  async listArtifactsAtUri(artifactUri: string): Promise<FileInfo[]> {
    return this.listAt(parseArtifactUri(artifactUri, 'Artifact listing'));
  }

  /** The bytes of one run artifact; meant for small files such as `MLmodel`. */
  async readArtifact(runId: string, artifactPath: string): Promise<Buffer> {
    const uri = joinArtifactUri(await this.runArtifactRoot(runId), this.requireFilePath(artifactPath));
    return this.http.bytes({ method: 'GET', path: this.proxyFileUrl(parseArtifactUri(uri)) });
  }

  /**
   * Downloads a run artifact, file or directory, to `<dstDir>/<artifactPath>` (the whole run
   * when `artifactPath` is ''), like Python's `MlflowClient.download_artifacts`. Returns that local path.
   */
  async downloadArtifacts(runId: string, artifactPath: string, dstDir: string): Promise<string> {
    const rel = normalizeArtifactPath(artifactPath);
    const root = await this.runArtifactRoot(runId);
    const local = rel === '' ? resolve(dstDir) : safeLocalPath(dstDir, rel);
    await this.downloadTree(parseArtifactUri(joinArtifactUri(root, rel)), local, rel === '');
    return local;
  }

  /**
   * Downloads what an `mlflow-artifacts:` URI names, file or directory, to `<dstDir>/<its last
   * path part>`, like Python's `mlflow.artifacts.download_artifacts(artifact_uri=…)`. Returns that local path.
   */
  async downloadArtifactsFromUri(artifactUri: string, dstDir: string): Promise<string> {
    const loc = parseArtifactUri(artifactUri, 'Artifact download');
    const name = loc.path.split('/').pop() ?? '';
    const local = name === '' ? resolve(dstDir) : safeLocalPath(dstDir, name);
    await this.downloadTree(loc, local, loc.path === '');
    return local;
  }

  private async downloadTree(loc: ArtifactLocation, localPath: string, knownDirectory: boolean): Promise<void> {
    const top = await this.listAt(loc);
    if (top.length === 0 && !knownDirectory) {
      // The proxy lists nothing for a file (and for a missing path, which the GET then reports as 404).
      await this.http.download({ method: 'GET', path: this.proxyFileUrl(loc), timeoutMs: this.options.transferTimeoutMs }, localPath);
      return;
    }
    const files: Array<{ loc: ArtifactLocation; rel: string }> = [];
    const walk = async (dir: ArtifactLocation, prefix: string, entries: FileInfo[]): Promise<void> => {
      for (const entry of entries) {
        const name = entry.path.split('/').pop() ?? entry.path;
        const child = childLocation(dir, name);
        const rel = prefix === '' ? name : `${prefix}/${name}`;
        if (entry.is_dir) await walk(child, rel, await this.listAt(child));
        else files.push({ loc: child, rel });
      }
    };
    await walk(loc, '', top);
    await mkdir(localPath, { recursive: true });
    await mapLimit(files, this.options.concurrency, (f) => this.http.download({ method: 'GET', path: this.proxyFileUrl(f.loc), timeoutMs: this.options.transferTimeoutMs }, safeLocalPath(localPath, f.rel)));
    this.logger.debug({ path: loc.path, files: files.length }, 'downloaded artifact directory');
  }

  private async listAt(loc: ArtifactLocation): Promise<FileInfo[]> {
    const res = await this.http.json<{ files?: Array<Record<string, unknown>> }>({
      method: 'GET',
      path: this.proxyBase(loc),
      query: { path: loc.path === '' ? undefined : loc.path },
    });
    return (res.files ?? []).map(normalizeFileInfo);
  }

  private proxyBase(loc: ArtifactLocation): string {
    if (loc.host === undefined) return ARTIFACT_PROXY_PATH;
    const tracking = new URL(this.http.uri);
    return `${tracking.protocol}//${loc.host}${tracking.pathname.replace(/\/+$/, '')}${ARTIFACT_PROXY_PATH}`;
  }

  private proxyFileUrl(loc: ArtifactLocation): string {
    return `${this.proxyBase(loc)}/${loc.path.split('/').map(encodeURIComponent).join('/')}`;
  }

  private requireFilePath(artifactPath: string): string {
    const rel = normalizeArtifactPath(artifactPath);
    if (rel === '') throw new MlflowValidationError('artifact path', 'must name a file, not the artifact root');
    return rel;
  }
}

function joinRelative(dir: string, rel: string): string {
  return normalizeArtifactPath(dir === '' ? rel : `${dir}/${rel}`);
}
