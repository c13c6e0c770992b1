/**
 * `npm run bench:serve`: serving latency of the real API with real models under a steady load.
 *
 * 1. Trains the four models on synthetic data (XGBoost 200 rounds, random forest 100 trees of depth
 *    10, neural network 5 epochs, isolation forest 200 trees; 50,000 rows, 70/15/15 split).
 * 2. Times one-row `predictProba` of each member in-process (the model's share of a request).
 * 3. Serves them as the champion of an in-process `ServingModels` (ensemble weights 0.5/0.3/0.15/0.05,
 *    threshold chosen on the validation split) with `startApi` on a free port, logging at `info`
 *    to /dev/null as a production server would log (to its own sink).
 * 4. Spawns bench/serve-load.ts, a separate process, which runs an open loop per rate against
 *    `POST /api/v1/predict` and against `GET /health` of the same server (framework + loopback
 *    only, the reference): 3 s warm-up, then 15 s measured, per rate and target.
 * 5. Prints a table and writes bench-results/serve-<time>.json.
 *
 * Target: p99 <= 10 ms at 500 requests/s on 2 cores. Run it on a quiet machine (`uptime`): the
 * client, the server and anything else share the cores.
 *
 * Options: --rates 100,250,500  --seconds 15  --warmup 3  --rows 50000  --seed 42
 *          --models xgboost,random_forest,neural_network,isolation_forest  --targets predict,health
 *          --client http|fetch  --log-level info  --out FILE
 *          --tree-engine native|typescript: how the XGBoost and random-forest members predict while
 *            serving. `typescript` (default) is what the model store's loader gives the API: the
 *            TypeScript tree scorer. `native` keeps libxgboost through koffi (nthread = all cores).
 *            (`OMP_NUM_THREADS=1 npm run bench:serve` keeps native but single-threaded.)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { hashToken } from '../api/plugins/auth';
import { startApi } from '../api/server';
import { projectRoot } from '../lib/config';
import { stratifiedSplit } from '../lib/ml/data/split';
import { generateTransactions } from '../lib/ml/data/synthetic';
import { chooseThreshold, prAuc } from '../lib/ml/metrics';
import { trainModel } from '../lib/ml/models';
import { RandomForestModel } from '../lib/ml/random-forest';
import { MODEL_KINDS, type FraudModel, type ModelKind } from '../lib/ml/types';
import { treeScorerEngine } from '../lib/ml/xgboost/engines';
import { XGBoostModel } from '../lib/ml/xgboost/model';
import type { LoadedModelSet, ModelSetManifest, ServingModels } from '../lib/serving/contract';
import { LatencyHistogram, type LatencySummary } from '../lib/simulator/latency';
import type { LoadPhaseEvent, LoadPhaseResult } from './serve-load';

/** The benchmark's models: the sizes the brief fixes, the kinds' defaults otherwise. */
const PARAMS: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 200, maxDepth: 6, eta: 0.1, subsample: 0.8, colsampleBytree: 0.8 },
  random_forest: { nTrees: 100, maxDepth: 10 },
  neural_network: { epochs: 5, patience: 0 },
  isolation_forest: { nTrees: 200, maxSamples: 256 },
};
/** The serving default ensemble weights. */
const WEIGHTS: Record<ModelKind, number> = { xgboost: 0.5, random_forest: 0.3, neural_network: 0.15, isolation_forest: 0.05 };
const TARGET = { rate: 500, p99Ms: 10 };

/** The smallest LoadedModelSet over in-memory models (lib/serving/contract.ts). */
function inMemorySet(manifest: ModelSetManifest, models: ReadonlyMap<ModelKind, FraudModel>): LoadedModelSet {
  const weightSum = [...models.keys()].reduce((s, k) => s + (manifest.weights[k] ?? 0), 0);
  const predictMembers = (features: Float32Array, numRows: number) => {
    const out = new Map<ModelKind, Float32Array>();
    for (const [kind, model] of models) out.set(kind, model.predictProba(features, numRows));
    return out;
  };
  return {
    slot: 'champion',
    manifest,
    featureNames: [...(models.values().next().value as FraudModel).featureNames],
    models,
    loadedAt: new Date().toISOString(),
    predictMembers,
    predictEnsemble(features, numRows) {
      const sum = new Float64Array(numRows);
      for (const [kind, scores] of predictMembers(features, numRows)) {
        const w = (manifest.weights[kind] ?? 0) / weightSum;
        for (let i = 0; i < numRows; i++) sum[i]! += w * scores[i]!;
      }
      return Float32Array.from(sum);
    },
  };
}

/** Per-call time of one-row predictions, µs, over `reps` different rows after a warm-up. */
function timeOneRow(predict: (row: Float32Array) => unknown, rows: Float32Array, numFeatures: number, reps: number): LatencySummary {
  const numRows = rows.length / numFeatures;
  for (let i = 0; i < 100; i++) predict(rows.subarray((i % numRows) * numFeatures, (i % numRows + 1) * numFeatures));
  const h = new LatencyHistogram();
  for (let i = 0; i < reps; i++) {
    const row = rows.subarray((i % numRows) * numFeatures, (i % numRows + 1) * numFeatures);
    const t0 = performance.now();
    predict(row);
    h.record((performance.now() - t0) * 1000); // recorded in µs (the histogram is unit-agnostic)
  }
  return h.summary();
}

interface PhaseRow extends Omit<LoadPhaseResult, 'event'> {
  /** Server process CPU during the measured phase, ms per request sent. */
  serverCpuMsPerRequest: number;
  /** Server CPU as a share of one core during the phase. */
  serverCpuCores: number;
  /** Server event-loop delay during the phase (ms): time requests waited behind other work. */
  serverLoopDelay: { p99Ms: number; maxMs: number };
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

function printTable(rows: PhaseRow[]): void {
  const header = ['rate/s', 'target', 'achieved/s', 'ok', 'errors', 'dropped', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'srv CPU ms/req', 'srv CPU cores', 'srv loop p99 ms', 'client lag p99 ms'];
  const lines = rows.map((r) => [
    String(r.rate),
    r.target,
    f(r.achievedRps, 1),
    String(r.ok),
    String(r.errors),
    String(r.dropped),
    f(r.latency.p50Ms),
    f(r.latency.p95Ms),
    f(r.latency.p99Ms),
    f(r.latency.maxMs),
    f(r.serverCpuMsPerRequest, 3),
    f(r.serverCpuCores),
    f(r.serverLoopDelay.p99Ms),
    f(r.lag.p99Ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '100,250,500' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      rows: { type: 'string', default: '50000' },
      seed: { type: 'string', default: '42' },
      models: { type: 'string', default: MODEL_KINDS.join(',') },
      targets: { type: 'string', default: 'predict,health' },
      client: { type: 'string', default: 'http' },
      'log-level': { type: 'string', default: 'info' },
      'tree-engine': { type: 'string', default: 'typescript' },
      out: { type: 'string' },
    },
  });
  const seed = Number(values.seed);
  const rows = Number(values.rows);
  const kinds = values.models.split(',') as ModelKind[];
  for (const k of kinds) if (!MODEL_KINDS.includes(k)) throw new Error(`unknown model kind ${k}; expected some of ${MODEL_KINDS.join(', ')}`);
  const startedAt = new Date();
  const loadBefore = loadavg();
  console.log(`[bench:serve] ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}`);

  // 1. Train.
  const dataset = generateTransactions({ rows, seed });
  const split = stratifiedSplit(dataset, { seed });
  const models = new Map<ModelKind, FraudModel>();
  const training: Record<string, { seconds: number; backend: string; valPrAuc: number }> = {};
  for (const kind of kinds) {
    const t0 = performance.now();
    const { model, backend } = await trainModel(kind, split, PARAMS[kind], { seed });
    const seconds = (performance.now() - t0) / 1000;
    const valPrAuc = prAuc(split.validation.labels, model.predictProba(split.validation.features, split.validation.numRows));
    training[kind] = { seconds, backend, valPrAuc };
    models.set(kind, model);
    console.log(`[bench:serve] trained ${kind} in ${seconds.toFixed(1)} s (${backend}), validation PR-AUC ${valPrAuc.toFixed(3)}`);
  }

  if (values['tree-engine'] === 'typescript') {
    const xgb = models.get('xgboost');
    if (xgb) models.set('xgboost', XGBoostModel.load(xgb.toJSON() as Parameters<typeof XGBoostModel.load>[0], { engine: treeScorerEngine }));
    const rf = models.get('random_forest');
    if (rf) models.set('random_forest', RandomForestModel.load(rf.toJSON() as Parameters<typeof RandomForestModel.load>[0], { engine: treeScorerEngine }));
  } else if (values['tree-engine'] !== 'native') {
    throw new Error(`--tree-engine must be native or typescript, got ${values['tree-engine']}`);
  }
  const servingEngines = Object.fromEntries(
    [...models].map(([kind, model]) => [kind, (model as Partial<{ engineName: string }>).engineName ?? training[kind]?.backend ?? '?']),
  );
  console.log(`[bench:serve] serving engines: ${Object.entries(servingEngines).map(([k, e]) => `${k} ${e}`).join(', ')}; OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? '(unset)'}`);

  // 2. The models' own cost for one row, called back to back (hot caches, OpenMP threads still spinning).
  const nf = dataset.numFeatures;
  const probe = split.test.features.subarray(0, Math.min(split.test.numRows, 2000) * nf);
  const modelCostUs: Record<string, LatencySummary> = {};
  for (const [kind, model] of models) modelCostUs[kind] = timeOneRow((row) => model.predictProba(row, 1), probe, nf, 2000);

  // 3. Serve.
  const weights = Object.fromEntries(kinds.map((k) => [k, WEIGHTS[k]]));
  const draft: ModelSetManifest = {
    schemaVersion: 1,
    id: 'bench-serve',
    createdAt: startedAt.toISOString(),
    members: kinds.map((kind) => ({ kind, registeredModel: `bench_${kind}`, version: '1', sha256: '0'.repeat(64) })),
    weights,
    threshold: 0.5,
  };
  const valScores = inMemorySet(draft, models).predictEnsemble(split.validation.features, split.validation.numRows);
  const threshold = Math.min(0.999, chooseThreshold(split.validation.labels, valScores));
  const set = inMemorySet({ ...draft, threshold }, models);
  modelCostUs.all_members = timeOneRow((row) => set.predictMembers(row, 1), probe, nf, 2000);
  const valEnsemblePrAuc = prAuc(split.validation.labels, valScores);
  console.log(`[bench:serve] ensemble validation PR-AUC ${valEnsemblePrAuc.toFixed(3)}, threshold ${threshold.toFixed(4)}`);
  console.log(
    `[bench:serve] one-row predictProba, µs p50/p99: ${Object.entries(modelCostUs)
      .map(([k, s]) => `${k} ${f(s.p50Ms, 0)}/${f(s.p99Ms, 0)}`)
      .join(', ')}`,
  );

  const servingModels: ServingModels = { champion: () => set, canary: () => undefined, canaryPercent: () => 0, routing: () => undefined, rejected: () => [] };
  const token = randomBytes(24).toString('base64url');
  const logger = pino({ level: values['log-level'] }, pino.destination('/dev/null'));
  const api = await startApi({
    models: servingModels,
    explain: () => Promise.reject(new Error('no explainer in the serving benchmark')),
    logger,
    auth: { tokens: [{ role: 'admin', sha256: hashToken(token) }] },
    host: '127.0.0.1',
    port: 0,
    env: {},
  });

  const results: PhaseRow[] = [];
  let loadError: string | undefined;
  try {
    // A sanity check that the route scores before measuring it.
    const check = await fetch(`${api.url}/api/v1/predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ transaction_id: 'bench-check', features: Array.from(probe.subarray(0, nf)) }),
    });
    const body = (await check.json()) as { fraud_score?: number; served_by?: string };
    if (check.status !== 200 || body.served_by !== 'champion') throw new Error(`predict sanity check failed: ${check.status} ${JSON.stringify(body)}`);
    console.log(`[bench:serve] serving at ${api.url}; load generator in a separate process…`);

    // 4. Load, from another process; the server's CPU and event-loop delay are sampled per measured phase.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    let cpuAtStart = process.cpuUsage();
    let wallAtStart = performance.now();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(projectRoot, 'bench/serve-load.ts'),
        '--url',
        api.url,
        '--rates',
        values.rates,
        '--seconds',
        values.seconds,
        '--warmup',
        values.warmup,
        '--targets',
        values.targets,
        '--client',
        values.client,
      ],
      // The token travels in the environment, not on a command line other users can read.
      { cwd: projectRoot, env: { ...process.env, BENCH_API_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as LoadPhaseEvent | LoadPhaseResult;
      if (event.event === 'phase') {
        console.log(`[bench:serve] ${event.target} at ${event.rate}/s: ${event.stage}`);
        if (event.stage === 'measure') {
          cpuAtStart = process.cpuUsage();
          wallAtStart = performance.now();
          loop.reset();
        }
        continue;
      }
      const { event: _event, ...result } = event;
      const cpu = process.cpuUsage(cpuAtStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      results.push({
        ...result,
        serverCpuMsPerRequest: event.sent > 0 ? cpuMs / event.sent : 0,
        serverCpuCores: cpuMs / (performance.now() - wallAtStart),
        serverLoopDelay: { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 },
      });
    }
    loop.disable();
    const code = await exited;
    if (code !== 0) loadError = `the load generator exited with ${code}`;
  } finally {
    await api.close();
  }

  // 5. Report.
  console.log('');
  printTable(results);
  const loadAfter = loadavg();
  console.log('');
  const rates = [...new Set(results.map((r) => r.rate))];
  for (const rate of rates) {
    const p = results.find((r) => r.rate === rate && r.target === 'predict');
    const h = results.find((r) => r.rate === rate && r.target === 'health');
    if (p && h) {
      console.log(
        `at ${rate}/s: predict − health (the model set's share): p50 +${f(p.latency.p50Ms - h.latency.p50Ms)} ms, p99 +${f(p.latency.p99Ms - h.latency.p99Ms)} ms; ` +
          `server CPU ${f(p.serverCpuMsPerRequest, 3)} vs ${f(h.serverCpuMsPerRequest, 3)} ms/request`,
      );
    }
  }
  const atTarget = results.find((r) => r.rate === TARGET.rate && r.target === 'predict');
  const verdict = atTarget
    ? `${atTarget.latency.p99Ms <= TARGET.p99Ms && atTarget.errors === 0 ? 'MET' : 'NOT MET'} (p99 ${f(atTarget.latency.p99Ms)} ms, ${atTarget.errors} errors)`
    : `not measured (no predict phase at ${TARGET.rate}/s)`;
  console.log(`target p99 <= ${TARGET.p99Ms} ms at ${TARGET.rate} req/s on 2 cores: ${verdict}`);
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (other processes share these cores)`);

  const out = values.out ?? join(projectRoot, 'bench-results', `serve-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
        options: { ...values, params: PARAMS, weights },
        training: { rows, seed, models: training, ensembleValidationPrAuc: valEnsemblePrAuc, threshold },
        serving: { engines: servingEngines, ompNumThreads: process.env.OMP_NUM_THREADS ?? null },
        modelCostOneRowUs: modelCostUs,
        results,
        target: { ...TARGET, verdict },
        error: loadError,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`[bench:serve] wrote ${out}`);
  if (loadError) throw new Error(loadError);
}

main().catch((err: unknown) => {
  console.error(`[bench:serve] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
