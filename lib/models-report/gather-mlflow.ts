/**
 * MLflow as it is: the experiment's `register_<kind>` runs with their `model/` files, and per
 * registered model every version; the versions that matter (Staging, Production, and those the
 * store deploys) are inspected: files present, `model.json` loads with our loader.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadModel } from '../ml/models';
import type { ModelKind } from '../ml/types';
import { joinArtifactUri, MlflowApiError, MlflowConnectionError, modelVersionFilter, toRecord, type MlflowClient, type ModelVersion, type Run } from '../mlflow';
import { sha256Hex } from '../model-store';
import { artifactPathOnDisk, modelRunName, registeredModelName, REPORTED_RUN_METRICS, REPORTED_VERSION_TAGS, REQUIRED_MODEL_FILES } from './locations';
import type { ArtifactFile, MlflowReport, RegisteredModelReport, RunReport, VersionInspection, VersionReport } from './types';
import { errorText, isoTime } from './util';

export interface MlflowGatherInput {
  experimentName: string;
  /** Kinds whose runs are listed. */
  runKinds: readonly ModelKind[];
  /** Kinds whose registered model is read: the runs' kinds plus those the store deploys. */
  registryKinds: readonly ModelKind[];
  runsPerModel: number;
  /** Versions to inspect besides Staging and Production, by kind, with why (`champion/`). */
  deployed: ReadonlyMap<ModelKind, ReadonlyArray<{ version: string; as: string }>>;
  /** `<DATA_DIR>/mlflow/artifacts` for the local stack, else null. */
  artifactRootOnDisk: string | null;
}

export interface MlflowGatherResult {
  mlflow: MlflowReport;
  registry: RegisteredModelReport[];
}

function pick<T>(record: Record<string, T>, keys: readonly string[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of keys) if (record[k] !== undefined) out[k] = record[k];
  return out;
}

async function runReport(mlflow: MlflowClient, run: Run, kind: ModelKind, root: string | null): Promise<RunReport> {
  const report: RunReport = {
    kind,
    runName: run.info.run_name ?? '',
    runId: run.info.run_id,
    status: run.info.status,
    startTime: isoTime(run.info.start_time),
    endTime: isoTime(run.info.end_time),
    metrics: pick(toRecord(run.data.metrics.map((m) => ({ key: m.key, value: m.value }))), REPORTED_RUN_METRICS),
    workflowId: toRecord(run.data.tags).workflow_id ?? null,
    artifactUri: run.info.artifact_uri,
    artifactPath: artifactPathOnDisk(run.info.artifact_uri, root),
    modelFiles: null,
    filesError: null,
  };
  try {
    const files = await mlflow.artifacts.listArtifacts(run.info.run_id, 'model');
    report.modelFiles = files.filter((f) => !f.is_dir).map((f) => ({ name: basename(f.path), size: f.file_size ?? null }));
  } catch (err) {
    report.filesError = errorText(err);
  }
  return report;
}

async function gatherRuns(mlflow: MlflowClient, experimentId: string, kind: ModelKind, n: number, root: string | null): Promise<RunReport[]> {
  if (n === 0) return [];
  const page = await mlflow.tracking.searchRuns({
    experimentIds: [experimentId],
    filter: `attributes.run_name = '${modelRunName(kind)}'`,
    orderBy: ['attributes.start_time DESC'],
    maxResults: n,
  });
  return Promise.all(page.items.map((run) => runReport(mlflow, run, kind, root)));
}

/** `model.json` of a model directory: through the run's artifacts when it lies in them (it always does for our runs), else downloaded. */
async function readModelJson(mlflow: MlflowClient, modelDirUri: string, runId: string | null): Promise<Buffer> {
  if (runId !== null) {
    const root = await mlflow.artifacts.runArtifactRoot(runId).catch(() => undefined);
    if (root !== undefined && modelDirUri.startsWith(`${root}/`)) return mlflow.artifacts.readArtifact(runId, `${modelDirUri.slice(root.length + 1)}/model.json`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'models-report-'));
  try {
    return await readFile(await mlflow.artifacts.downloadArtifactsFromUri(joinArtifactUri(modelDirUri, 'model.json'), dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function inspectVersion(mlflow: MlflowClient, kind: ModelKind, mv: ModelVersion, checkedAs: string[], root: string | null): Promise<VersionInspection> {
  const modelUri = `models:/${mv.name}/${mv.version}`;
  const inspection: VersionInspection = {
    checkedAs,
    modelUri,
    artifactUri: null,
    artifactPath: null,
    files: null,
    missingFiles: [],
    listError: null,
    modelJsonSha256: null,
    load: { status: 'skipped', detail: 'its files could not be listed' },
    pyfunc: { status: 'skipped', detail: 'not requested (--python, or --check)' },
  };
  let files: ArtifactFile[];
  try {
    const resolved = await mlflow.resolveModelUri(modelUri);
    inspection.artifactUri = resolved.downloadUri;
    inspection.artifactPath = artifactPathOnDisk(resolved.downloadUri, root);
    const listed = await mlflow.artifacts.listArtifactsAtUri(resolved.downloadUri);
    files = listed.filter((f) => !f.is_dir).map((f) => ({ name: basename(f.path), size: f.file_size ?? null }));
  } catch (err) {
    inspection.listError = errorText(err);
    return inspection;
  }
  inspection.files = files;
  inspection.missingFiles = REQUIRED_MODEL_FILES.filter((name) => !files.some((f) => f.name === name));
  if (inspection.missingFiles.includes('model.json')) {
    inspection.load = { status: 'failed', detail: 'model.json is missing' };
    return inspection;
  }
  try {
    const bytes = await readModelJson(mlflow, inspection.artifactUri!, mv.run_id ?? null);
    inspection.modelJsonSha256 = sha256Hex(bytes);
    const model = await loadModel(JSON.parse(bytes.toString('utf8')) as unknown, { treeScoring: 'typescript' });
    inspection.load =
      model.kind === kind
        ? { status: 'ok', detail: `${model.kind} model, ${model.featureNames.length} features` }
        : { status: 'failed', detail: `model.json holds a ${model.kind} model, not ${kind}` };
  } catch (err) {
    inspection.load = { status: 'failed', detail: errorText(err) };
  }
  return inspection;
}

function versionReport(mv: ModelVersion, aliasesOf: Map<string, string[]>): VersionReport {
  const tags = toRecord(mv.tags);
  return {
    version: mv.version,
    stage: mv.current_stage,
    status: mv.status,
    aliases: [...new Set([...(mv.aliases ?? []), ...(aliasesOf.get(mv.version) ?? [])])].sort(),
    source: mv.source,
    runId: mv.run_id ?? null,
    createdAt: isoTime(mv.creation_timestamp),
    tags: pick(tags, REPORTED_VERSION_TAGS),
    inspection: null,
  };
}

async function gatherRegisteredModel(mlflow: MlflowClient, kind: ModelKind, input: MlflowGatherInput): Promise<RegisteredModelReport> {
  const name = registeredModelName(kind);
  const report: RegisteredModelReport = { kind, name, registered: false, error: null, aliases: {}, versions: [] };
  try {
    const model = await mlflow.registry.getRegisteredModel(name);
    report.registered = true;
    for (const a of model.aliases) report.aliases[a.alias] = a.version;
    const versions = await mlflow.registry.searchAllModelVersions(modelVersionFilter({ name }), { orderBy: ['version_number DESC'] });
    versions.sort((a, b) => Number(b.version) - Number(a.version));
    const aliasesOf = new Map<string, string[]>();
    for (const [alias, version] of Object.entries(report.aliases)) aliasesOf.set(version, [...(aliasesOf.get(version) ?? []), alias]);
    const deployed = input.deployed.get(kind) ?? [];
    report.versions = await Promise.all(
      versions.map(async (mv) => {
        const v = versionReport(mv, aliasesOf);
        const checkedAs = [
          ...(mv.current_stage === 'Staging' || mv.current_stage === 'Production' ? [mv.current_stage] : []),
          ...deployed.filter((d) => d.version === mv.version).map((d) => d.as),
        ];
        if (checkedAs.length > 0) v.inspection = await inspectVersion(mlflow, kind, mv, checkedAs, input.artifactRootOnDisk);
        return v;
      }),
    );
  } catch (err) {
    if (!(err instanceof MlflowApiError && err.isNotFound)) report.error = errorText(err);
  }
  return report;
}

/**
 * Reads MLflow; an unreachable server or a missing experiment is reported, not thrown. The client
 * should retry little: a CLI user waits for every retry of an unreachable server.
 */
export async function gatherMlflow(mlflow: MlflowClient, input: MlflowGatherInput): Promise<MlflowGatherResult> {
  const report: MlflowReport = {
    trackingUri: mlflow.trackingUri,
    reachable: false,
    serverVersion: null,
    error: null,
    artifactRootOnDisk: input.artifactRootOnDisk,
    experimentName: input.experimentName,
    experiment: null,
    experimentError: null,
    runs: [],
  };
  try {
    report.serverVersion = await mlflow.serverVersion();
    report.reachable = true;
  } catch (err) {
    // The connection error's own text repeats the URI and a hint the checks give anyway.
    report.error = err instanceof MlflowConnectionError ? `${err.code ?? 'no answer'} after ${err.attempts} attempt(s)` : errorText(err);
    return { mlflow: report, registry: [] };
  }
  const runs = (async () => {
    try {
      const experiment = await mlflow.tracking.getExperimentByName(input.experimentName);
      if (experiment === undefined) {
        report.experimentError = `no experiment named ${input.experimentName}`;
        return;
      }
      report.experiment = {
        id: experiment.experiment_id,
        artifactLocation: experiment.artifact_location,
        artifactPath: artifactPathOnDisk(experiment.artifact_location, input.artifactRootOnDisk),
        lifecycleStage: experiment.lifecycle_stage,
      };
      if (experiment.lifecycle_stage === 'deleted') report.experimentError = `experiment ${input.experimentName} is deleted`;
      const perKind = await Promise.all(input.runKinds.map((kind) => gatherRuns(mlflow, experiment.experiment_id, kind, input.runsPerModel, input.artifactRootOnDisk)));
      report.runs = perKind.flat();
    } catch (err) {
      report.experimentError = errorText(err);
    }
  })();
  const registry = Promise.all(input.registryKinds.map((kind) => gatherRegisteredModel(mlflow, kind, input)));
  const [, models] = await Promise.all([runs, registry]);
  return { mlflow: report, registry: models };
}
