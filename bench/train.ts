/**
 * `npm run bench:train`: our four trainers against the Python reference (scikit-learn, xgboost,
 * Keras), side by side on one data file, one split and the same hyperparameters. Each model of
 * each side trains in a fresh process, so its seconds and peak memory are its own.
 *
 * Options: --rows N (default 284,807), --seed S, --models a,b, --csv FILE (instead of synthetic data),
 *          --threads N (Python side; default all cores), --out FILE (JSON; default bench-results/train-<time>.json)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig, projectRoot } from '../lib/config';
import { loadCsv, writeCsv } from '../lib/ml/data/csv';
import { stratifiedSplit } from '../lib/ml/data/split';
import { generateTransactions } from '../lib/ml/data/synthetic';
import { MODEL_KINDS, type ModelKind } from '../lib/ml/types';

/** The hyperparameters both sides use, in our option names (bench/reference_train.py maps them). */
export const BENCH_PARAMS: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 200, maxDepth: 6, eta: 0.1, subsample: 0.8, colsampleBytree: 0.8, minChildWeight: 1, gamma: 0, lambda: 1, alpha: 0, maxBin: 256, seed: 42 },
  random_forest: { nTrees: 100, maxDepth: 10, seed: 42 },
  // Fixed epochs on both sides (no early stopping) so both do the same amount of work.
  neural_network: { hiddenLayers: [64, 32], dropout: 0.1, learningRate: 0.001, batchSize: 512, epochs: 10, patience: 0, classWeight: 'none', log1pFeatures: ['Amount'], seed: 42 },
  isolation_forest: { nTrees: 200, maxSamples: 256, seed: 42 },
};

interface SideResult {
  model: string;
  seconds: number;
  peakRssBytes: number;
  prAuc: number;
  backend?: string;
  error?: string;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): SideResult | { error: string } {
  const r = spawnSync(cmd, args, { cwd: projectRoot, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) return { error: `${cmd} exited with ${r.status}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` };
  return JSON.parse(line) as SideResult;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  // Both sides run libgomp (libxgboost) with the same wait policy: the one our trainers use.
  process.env.OMP_WAIT_POLICY ??= 'passive';
  const rows = Number(option('rows') ?? 284_807);
  const seed = Number(option('seed') ?? 42);
  const threads = Number(option('threads') ?? cpus().length);
  const models = (option('models')?.split(',') ?? [...MODEL_KINDS]) as ModelKind[];
  const cfg = loadConfig();

  console.log('[bench] installing the Python reference (xgboost, tensorflow-cpu) into .venv if missing…');
  const boot = spawnSync(process.execPath, [join(projectRoot, 'scripts/bootstrap.mjs'), '--with', 'bench'], { stdio: 'inherit' });
  if (boot.status !== 0) process.exit(1);

  const csv = option('csv');
  const dataset = csv ? await loadCsv(csv) : generateTransactions({ rows, seed });
  const split = stratifiedSplit(dataset, { seed });
  const dir = mkdtempSync(join(tmpdir(), 'bench-train-'));
  try {
    await Promise.all((['train', 'validation', 'test'] as const).map((p) => writeCsv(split[p], join(dir, `${p}.csv`))));
    console.log(`[bench] ${csv ?? `synthetic, seed ${seed}`}: ${dataset.numRows} rows × ${dataset.numFeatures} features, split 70/15/15 (train ${split.train.numRows})`);

    const results: { model: string; ours: SideResult | { error: string }; reference: SideResult | { error: string } }[] = [];
    for (const model of models) {
      const params = JSON.stringify(BENCH_PARAMS[model]);
      const oursArgs = ['--import', 'tsx', join(projectRoot, 'bench/train-one.ts'), '--model', model, '--data', dir, '--params', params];
      console.log(`[bench] ${model}: ours…`);
      const ours = runJson(process.execPath, oursArgs);
      console.log(`[bench] ${model}: reference…`);
      const reference = runJson(join(cfg.venvDir, 'bin', 'python'), [join(projectRoot, 'bench/reference_train.py'), '--model', model, '--data', dir, '--params', params, '--threads', String(threads)], {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '3',
      });
      results.push({ model, ours, reference });
      if (model === 'xgboost' || model === 'random_forest') {
        // The portable engine too, as a user without libxgboost gets it (not counted in the total).
        console.log(`[bench] ${model}: ours on the wasm engine…`);
        const wasm = runJson(process.execPath, oursArgs, { ...process.env, XGBOOST_LIBRARY: join(dir, 'no-libxgboost') });
        results.push({ model: `${model} (wasm)`, ours: wasm, reference });
      }
    }

    const ok = (r: SideResult | { error: string }): r is SideResult => !('error' in r && r.error);
    console.log(`\n${'model'.padEnd(24)}${'ours s'.padStart(9)}${'ref s'.padStart(9)}${'ratio'.padStart(8)}${'ours mem'.padStart(10)}${'ref mem'.padStart(10)}${'ours PR-AUC'.padStart(13)}${'ref PR-AUC'.padStart(12)}${'diff'.padStart(9)}  backend`);
    let oursTotal = 0;
    let refTotal = 0;
    for (const { model, ours, reference } of results) {
      if (!ok(ours) || !ok(reference)) {
        console.log(`${model.padEnd(24)} failed: ${!ok(ours) ? `ours: ${ours.error}` : ''} ${!ok(reference) ? `reference: ${reference.error}` : ''}`);
        continue;
      }
      if (!model.endsWith('(wasm)')) {
        oursTotal += ours.seconds;
        refTotal += reference.seconds;
      }
      console.log(
        `${model.padEnd(24)}${ours.seconds.toFixed(1).padStart(9)}${reference.seconds.toFixed(1).padStart(9)}${(ours.seconds / reference.seconds).toFixed(2).padStart(7)}×${mb(ours.peakRssBytes).padStart(10)}${mb(reference.peakRssBytes).padStart(10)}${ours.prAuc.toFixed(4).padStart(13)}${reference.prAuc.toFixed(4).padStart(12)}${(ours.prAuc - reference.prAuc).toFixed(4).padStart(9)}  ${ours.backend ?? ''}`,
      );
    }
    console.log(`${'total (default engines)'.padEnd(24)}${oursTotal.toFixed(1).padStart(9)}${refTotal.toFixed(1).padStart(9)}${(oursTotal / refTotal).toFixed(2).padStart(7)}×`);

    const out = option('out') ?? join(projectRoot, 'bench-results', `train-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ rows: dataset.numRows, seed, threads, params: BENCH_PARAMS, results, totals: { ours: oursTotal, reference: refTotal, ratio: oursTotal / refTotal } }, null, 2));
    console.log(`\n[bench] written ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
