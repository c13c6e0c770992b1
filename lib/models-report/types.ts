/**
 * The report of `npm run models`: what was found where, gathered once (gather.ts) and then only
 * read by pure functions (checks.ts, summary.ts, render.ts). Plain JSON: `--json` prints it as is,
 * so scripts read the same fields the table shows. Times are ISO 8601 strings, sizes bytes.
 */
import type { ModelKind } from '../ml/types';
import type { ModelSetManifest, RejectedCandidate, Slot, TrafficRouting } from '../serving/contract';

export const REPORT_NAME = 'fraud-ml-models-report';
export const REPORT_FORMAT_VERSION = 1;

/** The outcome of one load attempt (our loader, or Python's pyfunc). */
export interface LoadOutcome {
  status: 'ok' | 'failed' | 'skipped';
  /** What loaded (`ok`), the error (`failed`), or why it was not tried (`skipped`). */
  detail: string;
}

/** One file of an artifact directory. */
export interface ArtifactFile {
  /** The file name inside `model/`, e.g. `model.onnx`. */
  name: string;
  /** Bytes; null when the server did not say. */
  size: number | null;
}

/** A `register_<kind>` run of the experiment. */
export interface RunReport {
  kind: ModelKind;
  runName: string;
  runId: string;
  status: string;
  startTime: string | null;
  endTime: string | null;
  /** The key test metrics and the threshold, as logged. */
  metrics: Record<string, number>;
  /** The `workflow_id` tag: the trainingPipeline that logged it. */
  workflowId: string | null;
  /** The run's artifact root (`mlflow-artifacts:/<exp>/<run>/artifacts`). */
  artifactUri: string;
  /** The same directory on disk, for the local stack; null otherwise. */
  artifactPath: string | null;
  /** Files under `model/`; null when they could not be listed (see `filesError`). */
  modelFiles: ArtifactFile[] | null;
  filesError: string | null;
}

export interface MlflowReport {
  trackingUri: string;
  reachable: boolean;
  serverVersion: string | null;
  /** Why it is unreachable. */
  error: string | null;
  /** Where the local stack's MLflow keeps artifacts (`<DATA_DIR>/mlflow/artifacts`); null when MLflow is not the local stack's. */
  artifactRootOnDisk: string | null;
  experimentName: string;
  experiment: { id: string; artifactLocation: string; artifactPath: string | null; lifecycleStage: string } | null;
  /** Why the experiment is missing or could not be read (null when found). */
  experimentError: string | null;
  /** The latest `register_<kind>` runs of each model, newest first. */
  runs: RunReport[];
}

/**
 * What was checked of a registry version: those in Staging or Production, and those the store
 * deploys. The others are listed without these checks.
 */
export interface VersionInspection {
  /** Why it was checked, e.g. `Staging`, `champion/`. */
  checkedAs: string[];
  /** `models:/<name>/<version>`, what Python loads. */
  modelUri: string;
  /** The model directory (`…/artifacts/model`); null when it could not be resolved (see `listError`). */
  artifactUri: string | null;
  /** The same directory on disk, for the local stack. */
  artifactPath: string | null;
  /** Files in the model directory; null when they could not be listed. */
  files: ArtifactFile[] | null;
  /** Required files (REQUIRED_MODEL_FILES) that are not there. */
  missingFiles: string[];
  listError: string | null;
  /** sha256 of its `model.json`, compared with the store's copy. */
  modelJsonSha256: string | null;
  /** `model.json` through our loader (`loadModel`). */
  load: LoadOutcome;
  /** `mlflow.pyfunc.load_model(modelUri)` in the project's `.venv`. */
  pyfunc: LoadOutcome;
}

export interface VersionReport {
  version: string;
  stage: string;
  status: string;
  aliases: string[];
  source: string;
  runId: string | null;
  createdAt: string | null;
  /** The tags that tell its story (REPORTED_VERSION_TAGS), when set. */
  tags: Record<string, string>;
  inspection: VersionInspection | null;
}

export interface RegisteredModelReport {
  kind: ModelKind;
  name: string;
  registered: boolean;
  /** Why it could not be read (a missing model is `registered: false` without an error). */
  error: string | null;
  /** Alias → version. */
  aliases: Record<string, string>;
  /** Every version, newest first. */
  versions: VersionReport[];
}

export interface SlotReport {
  slot: Slot;
  /** `<store>/<slot>`. */
  path: string;
  /** `empty`: no slot; `broken`: not a symlink to a release, or the release does not load. */
  state: 'ok' | 'empty' | 'broken';
  release: string | null;
  /** When the slot was last pointed at its release (the symlink's mtime). */
  since: string | null;
  manifest: ModelSetManifest | null;
  /** The release through the API's own loader (checksums, `loadModel`, smoke test). */
  load: LoadOutcome;
  /** Whether the API serves this release in this slot; null when the API could not be asked. */
  loadedByApi: boolean | null;
}

export interface StoreReport {
  dir: string;
  exists: boolean;
  routing: TrafficRouting | null;
  /** The routing file is invalid or unreadable (a missing file is `routing: null` without an error). */
  routingError: string | null;
  slots: SlotReport[];
}

/** A model set the API has in memory. */
export interface ServedSlot {
  release: string;
  loadedAt: string | null;
  members: { kind: string; version: string }[];
}

export interface ApiReport {
  url: string;
  reachable: boolean;
  error: string | null;
  /** `GET /health`'s status (`ok`, `degraded`). */
  status: string | null;
  /** Where the admin token came from; null when there is none. */
  token: 'API_ADMIN_TOKEN' | 'API_TOKEN_ADMIN' | 'secrets file' | null;
  /** Why `GET /api/v1/admin/deployment` gave nothing (no token, refused token…); null when it answered. */
  adminError: string | null;
  /** Which endpoint the served releases come from: the admin one has the routing and member details. */
  source: 'admin' | 'health' | null;
  champion: ServedSlot | null;
  canary: ServedSlot | null;
  canaryPercent: number | null;
  /** The routing the API acts on (admin endpoint only). */
  routing: TrafficRouting | null;
  rejected: RejectedCandidate[];
}

export interface ModelsReport {
  name: typeof REPORT_NAME;
  formatVersion: typeof REPORT_FORMAT_VERSION;
  generatedAt: string;
  /** The models looked at (`--models`). */
  models: ModelKind[];
  mlflow: MlflowReport;
  /** Registered models: the ones looked at, plus any the store deploys. */
  registry: RegisteredModelReport[];
  store: StoreReport;
  api: ApiReport;
}

/**
 * The diagnostics. Codes are stable (scripts match on them): never rename or reuse one.
 * - `mlflow-reachable`: the tracking server answers.
 * - `model-registered`: `fraud_detection_<kind>` exists in the registry.
 * - `version-in-staging`: it has a version in Staging (or, once deployed, in Production).
 * - `artifacts-present`: a checked version's model directory holds every required file.
 * - `model-loads`: our loader loads its `model.json`.
 * - `pyfunc-loads`: `mlflow.pyfunc.load_model` loads it.
 * - `store-readable`: the slots resolve to releases that load, the routing file parses, something is deployed.
 * - `store-routing`: `champion/` and `canary/` hold the releases the routing file names.
 * - `store-registry`: the store's members are the registry's versions (same run, same model.json).
 * - `registry-alias`: the registry's `champion` alias points at what `champion/` holds.
 * - `api-reachable`: the serving API answers (and accepts the admin token).
 * - `api-serves-store`: the API serves what the store holds.
 */
export type CheckCode =
  | 'mlflow-reachable'
  | 'model-registered'
  | 'version-in-staging'
  | 'artifacts-present'
  | 'model-loads'
  | 'pyfunc-loads'
  | 'store-readable'
  | 'store-routing'
  | 'store-registry'
  | 'registry-alias'
  | 'api-reachable'
  | 'api-serves-store';

export interface CheckResult {
  code: CheckCode;
  ok: boolean;
  /** What was checked, e.g. `fraud_detection_xgboost v3`, `champion/`. */
  subject: string;
  /** One line: the reason for a failure, what was found for a pass. */
  message: string;
}

/** One row of the location summary, like the seed document's table. */
export interface SummaryRow {
  where: string;
  path: string;
  content: string;
  since: string;
}

/** What `--json` prints. */
export interface ModelsReportOutput extends ModelsReport {
  summary: SummaryRow[];
  checks: CheckResult[];
  /** Whether every check passed. */
  ok: boolean;
}
