/**
 * The local stack's API admin token: created once under `<DATA_DIR>/secrets/` (mode 0600) and given
 * to the API (`API_TOKEN_ADMIN`) and the worker (`API_ADMIN_TOKEN`, to watch canaries). A token set
 * in the environment wins; nothing has a committed default.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../config';

export interface AdminToken {
  token: string;
  /** Where it is kept; undefined when it came from the environment. */
  file?: string;
  /** True when this call created it (the caller prints it once). */
  created: boolean;
}

export function adminTokenFile(cfg: Pick<AppConfig, 'dataDir'>): string {
  return join(cfg.dataDir, 'secrets', 'api-admin-token');
}

export function ensureAdminToken(cfg: Pick<AppConfig, 'dataDir' | 'apiAdminToken'>, env: NodeJS.ProcessEnv = process.env): AdminToken {
  const fromEnv = cfg.apiAdminToken ?? env.API_TOKEN_ADMIN;
  if (fromEnv) return { token: fromEnv, created: false };
  const file = adminTokenFile(cfg);
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return { token: readFileSync(file, 'utf8').trim(), file, created: false };
  }
  mkdirSync(join(cfg.dataDir, 'secrets'), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, file, created: true };
}
