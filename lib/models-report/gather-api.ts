/**
 * What the running serving API has in memory: `GET /health` (public: loaded releases, canary share,
 * rejected candidates) and, with the admin token, `GET /api/v1/admin/deployment` (the routing it
 * acts on, member details).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AppConfig } from '../config';
import type { DeploymentStatus, RejectedCandidate } from '../serving/contract';
import { adminTokenFile } from '../stack/secrets';
import type { ApiReport, ServedSlot } from './types';
import { errorText } from './util';

export interface AdminToken {
  value: string;
  source: NonNullable<ApiReport['token']>;
}

/**
 * The admin token, looked for where the stack keeps it: `API_ADMIN_TOKEN` (the workers' variable),
 * `API_TOKEN_ADMIN` (the API's), then the file `npm run stack:up` writes under `<DATA_DIR>/secrets/`.
 * Only read, never created.
 */
export function findAdminToken(cfg: Pick<AppConfig, 'apiAdminToken' | 'dataDir'>, env: NodeJS.ProcessEnv): AdminToken | null {
  if (cfg.apiAdminToken) return { value: cfg.apiAdminToken, source: 'API_ADMIN_TOKEN' };
  if (env.API_TOKEN_ADMIN) return { value: env.API_TOKEN_ADMIN, source: 'API_TOKEN_ADMIN' };
  const file = adminTokenFile(cfg);
  try {
    if (existsSync(file)) {
      const value = readFileSync(file, 'utf8').trim();
      if (value !== '') return { value, source: 'secrets file' };
    }
  } catch {
    // Unreadable (permissions): as if there were none; the report says no token was found.
  }
  return null;
}

interface HealthBody {
  status?: string;
  champion?: { release: string; loaded_at?: string; members?: { kind: string; version: string }[] } | null;
  canary?: { release: string; loaded_at?: string; members?: { kind: string; version: string }[] } | null;
  canary_percent?: number;
  rejected?: RejectedCandidate[];
}

function fromHealth(slot: HealthBody['champion']): ServedSlot | null {
  return slot ? { release: slot.release, loadedAt: slot.loaded_at ?? null, members: (slot.members ?? []).map((m) => ({ kind: m.kind, version: m.version })) } : null;
}

function fromAdmin(slot: DeploymentStatus['champion']): ServedSlot | null {
  return slot ? { release: slot.release, loadedAt: slot.loadedAt, members: slot.members.map((m) => ({ kind: m.kind, version: m.version })) } : null;
}

async function getJson<T>(fetchImpl: typeof fetch, url: string, timeoutMs: number, token?: string): Promise<{ status: number; body: T | undefined }> {
  const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as T };
  } catch {
    return { status: res.status, body: undefined };
  }
}

/** Asks the API; an unreachable API or a refused token is reported, not thrown. */
export async function gatherApi(apiUrl: string, token: AdminToken | null, options: { timeoutMs: number; fetch?: typeof fetch }): Promise<ApiReport> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const report: ApiReport = {
    url: apiUrl,
    reachable: false,
    error: null,
    status: null,
    token: token?.source ?? null,
    adminError: null,
    source: null,
    champion: null,
    canary: null,
    canaryPercent: null,
    routing: null,
    rejected: [],
  };
  try {
    const health = await getJson<HealthBody>(fetchImpl, `${apiUrl}/health`, options.timeoutMs);
    if (health.status !== 200 || !health.body) {
      report.error = `GET /health answered HTTP ${health.status}${health.body ? '' : ' with a body that is not JSON'}`;
      return report;
    }
    report.reachable = true;
    report.status = health.body.status ?? null;
    report.source = 'health';
    report.champion = fromHealth(health.body.champion);
    report.canary = fromHealth(health.body.canary);
    report.canaryPercent = health.body.canary_percent ?? null;
    report.rejected = health.body.rejected ?? [];
  } catch (err) {
    report.error = errorText(err);
    return report;
  }
  if (!token) {
    report.adminError = 'no admin token (set API_ADMIN_TOKEN): the routing the API acts on is not shown';
    return report;
  }
  try {
    const admin = await getJson<DeploymentStatus>(fetchImpl, `${apiUrl}/api/v1/admin/deployment`, options.timeoutMs, token.value);
    if (admin.status === 401 || admin.status === 403) {
      report.adminError = `the API refused the admin token from ${token.source} (HTTP ${admin.status})`;
    } else if (admin.status !== 200 || !admin.body) {
      report.adminError = `GET /api/v1/admin/deployment answered HTTP ${admin.status}`;
    } else {
      report.source = 'admin';
      report.champion = fromAdmin(admin.body.champion);
      report.canary = fromAdmin(admin.body.canary);
      report.routing = admin.body.routing;
      report.rejected = admin.body.rejected;
    }
  } catch (err) {
    report.adminError = `GET /api/v1/admin/deployment failed: ${errorText(err)}`;
  }
  return report;
}
