import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { expectedMargin, treeShap } from '../../lib/explain';
import { createRandom, type SeededRandom } from '../../lib/ml/data/random';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { RandomForestModel } from '../../lib/ml/random-forest';
import type { Dataset } from '../../lib/ml/types';
import { engineSelection, NATIVE_MODEL_FORMAT, predictMargins, wasmEngine, XGBoostModel, type Tree, type TreeEnsemble, type XGBoostEngine } from '../../lib/ml/xgboost';

// ---------------------------------------------------------------------------------------------
// Reference: exact Shapley values over all 2^M coalitions of the path-dependent game.

/** E[tree(x) | x_S]: follow the split when its feature is in S, else average the children by cover. */
function conditionalExpectation(tree: Tree, x: ArrayLike<number>, inS: (j: number) => boolean, node = 0): number {
  if (tree.left[node] === -1) return tree.leafValue[node]!;
  const f = tree.feature[node]!;
  const left = tree.left[node]!;
  const right = tree.right[node]!;
  if (inS(f)) {
    const v = x[f]!;
    const goesLeft = Number.isNaN(v) ? tree.defaultLeft[node] === 1 : v < tree.threshold[node]!;
    return conditionalExpectation(tree, x, inS, goesLeft ? left : right);
  }
  const c = tree.cover[node]!;
  return (tree.cover[left]! / c) * conditionalExpectation(tree, x, inS, left) + (tree.cover[right]! / c) * conditionalExpectation(tree, x, inS, right);
}

function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

/** Brute-force Shapley values (and v(∅)) of one row; M = ensemble.numFeatures, at most ~10. */
function bruteForceShapley(ensemble: TreeEnsemble, x: ArrayLike<number>): { phi: number[]; bias: number } {
  const m = ensemble.numFeatures;
  const value = new Float64Array(1 << m);
  for (let s = 0; s < 1 << m; s++) {
    let v = ensemble.baseMargin;
    for (const tree of ensemble.trees) v += conditionalExpectation(tree, x, (j) => ((s >> j) & 1) === 1);
    value[s] = v;
  }
  const phi = new Array<number>(m).fill(0);
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < 1 << m; s++) {
      if ((s >> i) & 1) continue;
      let size = 0;
      for (let j = 0; j < m; j++) size += (s >> j) & 1;
      const weight = (factorial(size) * factorial(m - size - 1)) / factorial(m);
      phi[i]! += weight * (value[s | (1 << i)]! - value[s]!);
    }
  }
  return { phi, bias: value[0]! };
}

// ---------------------------------------------------------------------------------------------
// Hand-made and random trees.

type Spec = number | { f: number; t: number; cover: [number, number]; dl?: boolean; l: Spec; r: Spec };

/** A tree from a nested spec: a number is a leaf; `cover` gives the two children's covers. */
function tree(spec: Spec, rootCover = 100): Tree {
  const nodes: { feature: number; threshold: number; left: number; right: number; defaultLeft: number; leaf: number; cover: number }[] = [];
  const walk = (s: Spec, cover: number): number => {
    const k = nodes.length;
    if (typeof s === 'number') {
      nodes.push({ feature: -1, threshold: 0, left: -1, right: -1, defaultLeft: 0, leaf: s, cover });
      return k;
    }
    const node = { feature: s.f, threshold: s.t, left: -1, right: -1, defaultLeft: s.dl ? 1 : 0, leaf: 0, cover };
    nodes.push(node);
    node.left = walk(s.l, s.cover[0]);
    node.right = walk(s.r, s.cover[1]);
    return k;
  };
  walk(spec, rootCover);
  return {
    feature: Int32Array.from(nodes, (n) => n.feature),
    threshold: Float32Array.from(nodes, (n) => n.threshold),
    left: Int32Array.from(nodes, (n) => n.left),
    right: Int32Array.from(nodes, (n) => n.right),
    defaultLeft: Uint8Array.from(nodes, (n) => n.defaultLeft),
    leafValue: Float32Array.from(nodes, (n) => n.leaf),
    gain: new Float32Array(nodes.length),
    cover: Float32Array.from(nodes, (n) => n.cover),
  };
}

/** A random tree: features drawn with repeats (so a path often splits twice on one feature), covers split at random. */
function randomTree(rng: SeededRandom, numFeatures: number, maxDepth: number): Tree {
  const grow = (depth: number, cover: number): Spec => {
    if (depth === maxDepth || (depth > 0 && rng.next() < 0.25) || cover < 4) return Math.round((rng.next() * 2 - 1) * 1000) / 1000;
    const leftCover = Math.min(cover - 1, Math.max(1, Math.round(cover * (0.1 + 0.8 * rng.next()))));
    return {
      f: rng.int(numFeatures),
      t: Math.round(rng.normal() * 100) / 100,
      dl: rng.next() < 0.5,
      cover: [leftCover, cover - leftCover],
      l: grow(depth + 1, leftCover),
      r: grow(depth + 1, cover - leftCover),
    };
  };
  return tree(grow(0, 1000), 1000);
}

function randomRows(rng: SeededRandom, numRows: number, numFeatures: number, missingShare: number): Float32Array {
  return Float32Array.from({ length: numRows * numFeatures }, () => (rng.next() < missingShare ? NaN : rng.normal()));
}

function expectMatchesBruteForce(ensemble: TreeEnsemble, rows: Float32Array, numRows: number, digits = 6): void {
  const d = ensemble.numFeatures;
  const shap = treeShap(ensemble, rows, numRows);
  for (let i = 0; i < numRows; i++) {
    const reference = bruteForceShapley(ensemble, rows.subarray(i * d, (i + 1) * d));
    expect(shap.bias).toBeCloseTo(reference.bias, digits);
    for (let j = 0; j < d; j++) expect(shap.contributions[i * d + j]).toBeCloseTo(reference.phi[j]!, digits);
  }
}

function expectAdditive(ensemble: TreeEnsemble, rows: Float32Array, numRows: number, margins: Float32Array, tolerance: number): void {
  const d = ensemble.numFeatures;
  const shap = treeShap(ensemble, rows, numRows);
  let worst = 0;
  for (let i = 0; i < numRows; i++) {
    let sum = shap.bias;
    for (let j = 0; j < d; j++) sum += shap.contributions[i * d + j]!;
    worst = Math.max(worst, Math.abs(sum - margins[i]!));
  }
  expect(worst).toBeLessThan(tolerance);
}

describe('treeShap on hand-made trees', () => {
  it('splits a stump entirely onto its feature: φ = leaf − cover-weighted mean', () => {
    const stump = tree({ f: 1, t: 0.5, cover: [30, 70], l: -1, r: 2 });
    const ensemble: TreeEnsemble = { objective: 'binary:logistic', baseMargin: 0.25, numFeatures: 3, trees: [stump] };
    const shap = treeShap(ensemble, Float32Array.of(9, 0, 9, 9, 1, 9), 2);
    const mean = 0.3 * -1 + 0.7 * 2;
    expect(shap.bias).toBeCloseTo(0.25 + mean, 12);
    expect(Array.from(shap.contributions)).toEqual([0, expect.closeTo(-1 - mean, 12), 0, 0, expect.closeTo(2 - mean, 12), 0]);
  });

  it('shares an AND of two features equally when the covers are symmetric', () => {
    // f(x) = 1 when x0 ≥ 0 and x1 ≥ 0, covers 50/50 everywhere: v(∅)=1/4, v({0})=v({1})=1/2, v({0,1})=1.
    const and = tree({ f: 0, t: 0, cover: [50, 50], l: 0, r: { f: 1, t: 0, cover: [25, 25], l: 0, r: 1 } });
    const shap = treeShap({ objective: 'binary:logistic', baseMargin: 0, numFeatures: 2, trees: [and] }, Float32Array.of(1, 1), 1);
    expect(shap.bias).toBeCloseTo(0.25, 12);
    expect(shap.contributions[0]).toBeCloseTo(0.375, 12);
    expect(shap.contributions[1]).toBeCloseTo(0.375, 12);
  });

  it('matches brute force on a path that splits on the same feature twice, with unequal covers', () => {
    const t = tree({
      f: 0,
      t: 0,
      cover: [40, 60],
      l: { f: 1, t: 1, cover: [10, 30], l: { f: 0, t: -1, cover: [4, 6], l: 3, r: -2 }, r: 0.5 },
      r: { f: 0, t: 2, cover: [45, 15], l: { f: 2, t: 0, cover: [20, 25], l: -1, r: { f: 1, t: 0, cover: [5, 20], l: 4, r: -3 } }, r: 1.5 },
    });
    const ensemble: TreeEnsemble = { objective: 'binary:logistic', baseMargin: -0.5, numFeatures: 3, trees: [t] };
    const rows = Float32Array.of(-2, 0, 0, -0.5, 2, 1, 1, 0.5, 1, 1, -1, -1, 3, 3, 3, 0, 1, 0);
    expectMatchesBruteForce(ensemble, rows, 6, 12);
  });

  it('sends a missing value to the default side, like prediction does', () => {
    const t = tree({ f: 0, t: 0, dl: true, cover: [20, 80], l: { f: 1, t: 0, cover: [10, 10], l: 1, r: 2 }, r: { f: 1, t: 0, dl: false, cover: [60, 20], l: -1, r: 3 } });
    const ensemble: TreeEnsemble = { objective: 'binary:logistic', baseMargin: 0, numFeatures: 2, trees: [t] };
    const rows = Float32Array.of(NaN, 5, NaN, NaN, 1, NaN, -1, -1);
    expectMatchesBruteForce(ensemble, rows, 4, 12);
    expectAdditive(ensemble, rows, 4, predictMargins(ensemble, rows, 4), 1e-6);
  });

  it('gives a single-leaf tree no contribution, only bias', () => {
    const ensemble: TreeEnsemble = { objective: 'binary:logistic', baseMargin: 0.1, numFeatures: 2, trees: [tree(0.75)] };
    const shap = treeShap(ensemble, Float32Array.of(1, 2), 1);
    expect(shap.bias).toBeCloseTo(0.85, 6);
    expect(Array.from(shap.contributions)).toEqual([0, 0]);
  });

  it('returns an empty result for no rows and rejects a wrong row width', () => {
    const ensemble: TreeEnsemble = { objective: 'binary:logistic', baseMargin: 0, numFeatures: 2, trees: [tree(1)] };
    expect(treeShap(ensemble, new Float32Array(0), 0).contributions).toHaveLength(0);
    expect(() => treeShap(ensemble, new Float32Array(3), 1)).toThrow(RangeError);
  });
});

describe('treeShap matches brute-force Shapley values', () => {
  it.each([
    [2, 1, 3],
    [4, 3, 4],
    [5, 5, 5],
    [6, 8, 6],
  ])('on random ensembles of %i features, %i trees, depth ≤ %i (repeated features, missing values)', (numFeatures, numTrees, maxDepth) => {
    const rng = createRandom(numFeatures * 100 + numTrees);
    for (let trial = 0; trial < 5; trial++) {
      const ensemble: TreeEnsemble = {
        objective: 'binary:logistic',
        baseMargin: rng.normal(),
        numFeatures,
        trees: Array.from({ length: numTrees }, () => randomTree(rng, numFeatures, maxDepth)),
      };
      const rows = randomRows(rng, 6, numFeatures, 0.15);
      expectMatchesBruteForce(ensemble, rows, 6);
      expectAdditive(ensemble, rows, 6, predictMargins(ensemble, rows, 6), 1e-5);
    }
  });

  it('on a small trained XGBoost model of 6 features', async () => {
    const data = pickColumns(generateTransactions({ rows: 3000, seed: 3, fraudRate: 0.05 }), ['V4', 'V10', 'V12', 'V14', 'V17', 'Amount']);
    const model = await XGBoostModel.train(data, { nRounds: 15, maxDepth: 4 });
    const ensemble = model.trees();
    expect(ensemble.numFeatures).toBe(6);
    expectMatchesBruteForce(ensemble, data.features.subarray(0, 20 * 6), 20);
  });

  it('on a small trained random forest of 5 features', async () => {
    const data = pickColumns(generateTransactions({ rows: 3000, seed: 4, fraudRate: 0.05 }), ['V3', 'V11', 'V14', 'V16', 'Amount']);
    const forest = await RandomForestModel.train(data, { nTrees: 8, maxDepth: 5 });
    expectMatchesBruteForce(forest.trees(), data.features.subarray(0, 20 * 5), 20);
  });
});

/** The dataset restricted to the named columns. */
function pickColumns(data: Dataset, names: string[]): Dataset {
  const columns = names.map((name) => data.featureNames.indexOf(name));
  const d = data.numFeatures;
  const features = new Float32Array(data.numRows * names.length);
  for (let i = 0; i < data.numRows; i++) columns.forEach((c, k) => (features[i * names.length + k] = data.features[i * d + c]!));
  return { ...data, features, numFeatures: names.length, featureNames: names };
}

// ---------------------------------------------------------------------------------------------
// Trained models: additivity against the engine, and XGBoost's own pred_contribs.

const data = generateTransactions({ rows: 4000, seed: 17, fraudRate: 0.03 });
const ROWS = 300;
const sample = data.features.slice(0, ROWS * data.numFeatures);
// A few missing values, so the default directions are exercised too.
for (let k = 7; k < sample.length; k += 97) sample[k] = NaN;

const selected = engineSelection().engine;
const ENGINES: [string, XGBoostEngine][] = [['wasm', wasmEngine], ...(selected === wasmEngine ? [] : [['native', selected] as [string, XGBoostEngine]])];

// XGBoost's own TreeSHAP (`pred_contribs`), through the venv's Python xgboost on the native engine's model files.
const PYTHON = path.join(process.env.VENV_DIR ?? path.resolve(__dirname, '../..', '.venv'), 'bin', 'python');
const hasPythonXGBoost = selected.modelFormat === NATIVE_MODEL_FORMAT && existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import xgboost'], { stdio: 'ignore' }).status === 0;
const PRED_CONTRIBS = `
import sys, numpy as np, xgboost as xgb
rows, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = xgb.DMatrix(np.fromfile(rows, dtype='<f4').reshape(n, d), missing=np.nan)
for model in sys.argv[4:]:
    booster = xgb.Booster()
    booster.load_model(model)
    booster.predict(x, pred_contribs=True).astype('<f8').tofile(model + '.contribs')
`;

/** XGBoost's `pred_contribs` (numRows × (numFeatures + 1), bias last) of each model, in one Python run. */
function predContribs(models: Uint8Array[], rows: Float32Array, numRows: number, numFeatures: number): Float64Array[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'explain-'));
  try {
    const rowsFile = path.join(dir, 'rows.f32');
    writeFileSync(rowsFile, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    const modelFiles = models.map((bytes, k) => {
      const file = path.join(dir, `model${k}.json`);
      writeFileSync(file, bytes);
      return file;
    });
    const run = spawnSync(PYTHON, ['-c', PRED_CONTRIBS, rowsFile, String(numRows), String(numFeatures), ...modelFiles], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`pred_contribs failed: ${run.stderr}`);
    return modelFiles.map((file) => {
      const bytes = readFileSync(`${file}.contribs`);
      return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(ENGINES)('treeShap on trained models (%s engine)', (_name, engine) => {
  let boosted: XGBoostModel;
  let forest: RandomForestModel;

  beforeAll(async () => {
    boosted = await XGBoostModel.train(data, { nRounds: 30, maxDepth: 5, engine });
    forest = await RandomForestModel.train(data, { nTrees: 20, maxDepth: 6, engine });
  });

  it('adds up to the XGBoost model margin on every row', () => {
    expectAdditive(boosted.trees(), sample, ROWS, boosted.predictMargin(sample, ROWS), 1e-4);
  });

  it('adds up to the random forest margin on every row', () => {
    expectAdditive(forest.trees(), sample, ROWS, forest.predictMargin(sample, ROWS), 1e-4);
  });

  it('has the cover-weighted mean leaf value of each tree (plus base margin) as its bias', () => {
    // Independent of the recursion in expectedMargin: Σ over leaves of value × leaf cover / root cover.
    const ensemble = boosted.trees();
    let reference = ensemble.baseMargin;
    for (const t of ensemble.trees) {
      for (let k = 0; k < t.feature.length; k++) if (t.left[k] === -1) reference += (t.leafValue[k]! * t.cover[k]!) / t.cover[0]!;
    }
    expect(expectedMargin(ensemble)).toBeCloseTo(reference, 5);
    expect(treeShap(ensemble, sample.subarray(0, data.numFeatures), 1).bias).toBe(expectedMargin(ensemble));
  });

  // Where the engine writes XGBoost JSON and the venv has Python xgboost (it ships libxgboost for the native engine).
  if (engine.modelFormat === NATIVE_MODEL_FORMAT && hasPythonXGBoost) {
    it('gives the same contributions and bias as XGBoost pred_contribs, for both models', () => {
      const d = data.numFeatures;
      const theirs = predContribs([boosted.modelData(), forest.modelData()], sample, ROWS, d);
      [boosted, forest].forEach((model, k) => {
        const ours = treeShap(model.trees(), sample, ROWS);
        expect(theirs[k]).toHaveLength(ROWS * (d + 1));
        let worst = 0;
        for (let i = 0; i < ROWS; i++) {
          for (let j = 0; j < d; j++) worst = Math.max(worst, Math.abs(ours.contributions[i * d + j]! - theirs[k]![i * (d + 1) + j]!));
          worst = Math.max(worst, Math.abs(ours.bias - theirs[k]![i * (d + 1) + d]!));
        }
        if (process.env.EXPLAIN_REPORT) console.log(`${model.kind}: max |treeShap − pred_contribs| = ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(1e-4);
      });
    });
  }
});
