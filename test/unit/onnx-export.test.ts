import { Worker } from 'node:worker_threads';

import { onnx } from 'onnx-proto';

import { decodeFloat32, decodeInt32 } from '../../lib/ml/codec';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { loadModel, trainModel } from '../../lib/ml/models';
import type { Dataset, FraudModel, ModelKind, SavedModel } from '../../lib/ml/types';
import { leafIndex, wasmEngine, type XGBoostModel } from '../../lib/ml/xgboost';
import {
  exportOnnx,
  exportSavedModelOnnx,
  float32AtLeast,
  ONNX_INPUT_NAME,
  ONNX_METADATA_KEYS,
  ONNX_OUTPUTS,
  OnnxExportError,
} from '../../lib/onnx';

const ROWS = 1000;
const TOLERANCE = 1e-5;
const { train, validation, test } = stratifiedSplit(generateTransactions({ rows: 20_000, seed: 3, fraudRate: 0.02 }), { seed: 1 });
const d = test.numFeatures;

/**
 * 1,000 test rows: rows 0-199 miss one feature each (NaN in column i mod d), rows 200-209 miss
 * every feature, the rest are complete.
 */
function scoringRows(data: Dataset): Float32Array {
  const x = data.features.slice(0, ROWS * d);
  for (let i = 0; i < 200; i++) x[i * d + (i % d)] = NaN;
  x.fill(NaN, 200 * d, 210 * d);
  return x;
}
const x = scoringRows(test);
const hasNaN = (row: number): boolean => row < 210;

/**
 * The tree models train with some values missing (every 5th row misses one feature), so XGBoost
 * learns default directions both ways and the NaN rows below exercise both.
 */
function withMissing(data: Dataset): Dataset {
  const features = data.features.slice();
  for (let r = 0; r * 5 < data.numRows; r++) features[r * 5 * d + (r % d)] = NaN;
  return { ...data, features };
}
const SPLITS: Record<ModelKind, { train: Dataset; validation: Dataset }> = {
  xgboost: { train: withMissing(train), validation },
  random_forest: { train: withMissing(train), validation },
  neural_network: { train, validation },
  isolation_forest: { train, validation },
};

const HYPERPARAMETERS: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 30 },
  random_forest: { nTrees: 20, maxDepth: 8 },
  neural_network: { epochs: 2, learningRate: 1e-2 },
  isolation_forest: { nTrees: 50 },
};

interface Scored {
  probability: Float32Array;
  label: BigInt64Array;
  dims: { probability: readonly number[]; label: readonly number[] };
  types: { probability: string; label: string };
  inputNames: string[];
  outputNames: string[];
}

/**
 * onnxruntime-node runs in a worker thread: inside jest's vm sandbox its output tensors fail its own
 * `instanceof Float32Array` check (the native binding creates them in the main realm), so the
 * session lives in a plain Node realm, as it does in a server.
 */
const SCORER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
parentPort.on('message', async ({ id, bytes, features, rows, cols }) => {
  try {
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ ${JSON.stringify(ONNX_INPUT_NAME)}: new ort.Tensor('float32', features, [rows, cols]) });
    const p = out[${JSON.stringify(ONNX_OUTPUTS.probability)}];
    const l = out[${JSON.stringify(ONNX_OUTPUTS.label)}];
    parentPort.postMessage({ id, result: {
      probability: p.data, label: l.data,
      dims: { probability: p.dims, label: l.dims }, types: { probability: p.type, label: l.type },
      inputNames: session.inputNames, outputNames: session.outputNames,
    } });
    await session.release();
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.stack) || error) });
  }
});
`;

let scorer: Worker;
let nextId = 0;
const pending = new Map<number, { resolve: (s: Scored) => void; reject: (e: Error) => void }>();

beforeAll(() => {
  scorer = new Worker(SCORER_SOURCE, { eval: true });
  scorer.on('message', ({ id, result, error }: { id: number; result?: Scored; error?: string }) => {
    const waiter = pending.get(id)!;
    pending.delete(id);
    if (error !== undefined) waiter.reject(new Error(error));
    else waiter.resolve(result!);
  });
});

afterAll(async () => {
  await scorer.terminate();
});

/** Scores `rows` rows through onnxruntime-node (in the worker). */
function score(bytes: Uint8Array, features: Float32Array, rows: number): Promise<Scored> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    scorer.postMessage({ id, bytes, features, rows, cols: d });
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array, rows: (i: number) => boolean = () => true): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) if (rows(i)) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Split feature and float32 threshold of each tree's root (trees whose root is a split). */
function rootSplits(model: FraudModel): { feature: number; threshold: number }[] {
  if (model.kind === 'isolation_forest') {
    const { forest } = model.toJSON() as SavedModel & { forest: { roots: string; feature: string; threshold: string } };
    const feature = decodeInt32(forest.feature)!;
    const threshold = decodeFloat32(forest.threshold)!;
    return Array.from(decodeInt32(forest.roots)!, (root) => ({ feature: feature[root]!, threshold: threshold[root]! })).filter((s) => s.feature >= 0);
  }
  return (model as XGBoostModel).trees().trees.flatMap((tree) => (tree.feature[0]! >= 0 ? [{ feature: tree.feature[0]!, threshold: tree.threshold[0]! }] : []));
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe.each(Object.keys(HYPERPARAMETERS) as ModelKind[])('ONNX export of %s', (kind) => {
  let model: FraudModel;
  let bytes: Uint8Array;
  let expected: Float32Array;
  let onnxOut: Scored;

  beforeAll(async () => {
    ({ model } = await trainModel(kind, SPLITS[kind], HYPERPARAMETERS[kind], { seed: 5 }));
    bytes = exportOnnx(model);
    expected = model.predictProba(x, ROWS);
    onnxOut = await score(bytes, x, ROWS);
  });

  it('has the documented graph interface and metadata', () => {
    expect(onnxOut.inputNames).toEqual([ONNX_INPUT_NAME]);
    expect(onnxOut.outputNames).toEqual([ONNX_OUTPUTS.probability, ONNX_OUTPUTS.label]);
    const proto = onnx.ModelProto.decode(bytes);
    expect(Number(proto.irVersion)).toBe(9);
    expect(proto.producerName).toBe('fraud-ml-temporal');
    expect(Object.fromEntries(proto.opsetImport.map((o) => [o.domain, Number(o.version)]))).toEqual({ '': 17, 'ai.onnx.ml': 3 });
    const metadata = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(metadata[ONNX_METADATA_KEYS.kind]).toBe(kind);
    expect(JSON.parse(metadata[ONNX_METADATA_KEYS.featureNames]!)).toEqual(model.featureNames);
    expect(metadata[ONNX_METADATA_KEYS.threshold]).toBe('0.5');
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((dim) => dim.dimParam || Number(dim.dimValue));
    const graph = proto.graph!;
    expect(graph.input!.map((v) => [v.name, v.type!.tensorType!.elemType, dims(v)])).toEqual([[ONNX_INPUT_NAME, onnx.TensorProto.DataType.FLOAT, ['N', d]]]);
    expect(graph.output!.map((v) => [v.name, v.type!.tensorType!.elemType, dims(v)])).toEqual([
      [ONNX_OUTPUTS.probability, onnx.TensorProto.DataType.FLOAT, ['N']],
      [ONNX_OUTPUTS.label, onnx.TensorProto.DataType.INT64, ['N']],
    ]);
  });

  it('gives one probability (float32) and one label (int64) per row', () => {
    expect(onnxOut.types).toEqual({ probability: 'float32', label: 'int64' });
    expect(onnxOut.dims.probability).toEqual([ROWS]);
    expect(onnxOut.dims.label).toEqual([ROWS]);
  });

  it('scores like predictProba to 1e-5', () => {
    // The network is not defined on missing values (see below); every other kind scores NaN rows too.
    const rows = kind === 'neural_network' ? (i: number) => !hasNaN(i) : undefined;
    expect(maxAbsDiff(onnxOut.probability, expected, rows)).toBeLessThan(TOLERANCE);
    // Not a constant model: the comparison above is about real variation.
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.05);
  });

  if (kind !== 'neural_network') {
    it('routes a value equal to a split threshold as the model does (< for XGBoost, <= for the isolation forest)', async () => {
      const roots = rootSplits(model);
      expect(roots.length).toBeGreaterThanOrEqual(20);
      // Row t: test row t with the split feature of tree t's root set to exactly its threshold.
      const rows = test.features.slice(300 * d, (300 + roots.length) * d);
      roots.forEach(({ feature, threshold }, t) => (rows[t * d + feature] = threshold));
      const out = await score(exportOnnx(model), rows, roots.length);
      expect(maxAbsDiff(out.probability, model.predictProba(rows, roots.length))).toBeLessThan(TOLERANCE);
    });
  }

  it('labels rows with probability >= 0.5', () => {
    const labels = Array.from(onnxOut.label, Number);
    expect(labels).toEqual(Array.from(onnxOut.probability, (p) => (p >= 0.5 ? 1 : 0)));
  });

  if (kind === 'neural_network') {
    it('gives NaN (label 0) for a row with a missing value: the network is not defined on missing values', () => {
      for (let i = 0; i < 210; i++) {
        expect(onnxOut.probability[i]).toBeNaN();
        expect(onnxOut.label[i]).toBe(0n);
      }
    });
  }

  it('exports the same bytes from the saved JSON and from the reloaded model', async () => {
    const json = JSON.parse(JSON.stringify(model.toJSON())) as SavedModel;
    expect(Buffer.from(exportSavedModelOnnx(json)).equals(bytes)).toBe(true);
    expect(Buffer.from(exportOnnx(await loadModel(json))).equals(bytes)).toBe(true);
  });
});

describe('ONNX export of tree models: missing values and thresholds', () => {
  let model: XGBoostModel;
  let bytes: Uint8Array;

  beforeAll(async () => {
    model = (await trainModel('xgboost', SPLITS.xgboost, HYPERPARAMETERS.xgboost, { seed: 5 })).model as XGBoostModel;
    bytes = exportOnnx(model);
  });

  it("sends a missing value the tree's default way (checked against a walk of the trees)", async () => {
    const ensemble = model.trees();
    // Both default directions occur on the paths a fully missing row takes, so both are exercised.
    const directions = new Set<number>();
    const allMissing = new Float32Array(d).fill(NaN);
    let margin = ensemble.baseMargin;
    for (const tree of ensemble.trees) {
      for (let node = 0; tree.left[node] !== -1; node = tree.defaultLeft[node] ? tree.left[node]! : tree.right[node]!) directions.add(tree.defaultLeft[node]!);
      margin += tree.leafValue[leafIndex(tree, allMissing, 0)]!;
    }
    expect([...directions].sort()).toEqual([0, 1]);
    const out = await score(bytes, allMissing, 1);
    expect(out.probability[0]).toBeCloseTo(sigmoid(margin), 6);
  });

  it('agrees row by row (batch of one) as in a batch', async () => {
    const expected = model.predictProba(x, ROWS);
    for (const row of [0, 5, 150, 205, 400, 999]) {
      const out = await score(bytes, x.slice(row * d, (row + 1) * d), 1);
      expect(Math.abs(out.probability[0]! - expected[row]!)).toBeLessThan(TOLERANCE);
    }
  });

  it('labels exactly probability >= threshold, also for thresholds float32 cannot hold', async () => {
    const { probability } = await score(bytes, x, ROWS);
    const sorted = Float32Array.from(probability).sort();
    const p = sorted[Math.floor(ROWS * 0.9)]!; // a float32 probability some rows have, others exceed
    // Doubles strictly between p and its float32 neighbours (a float32 ulp is 2^-23 relative).
    const below = p * (1 - 1e-9);
    const above = p * (1 + 1e-9);
    expect(float32AtLeast(below)).toBe(p);
    for (const threshold of [p, below, above, 0.3]) {
      const { label } = await score(exportOnnx(model, { threshold }), x, ROWS);
      expect(Array.from(label, Number)).toEqual(Array.from(probability, (v) => (v >= threshold ? 1 : 0)));
    }
    const atP = (await score(exportOnnx(model, { threshold: p }), x, ROWS)).label;
    const aboveP = (await score(exportOnnx(model, { threshold: above }), x, ROWS)).label;
    const rowAtP = probability.indexOf(p);
    expect([atP[rowAtP], aboveP[rowAtP]]).toEqual([1n, 0n]);
  });

  it('exports an XGBoost model trained on the wasm engine with parity', async () => {
    const { model: wasmModel, backend } = await trainModel('xgboost', SPLITS.xgboost, { ...HYPERPARAMETERS.xgboost, engine: wasmEngine }, { seed: 5 });
    expect(backend).toBe(wasmEngine.name);
    expect((wasmModel.toJSON() as SavedModel & { modelFormat: string }).modelFormat).toBe(wasmEngine.modelFormat);
    const out = await score(exportOnnx(wasmModel), x, ROWS);
    expect(maxAbsDiff(out.probability, wasmModel.predictProba(x, ROWS))).toBeLessThan(TOLERANCE);
  });
});

describe('exportOnnx errors', () => {
  let saved: SavedModel;

  beforeAll(async () => {
    saved = (await trainModel('isolation_forest', { train, validation }, { nTrees: 5 }, { seed: 5 })).model.toJSON();
  });

  it('rejects invalid options with TypeError', () => {
    expect(() => exportSavedModelOnnx(saved, { threshold: 1.5 })).toThrow(TypeError);
    expect(() => exportSavedModelOnnx(saved, { threshold: NaN })).toThrow(TypeError);
    expect(() => exportSavedModelOnnx(saved, { metadata: { [ONNX_METADATA_KEYS.kind]: 'x' } })).toThrow(TypeError);
  });

  it('writes extra metadata', () => {
    const proto = onnx.ModelProto.decode(exportSavedModelOnnx(saved, { metadata: { mlflow_run_id: 'abc' } }));
    expect(proto.metadataProps.find((p) => p.key === 'mlflow_run_id')?.value).toBe('abc');
  });

  it('throws OnnxExportError for an unknown kind or a malformed model', () => {
    expect(() => exportSavedModelOnnx({ ...saved, kind: 'svm' as ModelKind })).toThrow(OnnxExportError);
    const forest = saved.forest as Record<string, unknown>;
    expect(() => exportSavedModelOnnx({ ...saved, forest: { ...forest, left: 'AAAA' } })).toThrow(OnnxExportError);
    expect(() => exportSavedModelOnnx({ ...saved, calibration: { method: 'isotonic', scores: [2, 1], probabilities: [0, 1] } })).toThrow(
      expect.objectContaining({ name: 'OnnxExportError', kind: 'isolation_forest' }),
    );
    expect(() => exportSavedModelOnnx({ ...saved, kind: 'xgboost', modelFormat: 'pickle', model: '' })).toThrow(OnnxExportError);
  });
});
