/** The seed document's "Location Summary", from a gathered report: where each thing is, what it holds, since when. Pure. */
import { join } from 'node:path';
import { registeredModelName } from './locations';
import { formatBytes } from './format';
import type { ModelsReport, RunReport, SummaryRow } from './types';

const none = '—';

/** `model/: MLmodel, model.onnx, model.json + 5 more (201.3 kB)`: the files that matter first, the rest counted. */
function modelDirContent(run: RunReport): string {
  if (run.modelFiles === null) return `model/ not listed (${run.filesError ?? '?'})`;
  if (run.modelFiles.length === 0) return 'model/ is empty';
  const key = ['MLmodel', 'model.onnx', 'model.json'].filter((name) => run.modelFiles!.some((f) => f.name === name));
  const rest = run.modelFiles.length - key.length;
  const total = run.modelFiles.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const head = key.join(', ');
  const more = rest > 0 ? `${rest} more` : '';
  return `model/: ${head && more ? `${head} + ${more}` : head || more} (${formatBytes(total)})`;
}

export function locationSummary(report: ModelsReport): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const { mlflow } = report;
  if (!mlflow.reachable) {
    rows.push({ where: 'MLflow', path: mlflow.trackingUri, content: `unreachable: ${mlflow.error ?? 'no answer'}`, since: none });
  } else {
    for (const kind of report.models) {
      const run = mlflow.runs.find((r) => r.kind === kind);
      if (!run) {
        rows.push({ where: 'MLflow tracking', path: mlflow.experiment?.artifactPath ?? mlflow.experiment?.artifactLocation ?? mlflow.trackingUri, content: `no register_${kind} run in ${mlflow.experimentName}`, since: none });
        continue;
      }
      rows.push({ where: 'MLflow tracking', path: run.artifactPath ?? run.artifactUri, content: `${run.runName} ${run.runId.slice(0, 8)} (${run.status}); ${modelDirContent(run)}`, since: run.startTime ?? none });
    }
    for (const model of report.registry) {
      if (!report.models.includes(model.kind) && !model.registered) continue;
      const name = registeredModelName(model.kind);
      if (!model.registered) {
        rows.push({ where: 'MLflow registry', path: `models:/${name}`, content: model.error ? `unreadable: ${model.error}` : 'not registered', since: none });
        continue;
      }
      const live = model.versions.filter((v) => v.stage === 'Staging' || v.stage === 'Production');
      const stage = live.some((v) => v.stage === 'Staging') ? 'Staging' : live.length > 0 ? 'Production' : 'Staging';
      const content = live.length === 0 ? `no version in Staging or Production (${model.versions.length} in all)` : live.map((v) => `v${v.version} ${v.stage}${v.aliases.length ? ` @${v.aliases.join(' @')}` : ''}`).join(', ');
      const newest = live.map((v) => v.createdAt).filter((t): t is string => t !== null).sort().pop();
      rows.push({ where: 'MLflow registry', path: `models:/${name}/${stage}`, content, since: newest ?? none });
    }
  }
  for (const slot of report.store.slots) {
    const path = slot.release === null ? slot.path : `${slot.path} → releases/${slot.release}`;
    let content: string;
    if (slot.state === 'empty') content = 'empty';
    else if (slot.state === 'broken') content = `broken: ${slot.load.detail}`;
    else content = slot.manifest!.members.map((m) => `${m.kind} v${m.version}`).join(', ');
    if (slot.loadedByApi !== null && slot.release !== null) content += slot.loadedByApi ? ' (API serves it)' : ' (API does NOT serve it)';
    rows.push({ where: `Model store ${slot.slot}`, path, content, since: slot.since ?? none });
  }
  const routing = report.store.routing;
  rows.push({
    where: 'Traffic routing',
    path: join(report.store.dir, 'traffic_routing.json'),
    content: report.store.routingError ? `invalid: ${report.store.routingError}` : routing ? `canary ${routing.canaryPercent} %` : 'none',
    since: routing?.updatedAt ?? none,
  });
  const { api } = report;
  const served = (['champion', 'canary'] as const).map((s) => `${s} ${api[s]?.release ?? 'none'}`).join(', ');
  rows.push({
    where: 'Serving API',
    path: api.url,
    content: api.reachable ? `${served}${api.canary ? ` at ${api.canaryPercent ?? '?'} %` : ''}` : `unreachable: ${api.error ?? 'no answer'}`,
    since: api.champion?.loadedAt ?? none,
  });
  return rows;
}
