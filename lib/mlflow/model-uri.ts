import type { ArtifactsApi } from './artifacts';
import { joinArtifactUri } from './artifacts';
import { InvalidModelUriError, MlflowApiError, MlflowValidationError } from './errors';
import type { RegistryApi } from './registry';
import type { TrackingApi } from './tracking';
import type { ModelStage, ModelVersion } from './types';
import { canonicalStage, normalizeArtifactPath } from './validation';

/** A `models:/` or `runs:/` URI taken apart, following MLflow's `_parse_model_uri` and `parse_runs_uri`. */
export type ParsedModelUri =
  | { kind: 'version'; uri: string; name: string; version: string }
  | { kind: 'stage'; uri: string; name: string; stage: ModelStage }
  | { kind: 'latest'; uri: string; name: string }
  | { kind: 'alias'; uri: string; name: string; alias: string }
  | { kind: 'run'; uri: string; runId: string; artifactPath: string };

/**
 * Parses `models:/<name>/<version>`, `models:/<name>/<stage>`, `models:/<name>/latest`,
 * `models:/<name>@<alias>` and `runs:/<run_id>/<path>`. Throws {@link InvalidModelUriError}
 * for anything else, including MLflow 3's `models:/m-<id>` logged-model URIs, which this client
 * does not resolve.
 */
export function parseModelUri(uri: string): ParsedModelUri {
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(uri);
  const scheme = match?.[1]?.toLowerCase();
  const rest = match?.[2] ?? '';
  if (scheme === 'runs') return parseRunsUri(uri, rest);
  if (scheme !== 'models') throw new InvalidModelUriError(uri, "expected a 'models:/' or 'runs:/' URI");
  if (rest.startsWith('//')) throw new InvalidModelUriError(uri, "a registry host in the URI ('models://…') is not supported; use 'models:/<name>/…'");
  if (!rest.startsWith('/') || rest.length <= 1) throw new InvalidModelUriError(uri, "expected 'models:/<name>/<version|stage|latest>' or 'models:/<name>@<alias>'");

  const parts = rest.slice(1).split('/');
  const first = parts[0] ?? '';
  if (parts.length > 2 || first.trim() === '') {
    throw new InvalidModelUriError(uri, "expected 'models:/<name>/<version|stage|latest>' or 'models:/<name>@<alias>'");
  }
  if (parts.length === 2) {
    const suffix = parts[1] ?? '';
    if (suffix.trim() === '') throw new InvalidModelUriError(uri, 'the version, stage or "latest" after the name is empty');
    if (first.includes('@')) throw new InvalidModelUriError(uri, 'use either an alias or a version/stage suffix, not both');
    if (/^\d+$/.test(suffix)) return { kind: 'version', uri, name: first, version: String(Number(suffix)) };
    if (suffix.toLowerCase() === 'latest') return { kind: 'latest', uri, name: first };
    try {
      return { kind: 'stage', uri, name: first, stage: canonicalStage(suffix) };
    } catch (err) {
      throw new InvalidModelUriError(uri, `'${suffix}' is not a version number, 'latest' or a stage (None, Staging, Production, Archived)`, err);
    }
  }
  const at = first.lastIndexOf('@');
  if (at >= 0) {
    const name = first.slice(0, at);
    const alias = first.slice(at + 1);
    if (name.trim() === '' || alias.trim() === '') throw new InvalidModelUriError(uri, "expected 'models:/<name>@<alias>'");
    return { kind: 'alias', uri, name, alias };
  }
  throw new InvalidModelUriError(uri, `'models:/${first}' names no version: add '/<version>', '/<stage>', '/latest' or '@<alias>' (logged-model ids are not supported)`);
}

function parseRunsUri(uri: string, rest: string): ParsedModelUri {
  if (rest.startsWith('//') || !rest.startsWith('/') || rest.length <= 1) {
    throw new InvalidModelUriError(uri, "expected 'runs:/<run_id>/<artifact path>'");
  }
  const [runId = '', ...pathParts] = rest.slice(1).split('/');
  if (runId === '') throw new InvalidModelUriError(uri, 'the run id is empty');
  let artifactPath: string;
  try {
    artifactPath = normalizeArtifactPath(pathParts.join('/'));
  } catch (err) {
    throw new InvalidModelUriError(uri, err instanceof MlflowValidationError ? err.message : 'bad artifact path', err);
  }
  return { kind: 'run', uri, runId, artifactPath };
}

/** What a model URI points at. */
export interface ResolvedModel {
  uri: string;
  /** Registered model name and version; absent for `runs:/` URIs. */
  name?: string;
  version?: string;
  /** The run that produced the model, when known. */
  runId?: string;
  /** The version's registered `source`, or the `runs:/` URI itself. */
  source: string;
  /** The `mlflow-artifacts:` URI of the model directory. */
  downloadUri: string;
  /** The registry entry, for `models:/` URIs. */
  modelVersion?: ModelVersion;
}

/** Resolves model URIs to registry versions and artifact locations, the way Python's `ModelsArtifactRepository` does. */
export class ModelUriResolver {
  constructor(
    private readonly tracking: TrackingApi,
    private readonly registry: RegistryApi,
    private readonly artifacts: ArtifactsApi,
  ) {}

  /**
   * Resolves a URI. Missing models, versions, aliases, stages without versions and missing runs
   * throw {@link InvalidModelUriError} (with the API error as `cause`), since retrying will not help.
   */
  async resolve(uri: string): Promise<ResolvedModel> {
    const parsed = parseModelUri(uri);
    if (parsed.kind === 'run') {
      const root = await this.notFoundAsInvalid(uri, () => this.artifacts.runArtifactRoot(parsed.runId));
      return { uri, runId: parsed.runId, source: uri, downloadUri: joinArtifactUri(root, parsed.artifactPath) };
    }
    const mv = await this.notFoundAsInvalid(uri, () => this.findVersion(parsed));
    let downloadUri = await this.registry.getModelVersionDownloadUri(mv.name, mv.version);
    if (downloadUri.startsWith('runs:/')) {
      // Registered from a runs:/ source: the server stores it verbatim, so resolve it here.
      downloadUri = (await this.resolve(downloadUri)).downloadUri;
    }
    const resolved: ResolvedModel = { uri, name: mv.name, version: mv.version, source: mv.source, downloadUri, modelVersion: mv };
    if (mv.run_id !== undefined) resolved.runId = mv.run_id;
    return resolved;
  }

  /** Resolves `uri` and downloads the model directory to `<dstDir>/<its last path part>` (e.g. `<dstDir>/model`). */
  async download(uri: string, dstDir: string): Promise<ResolvedModel & { localPath: string }> {
    const resolved = await this.resolve(uri);
    const localPath = await this.artifacts.downloadArtifactsFromUri(resolved.downloadUri, dstDir);
    return { ...resolved, localPath };
  }

  private async findVersion(parsed: Exclude<ParsedModelUri, { kind: 'run' }>): Promise<ModelVersion> {
    switch (parsed.kind) {
      case 'version':
        return this.registry.getModelVersion(parsed.name, parsed.version);
      case 'alias':
        return this.registry.getModelVersionByAlias(parsed.name, parsed.alias);
      case 'stage':
      case 'latest': {
        const stages = parsed.kind === 'stage' ? [parsed.stage] : undefined;
        const latest = await this.registry.getLatestVersions(parsed.name, stages);
        const best = latest.reduce<ModelVersion | undefined>((a, b) => (a === undefined || Number(b.version) > Number(a.version) ? b : a), undefined);
        if (best === undefined) {
          const where = parsed.kind === 'stage' ? ` in stage ${parsed.stage}` : '';
          throw new InvalidModelUriError(parsed.uri, `model '${parsed.name}' has no READY version${where}`);
        }
        return best;
      }
    }
  }

  /** A 404 (no such model, version or run) or a 400 (e.g. an unset alias) means the URI points at nothing. */
  private async notFoundAsInvalid<T>(uri: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MlflowApiError && (err.status === 404 || err.status === 400)) throw new InvalidModelUriError(uri, err.serverMessage, err);
      throw err;
    }
  }
}
