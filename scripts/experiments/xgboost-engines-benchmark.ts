/**
 * The XGBoost and random-forest models on both engines (native libxgboost, wasm) and on Python's
 * `xgboost` with the same parameters and thread count: training seconds and test PR-AUC. A
 * measurement, not a test: run it alone, it takes a few minutes of both cores.
 *
 *   nice -n 10 npx tsx scripts/experiments/xgboost-engines-benchmark.ts
 *   flags: --rows N (default 284807, the generator's default), --engines native,wasm,python,
 *          --models xgboost,random_forest
 *
 * Data: `generateTransactions({ rows })`, `stratifiedSplit` (70/15/15, seed 42); models train on the
 * train part (no validation: PR-AUC per round would be extra work Python does not do) and are scored
 * on the test part with `averagePrecision`. XGBoost: the model defaults (200 rounds, depth 6, hist,
 * eta 0.1, subsample/colsample 0.8, scale_pos_weight auto). Random forest: 100 trees, depth 10
 * (per-split features on native/python, per-tree on wasm). Prints one JSON line per run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { averagePrecision } from '../../lib/ml/metrics';
import { featureShare, RandomForestModel, toForestParams, withDefaults as forestDefaults } from '../../lib/ml/random-forest';
import { engineSelection, toBoosterParams, wasmEngine, withDefaults, XGBoostModel, type BoosterParams, type XGBoostEngine } from '../../lib/ml/xgboost';
import { resolveScalePosWeight } from '../../lib/ml/xgboost/booster';

const PYTHON = `
import json, sys, time
import numpy as np, xgboost as xgb
from sklearn.metrics import average_precision_score
d, params, rounds = json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
base = sys.argv[1]
def load(name, n):
    x = np.fromfile(f"{base}/{name}.f32", dtype=np.float32).reshape(n, d)
    y = np.fromfile(f"{base}/{name}.u8", dtype=np.uint8).astype(np.float32)
    return x, y
x_train, y_train = load("train", int(sys.argv[5]))
x_test, y_test = load("test", int(sys.argv[6]))
start = time.perf_counter()
dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, nthread=params["nthread"])
booster = xgb.train(params, dtrain, num_boost_round=rounds)
seconds = time.perf_counter() - start
scores = booster.predict(xgb.DMatrix(x_test, missing=np.nan))
print(json.dumps({"trainSeconds": round(seconds, 2), "testPrAuc": float(average_precision_score(y_test, scores)), "xgboost": xgb.__version__}))
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '284807' },
      engines: { type: 'string', default: 'native,wasm,python' },
      models: { type: 'string', default: 'xgboost,random_forest' },
    },
  });
  const selection = engineSelection();
  console.log(JSON.stringify({ selection: selection.reason, cores: availableParallelism() }));
  const data = generateTransactions({ rows: Number(values.rows) });
  const { train, test } = stratifiedSplit(data);
  const engines: Record<string, XGBoostEngine> = { native: selection.engine, wasm: wasmEngine };
  const scalePosWeight = resolveScalePosWeight('auto', train.labels);
  const nthread = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'xgb-bench-'));
  try {
    writeFileSync(join(dir, 'train.f32'), train.features);
    writeFileSync(join(dir, 'train.u8'), train.labels);
    writeFileSync(join(dir, 'test.f32'), test.features);
    writeFileSync(join(dir, 'test.u8'), test.labels);
    for (const kind of values.models.split(',')) {
      for (const name of values.engines.split(',')) {
        if (name === 'python') {
          // Exactly the parameters the TypeScript models hand to the native engine.
          let params: BoosterParams;
          let rounds: number;
          if (kind === 'xgboost') {
            params = toBoosterParams(withDefaults({ seed: 42 }), scalePosWeight);
            rounds = 200;
          } else {
            const o = forestDefaults({});
            params = toForestParams(o, { chunk: 0, size: o.nTrees, scalePosWeight, share: featureShare(o.colsampleBytree, train.numFeatures), featureSampling: 'node' });
            rounds = 1;
          }
          const { silent: _silent, ...rest } = params;
          const python = resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
          const out = execFileSync(python, ['-c', PYTHON, dir, String(train.numFeatures), JSON.stringify({ ...rest, verbosity: 0, nthread }), String(rounds), String(train.numRows), String(test.numRows)], {
            encoding: 'utf8',
          });
          console.log(JSON.stringify({ model: kind, engine: 'python', ...JSON.parse(out.trim()), params: { ...rest, nthread } }));
          continue;
        }
        const engine = engines[name];
        if (!engine || (name === 'native' && engine === wasmEngine)) {
          console.log(JSON.stringify({ model: kind, engine: name, skipped: 'not available' }));
          continue;
        }
        const started = performance.now();
        const model = kind === 'xgboost' ? await XGBoostModel.train(train, { engine }) : await RandomForestModel.train(train, { engine });
        const trainSeconds = (performance.now() - started) / 1000;
        const scores = model.predictProba(test.features, test.numRows);
        model.dispose();
        console.log(
          JSON.stringify({
            model: kind,
            engine: engine.name,
            trainSeconds: Number(trainSeconds.toFixed(2)),
            testPrAuc: averagePrecision(test.labels, scores),
            rows: { train: train.numRows, test: test.numRows },
            rssMB: Math.round(process.memoryUsage().rss / 1e6),
          }),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
