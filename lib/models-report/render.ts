/**
 * The report for a terminal: aligned tables per section, the location summary, and the checks as
 * `✓`/`✗` lines. Pure: strings in, strings out; colours only when asked (the CLI asks on a TTY
 * without NO_COLOR), and column widths ignore colour codes so colour never breaks alignment.
 */
import { REQUIRED_MODEL_FILES } from './locations';
import { formatBytes, formatTime } from './format';
import { locationSummary } from './summary';
import type { CheckResult, LoadOutcome, ModelsReport, RegisteredModelReport, RunReport, VersionReport } from './types';

export interface RenderOptions {
  /** ANSI colours. @default false */
  color?: boolean;
}

type Style = (text: string) => string;
export interface Paint {
  bold: Style;
  dim: Style;
  red: Style;
  green: Style;
  yellow: Style;
  cyan: Style;
}

const sgr = (open: number, close: number): Style => (text) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain: Style = (text) => text;

export function painter(color: boolean): Paint {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39) };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Characters a terminal shows: without colour codes. */
export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/**
 * Rows under a header, every column as wide as its widest cell, two spaces apart; the last column
 * is not padded (no trailing blanks). Rows shorter than the header are filled with blanks.
 */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, options: { indent?: string; paint?: Paint } = {}): string[] {
  const indent = options.indent ?? '  ';
  const bold = options.paint?.bold ?? plain;
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => visibleLength(row[c] ?? ''))));
  const line = (row: readonly string[], style: Style) =>
    indent +
    header
      .map((_, c) => {
        const cell = style(row[c] ?? '');
        return c === header.length - 1 ? cell : cell + ' '.repeat((widths[c] ?? 0) - visibleLength(row[c] ?? ''));
      })
      .join('  ')
      .replace(/\s+$/, '');
  return [line(header, bold), ...rows.map((row) => line(row, plain))];
}

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const metric = (run: RunReport, key: string) => (run.metrics[key] === undefined ? '—' : run.metrics[key]!.toFixed(4));

function outcome(o: LoadOutcome, p: Paint): string {
  if (o.status === 'ok') return p.green('✓');
  if (o.status === 'failed') return p.red('✗');
  return p.dim('–');
}

function stageText(stage: string, p: Paint): string {
  if (stage === 'Production') return p.green(stage);
  if (stage === 'Staging') return p.yellow(stage);
  return p.dim(stage);
}

function mlflowSection(report: ModelsReport, p: Paint): string[] {
  const m = report.mlflow;
  const out = [p.bold(p.cyan(`MLflow tracking — ${m.trackingUri}`) + (m.serverVersion ? ` (MLflow ${m.serverVersion})` : ''))];
  if (!m.reachable) return [...out, `  ${p.red('✗')} unreachable: ${m.error ?? 'no answer'}`];
  const exp = m.experiment;
  out.push(...formatTable(['', ''], [
    ['experiment', exp ? `${m.experimentName} (id ${exp.id})` : `${m.experimentName}: ${m.experimentError ?? 'not found'}`],
    ...(exp ? [['artifacts', exp.artifactLocation], ['on disk', exp.artifactPath ?? p.dim('— (not the local stack)')]] : []),
  ]).slice(1));
  if (exp && m.experimentError) out.push(`  ${p.yellow(m.experimentError)}`);
  if (!exp) return out;
  if (m.runs.length === 0) return [...out, `  no register_<model> runs in ${m.experimentName} yet`];
  out.push('');
  out.push(
    ...formatTable(
      ['MODEL', 'RUN', 'RUN ID', 'STATUS', 'STARTED', 'PR-AUC', 'RECALL', 'PRECISION', 'ROC-AUC', 'THRESHOLD', 'WORKFLOW'],
      m.runs.map((r) => [r.kind, r.runName, r.runId, r.status === 'FINISHED' ? r.status : p.yellow(r.status), formatTime(r.startTime), metric(r, 'test_pr_auc'), metric(r, 'test_recall'), metric(r, 'test_precision'), metric(r, 'test_roc_auc'), metric(r, 'threshold'), r.workflowId ?? '—']),
      { paint: p },
    ),
  );
  for (const kind of report.models) {
    const run = m.runs.find((r) => r.kind === kind);
    if (!run) continue;
    out.push('', `  ${p.bold(`${kind}, latest run ${run.runId}`)}`);
    const files = run.modelFiles === null ? p.red(`cannot list: ${run.filesError ?? '?'}`) : run.modelFiles.length === 0 ? p.red('empty') : run.modelFiles.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ');
    out.push(...formatTable(['', ''], [['uri', run.artifactUri], ['on disk', run.artifactPath ?? p.dim('—')], ['model/', files]], { indent: '    ' }).slice(1));
  }
  return out;
}

function versionNotes(v: VersionReport): string {
  const t = v.tags;
  const notes = [
    t.deployed_by && `deployed by ${t.deployed_by}`,
    t.promoted_by && `promoted by ${t.promoted_by}`,
    t.canary_rollback_reason && `rolled back: ${t.canary_rollback_reason}`,
    t.canary_rejected_reason && `rejected: ${t.canary_rejected_reason}`,
  ].filter((n): n is string => typeof n === 'string' && n !== '');
  return cut(notes.join('; '), 80);
}

function registrySection(report: ModelsReport, p: Paint): string[] {
  const out = ['', p.bold(p.cyan('MLflow registry'))];
  if (!report.mlflow.reachable) return [...out, `  ${p.dim('— MLflow unreachable')}`];
  const rows: string[][] = [];
  const absent: RegisteredModelReport[] = [];
  for (const model of report.registry) {
    if (!model.registered) {
      absent.push(model);
      continue;
    }
    for (const v of model.versions) {
      rows.push([
        model.name,
        v.version,
        stageText(v.stage, p),
        v.aliases.join(',') || '—',
        v.status === 'READY' ? v.status : p.yellow(v.status),
        v.runId ?? '—',
        formatTime(v.createdAt),
        v.tags.dataset_digest ? v.tags.dataset_digest.slice(0, 12) : '—',
        v.tags.workflow_id ?? '—',
        v.tags.gate ?? '—',
        versionNotes(v) || '—',
        v.source,
      ]);
    }
  }
  if (rows.length > 0) out.push(...formatTable(['MODEL', 'VERSION', 'STAGE', 'ALIASES', 'STATUS', 'RUN ID', 'CREATED', 'DATASET', 'WORKFLOW', 'GATE', 'NOTES', 'SOURCE'], rows, { paint: p }));
  for (const model of absent) out.push(`  ${model.name}: ${model.error ? p.red(`cannot be read: ${model.error}`) : p.yellow('not registered')}`);

  const checked = report.registry.flatMap((m) => m.versions.filter((v) => v.inspection).map((v) => ({ m, v, i: v.inspection! })));
  if (checked.length > 0) {
    out.push('', `  ${p.bold('Versions in Staging, in Production or deployed: files and loaders')}`);
    out.push(
      ...formatTable(
        ['MODEL', 'VERSION', 'AS', 'FILES', 'OUR LOADER', 'PYFUNC', 'MODEL DIRECTORY'],
        checked.map(({ m, v, i }) => [
          m.name,
          v.version,
          i.checkedAs.join(', '),
          i.listError !== null ? p.red('not listed') : i.missingFiles.length > 0 ? p.red(`missing ${i.missingFiles.join(', ')}`) : p.green(`all ${REQUIRED_MODEL_FILES.length}`),
          outcome(i.load, p),
          outcome(i.pyfunc, p),
          i.artifactPath ?? i.artifactUri ?? '—',
        ]),
        { paint: p },
      ),
    );
  }
  return out;
}

function storeSection(report: ModelsReport, p: Paint): string[] {
  const s = report.store;
  const out = ['', p.bold(p.cyan(`Model store — ${s.dir}`)) + (s.exists ? '' : p.yellow(' (does not exist yet)'))];
  out.push(
    ...formatTable(
      ['SLOT', 'RELEASE', 'MEMBERS', 'THRESHOLD', 'SINCE', 'LOADS', 'API'],
      s.slots.map((slot) => [
        `${slot.slot}/`,
        slot.release ?? '—',
        slot.state === 'empty' ? p.dim('empty') : slot.manifest ? slot.manifest.members.map((m) => `${m.kind} v${m.version} (sha256 ${m.sha256.slice(0, 8)})`).join(', ') : p.red(cut(slot.load.detail, 100)),
        slot.manifest ? slot.manifest.threshold.toFixed(4) : '—',
        formatTime(slot.since),
        outcome(slot.load, p),
        slot.loadedByApi === null ? p.dim('?') : slot.loadedByApi ? p.green('serves it') : p.red('does not serve it'),
      ]),
      { paint: p },
    ),
  );
  const r = s.routing;
  if (s.routingError) out.push(`  traffic_routing.json: ${p.red(s.routingError)}`);
  else if (!r) out.push(`  traffic_routing.json: ${p.dim('none')}`);
  else {
    out.push(
      `  traffic_routing.json: canary ${r.canaryPercent} %, champion ${r.championRelease ?? 'none'}, canary ${r.canaryRelease ?? 'none'}, ` +
        `written by ${r.deploymentId ?? '—'} at ${formatTime(r.updatedAt)}`,
    );
  }
  for (const slot of s.slots.filter((x) => x.state === 'broken')) out.push(`  ${p.red('✗')} ${slot.slot}/: ${slot.load.detail}`);
  return out;
}

function apiSection(report: ModelsReport, p: Paint): string[] {
  const a = report.api;
  const out = ['', p.bold(p.cyan(`Serving API — ${a.url}`)) + (a.reachable ? ` (status ${a.status ?? '?'}${a.token ? `; admin token from ${a.token}` : ''})` : '')];
  if (!a.reachable) return [...out, `  ${p.red('✗')} unreachable: ${a.error ?? 'no answer'}`];
  out.push(
    ...formatTable(
      ['SLOT', 'RELEASE', 'MEMBERS', 'LOADED AT'],
      (['champion', 'canary'] as const).map((slot) => {
        const served = a[slot];
        return [slot, served?.release ?? p.dim('none'), served ? served.members.map((m) => `${m.kind} v${m.version}`).join(', ') : '—', formatTime(served?.loadedAt ?? null)];
      }),
      { paint: p },
    ),
  );
  out.push(`  canary share ${a.canaryPercent ?? '?'} %${a.routing ? `; routing of ${formatTime(a.routing.updatedAt)}` : ''}`);
  if (a.adminError) out.push(`  ${p.yellow(a.adminError)}`);
  for (const r of a.rejected.slice(-3)) out.push(`  ${p.red('rejected')} ${r.slot} ${r.release ?? '—'} at ${formatTime(r.at)}: ${cut(r.reason, 160)}`);
  return out;
}

function summarySection(report: ModelsReport, p: Paint): string[] {
  const rows = locationSummary(report);
  return ['', p.bold(p.cyan('Location summary')), ...formatTable(['WHERE', 'PATH', 'CONTENT', 'SINCE'], rows.map((r) => [r.where, r.path, r.content, r.since === '—' ? r.since : formatTime(r.since)]), { paint: p })];
}

/** One line per check (`✓ …` / `✗ <reason>`), then a count; notes when pyfunc could not be tried. */
export function renderChecks(report: ModelsReport, checks: readonly CheckResult[], options: RenderOptions = {}): string {
  const p = painter(options.color ?? false);
  const lines = checks.map((c) => (c.ok ? `${p.green('✓')} ${c.message}` : `${p.red('✗')} ${c.message}`));
  const skipped = new Set(
    report.registry.flatMap((m) => m.versions.flatMap((v) => (v.inspection?.pyfunc.status === 'skipped' && !v.inspection.pyfunc.detail.startsWith('not requested') ? [v.inspection.pyfunc.detail] : []))),
  );
  for (const reason of skipped) lines.push(`${p.dim('–')} mlflow.pyfunc not tried: ${reason}`);
  const failed = checks.filter((c) => !c.ok).length;
  lines.push(failed === 0 ? p.green(`all ${checks.length} checks passed`) : p.red(`${failed} of ${checks.length} checks failed`));
  return lines.join('\n');
}

/** The whole report: MLflow tracking, registry, model store, API, location summary, and the failed checks. */
export function renderReport(report: ModelsReport, checks: readonly CheckResult[], options: RenderOptions = {}): string {
  const p = painter(options.color ?? false);
  const lines = [...mlflowSection(report, p), ...registrySection(report, p), ...storeSection(report, p), ...apiSection(report, p), ...summarySection(report, p)];
  const failed = checks.filter((c) => !c.ok);
  lines.push('');
  if (failed.length === 0) lines.push(p.green(`✓ no problems found (${checks.length} checks; npm run models -- --check also loads each version with mlflow.pyfunc)`));
  else lines.push(p.bold(p.red(`Problems (${failed.length}):`)), ...failed.map((c) => `${p.red('✗')} ${c.message}`));
  return lines.join('\n');
}
