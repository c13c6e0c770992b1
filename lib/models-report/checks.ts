/**
 * The seed document's diagnostics as rules over a gathered report. Pure: the same report always
 * gives the same results, so every rule is tested on hand-built reports. Each result is one line;
 * a failure's line says what is wrong and, where it helps, what to do.
 */
import type { ModelSetManifest } from '../serving/contract';
import { CHAMPION_ALIAS, REQUIRED_MODEL_FILES, registeredModelName } from './locations';
import type { CheckCode, CheckResult, ModelsReport, RegisteredModelReport, SlotReport, VersionReport } from './types';

const short = (sha: string) => sha.slice(0, 12);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function membersText(manifest: ModelSetManifest | null): string {
  return manifest ? manifest.members.map((m) => `${m.kind} v${m.version}`).join(', ') : 'no readable manifest';
}

class Results {
  readonly list: CheckResult[] = [];
  pass(code: CheckCode, subject: string, message: string): void {
    this.list.push({ code, ok: true, subject, message });
  }
  fail(code: CheckCode, subject: string, message: string): void {
    this.list.push({ code, ok: false, subject, message });
  }
}

function stageVersions(model: RegisteredModelReport, stage: string): VersionReport[] {
  return model.versions.filter((v) => v.stage === stage);
}

function checkRegistry(report: ModelsReport, r: Results): void {
  for (const kind of report.models) {
    const name = registeredModelName(kind);
    const model = report.registry.find((m) => m.kind === kind);
    if (!model || model.error !== null) {
      r.fail('model-registered', name, `${name}: the MLflow registry could not be read: ${model?.error ?? 'not gathered'}`);
      continue;
    }
    if (!model.registered) {
      r.fail('model-registered', name, `${name} is not registered in MLflow: no trainingPipeline run has registered it (npm run train)`);
      continue;
    }
    r.pass('model-registered', name, `${name} is registered (${plural(model.versions.length, 'version')})`);
    const staging = stageVersions(model, 'Staging');
    const production = stageVersions(model, 'Production');
    // Deploying moves a version from Staging to Production, so a deployed model legitimately has none left in Staging.
    if (staging.length === 0 && production.length === 0) {
      r.fail('version-in-staging', name, `${name} has no version in Staging (nor in Production): no trained version passed the quality gate; train it (npm run train)`);
    } else {
      const list = (vs: VersionReport[], stage: string) => (vs.length === 0 ? `none in ${stage}` : `${vs.map((v) => `v${v.version}`).join(', ')} in ${stage}`);
      r.pass('version-in-staging', name, `${name}: ${list(staging, 'Staging')}, ${list(production, 'Production')}`);
    }
  }

  for (const model of report.registry) {
    for (const v of model.versions) {
      const i = v.inspection;
      if (!i) continue;
      const subject = `${model.name} v${v.version} (${i.checkedAs.join(', ')})`;
      const where = i.artifactPath ?? i.artifactUri ?? i.modelUri;
      if (i.listError !== null) r.fail('artifacts-present', subject, `${subject}: its model files cannot be listed: ${i.listError}`);
      else if (i.missingFiles.length > 0) {
        r.fail('artifacts-present', subject, `${subject}: artifacts missing: ${i.missingFiles.map((f) => `model/${f}`).join(', ')} (in ${where})`);
      } else r.pass('artifacts-present', subject, `${subject}: all ${REQUIRED_MODEL_FILES.length} model files present in ${where}`);
      if (i.load.status === 'failed') r.fail('model-loads', subject, `${subject}: our loader cannot load model/model.json: ${i.load.detail}`);
      else if (i.load.status === 'ok') r.pass('model-loads', subject, `${subject}: model/model.json loads (${i.load.detail})`);
      if (i.pyfunc.status === 'failed') r.fail('pyfunc-loads', subject, `${subject}: mlflow.pyfunc.load_model('${i.modelUri}') failed: ${i.pyfunc.detail}`);
      else if (i.pyfunc.status === 'ok') r.pass('pyfunc-loads', subject, `${subject}: mlflow.pyfunc.load_model('${i.modelUri}') works (${i.pyfunc.detail})`);
    }
  }
}

function checkStore(report: ModelsReport, r: Results): void {
  const { store } = report;
  const routingSubject = 'traffic_routing.json';
  for (const slot of store.slots) {
    const subject = `${slot.slot}/`;
    if (slot.state === 'broken') r.fail('store-readable', subject, `${subject} is broken: ${slot.load.detail}`);
    else if (slot.state === 'ok') r.pass('store-readable', subject, `${subject} holds release ${slot.release} (${membersText(slot.manifest)}); it loads and passes the smoke test`);
    else if (slot.slot === 'champion') r.fail('store-readable', subject, `nothing is deployed: ${slot.path} is empty (run the canaryDeployment workflow)`);
  }
  if (store.routingError !== null) {
    r.fail('store-readable', routingSubject, `traffic_routing.json is invalid: ${store.routingError}`);
    return;
  }
  const routing = store.routing;
  for (const slot of store.slots) {
    const subject = `${slot.slot}/`;
    const holds = slot.release === null ? 'nothing' : `release ${slot.release}`;
    if (routing === null) {
      if (slot.release !== null) r.fail('store-routing', subject, `store drift: ${subject} holds ${holds} but there is no traffic_routing.json`);
      continue;
    }
    const named = slot.slot === 'champion' ? routing.championRelease : routing.canaryRelease;
    if (slot.release !== named) {
      r.fail('store-routing', subject, `store drift: ${subject} holds ${holds} but traffic_routing.json names ${named === null ? 'no release' : `release ${named}`} for it`);
    } else if (named !== null) r.pass('store-routing', subject, `${subject} holds release ${named}, as traffic_routing.json says`);
  }
}

function checkStoreAgainstRegistry(report: ModelsReport, r: Results): void {
  for (const slot of report.store.slots) {
    if (!slot.manifest) continue;
    for (const member of slot.manifest.members) {
      const subject = `${slot.slot}/ ${member.registeredModel} v${member.version}`;
      const deploys = `${slot.slot}/ release ${slot.manifest.id} deploys ${member.registeredModel} v${member.version}`;
      const model = report.registry.find((m) => m.name === member.registeredModel);
      if (!model || model.error !== null) {
        r.fail('store-registry', subject, `${deploys}, which cannot be compared with the registry: ${model?.error ?? 'not read'}`);
        continue;
      }
      if (!model.registered) {
        r.fail('store-registry', subject, `store drift: ${deploys}, but ${member.registeredModel} is not registered in MLflow`);
        continue;
      }
      const version = model.versions.find((v) => v.version === member.version);
      if (!version) {
        r.fail('store-registry', subject, `store drift: ${deploys}, a version the MLflow registry does not have`);
        continue;
      }
      if (member.runId !== undefined && version.runId !== null && member.runId !== version.runId) {
        r.fail('store-registry', subject, `store drift: ${deploys} from run ${member.runId}, but the registry's v${member.version} comes from run ${version.runId}`);
        continue;
      }
      const sha = version.inspection?.modelJsonSha256 ?? null;
      // Without MLflow's model.json there is nothing to compare; artifacts-present says why.
      if (sha === null) continue;
      if (sha !== member.sha256) {
        r.fail(
          'store-registry',
          subject,
          `store drift: ${slot.slot}/ release ${slot.manifest.id} has ${member.kind}/model.json with sha256 ${short(member.sha256)}…, but MLflow's ${member.registeredModel} v${member.version} model/model.json has ${short(sha)}…`,
        );
      } else r.pass('store-registry', subject, `${subject} is the registry's version (same run, same model.json)`);
    }
  }
  const champion = report.store.slots.find((s) => s.slot === 'champion');
  for (const member of champion?.manifest?.members ?? []) {
    const model = report.registry.find((m) => m.name === member.registeredModel);
    if (!model?.registered) continue;
    const aliased = model.aliases[CHAMPION_ALIAS];
    const subject = `${member.registeredModel}@${CHAMPION_ALIAS}`;
    if (aliased === undefined) r.fail('registry-alias', subject, `registry drift: ${member.registeredModel} has no '${CHAMPION_ALIAS}' alias but champion/ deploys v${member.version}`);
    else if (aliased !== member.version) r.fail('registry-alias', subject, `registry drift: ${subject} is v${aliased} but champion/ deploys v${member.version}`);
    else r.pass('registry-alias', subject, `${subject} is v${aliased}, the version champion/ deploys`);
  }
}

function apiSlotCheck(report: ModelsReport, slot: SlotReport, r: Results): void {
  const { api } = report;
  // A broken slot is refused by the API on purpose (it keeps the previous set): store-readable reports it.
  if (slot.state === 'broken') return;
  const served = api[slot.slot]?.release ?? null;
  const subject = `API ${slot.slot}`;
  if (served === slot.release) {
    if (served !== null) r.pass('api-serves-store', subject, `the API serves release ${served} as ${slot.slot}, as ${slot.slot}/ holds`);
    return;
  }
  const rejected = api.rejected.filter((c) => c.slot === slot.slot && c.release === slot.release).pop();
  const why = rejected ? `; it rejected ${slot.release}: ${rejected.reason}` : '; it picks store changes up within seconds, so check its log or restart it';
  r.fail(
    'api-serves-store',
    subject,
    `API not reloaded: it serves ${served === null ? 'nothing' : `release ${served}`} as ${slot.slot} but ${slot.slot}/ holds ${slot.release === null ? 'nothing' : `release ${slot.release}`}${why}`,
  );
}

function checkApi(report: ModelsReport, r: Results): void {
  const { api } = report;
  if (!api.reachable) {
    r.fail('api-reachable', 'API', `API unreachable at ${api.url}: ${api.error ?? 'no answer'} (start it with npm run api, or set API_URL)`);
    return;
  }
  if (api.token !== null && api.adminError !== null) r.fail('api-reachable', 'API', `API at ${api.url}: ${api.adminError}`);
  else r.pass('api-reachable', 'API', `API answers at ${api.url} (status ${api.status ?? '?'})`);
  for (const slot of report.store.slots) apiSlotCheck(report, slot, r);
  const file = report.store.routing;
  if (api.routing !== null && file !== null && report.store.routingError === null) {
    const same =
      api.routing.canaryPercent === file.canaryPercent &&
      api.routing.championRelease === file.championRelease &&
      api.routing.canaryRelease === file.canaryRelease &&
      api.routing.updatedAt === file.updatedAt;
    if (!same) {
      r.fail(
        'api-serves-store',
        'API routing',
        `API not reloaded: it acts on the routing of ${api.routing.updatedAt} (canary ${api.routing.canaryPercent} %) but traffic_routing.json is of ${file.updatedAt} (canary ${file.canaryPercent} %)`,
      );
    } else r.pass('api-serves-store', 'API routing', `the API acts on the current traffic_routing.json (canary ${file.canaryPercent} %)`);
  }
}

/** Every diagnostic over the report, passes and failures, in a stable order (MLflow, registry, store, API). */
export function checkModelsReport(report: ModelsReport): CheckResult[] {
  const r = new Results();
  if (!report.mlflow.reachable) {
    r.fail('mlflow-reachable', 'MLflow', `MLflow unreachable at ${report.mlflow.trackingUri}: ${report.mlflow.error ?? 'no answer'} (start it with npm run stack:up, or set MLFLOW_TRACKING_URI)`);
  } else {
    r.pass('mlflow-reachable', 'MLflow', `MLflow ${report.mlflow.serverVersion ?? ''} answers at ${report.mlflow.trackingUri}`.replace('  ', ' '));
    checkRegistry(report, r);
  }
  checkStore(report, r);
  if (report.mlflow.reachable) checkStoreAgainstRegistry(report, r);
  checkApi(report, r);
  return r.list;
}

/** The failures only. */
export function failedChecks(results: readonly CheckResult[]): CheckResult[] {
  return results.filter((c) => !c.ok);
}
