/**
 * Gathers the report: the store first (local, and it says which versions are deployed), then MLflow
 * and the API side by side, then Python's pyfunc over the checked versions when asked. Never
 * throws for what it finds: an unreachable server is a finding in the report.
 */
import type { AppConfig } from '../config';
import { MODEL_KINDS, type ModelKind } from '../ml/types';
import { MlflowClient } from '../mlflow';
import { findAdminToken, gatherApi } from './gather-api';
import { gatherMlflow } from './gather-mlflow';
import { gatherStore } from './gather-store';
import { localArtifactRoot } from './locations';
import { withDefaults, type ModelsReportOptions } from './options';
import { pyfuncLoadAll } from './pyfunc';
import { REPORT_FORMAT_VERSION, REPORT_NAME, type ApiReport, type ModelsReport, type StoreReport } from './types';

export interface GatherDeps {
  /** @default a client on `cfg.mlflowTrackingUri` retrying once, closed afterwards */
  mlflow?: MlflowClient;
  /** For `API_TOKEN_ADMIN`. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Which registry versions each slot's manifest names, by kind. */
export function deployedVersions(store: StoreReport): Map<ModelKind, { version: string; as: string }[]> {
  const out = new Map<ModelKind, { version: string; as: string }[]>();
  for (const slot of store.slots) {
    for (const m of slot.manifest?.members ?? []) out.set(m.kind, [...(out.get(m.kind) ?? []), { version: m.version, as: `${slot.slot}/` }]);
  }
  return out;
}

/** Whether the API serves each slot's release (null when the API could not be asked). */
export function markLoadedByApi(store: StoreReport, api: ApiReport): void {
  for (const slot of store.slots) {
    slot.loadedByApi = !api.reachable || slot.release === null ? null : api[slot.slot]?.release === slot.release;
  }
}

export async function gatherModelsReport(cfg: AppConfig, options: ModelsReportOptions = {}, deps: GatherDeps = {}): Promise<ModelsReport> {
  const opts = withDefaults(options);
  const generatedAt = new Date().toISOString();
  const store = await gatherStore(cfg.modelStoreDir);
  const deployed = deployedVersions(store);
  const registryKinds = MODEL_KINDS.filter((k) => opts.models.includes(k) || deployed.has(k));

  const mlflow = deps.mlflow ?? new MlflowClient({ trackingUri: cfg.mlflowTrackingUri, retry: { maxRetries: 1, initialDelayMs: 250 }, timeoutMs: opts.httpTimeoutMs });
  try {
    const [fromMlflow, api] = await Promise.all([
      gatherMlflow(mlflow, {
        experimentName: opts.experimentName,
        runKinds: opts.models,
        registryKinds,
        runsPerModel: opts.runsPerModel,
        deployed,
        artifactRootOnDisk: localArtifactRoot(cfg),
      }),
      gatherApi(cfg.apiUrl, findAdminToken(cfg, deps.env ?? process.env), { timeoutMs: opts.httpTimeoutMs, ...(deps.fetch ? { fetch: deps.fetch } : {}) }),
    ]);
    markLoadedByApi(store, api);

    const inspections = fromMlflow.registry.flatMap((m) => m.versions.flatMap((v) => (v.inspection ? [v.inspection] : [])));
    if (opts.python && inspections.length > 0) {
      const results = await pyfuncLoadAll(
        inspections.map((i) => i.modelUri),
        { venvDir: cfg.venvDir, trackingUri: cfg.mlflowTrackingUri, timeoutMs: opts.pythonTimeoutMs },
      );
      for (const i of inspections) i.pyfunc = results.get(i.modelUri) ?? i.pyfunc;
    }
    return { name: REPORT_NAME, formatVersion: REPORT_FORMAT_VERSION, generatedAt, models: opts.models, mlflow: fromMlflow.mlflow, registry: fromMlflow.registry, store, api };
  } finally {
    if (!deps.mlflow) mlflow.close();
  }
}
