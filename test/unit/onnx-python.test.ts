import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { loadConfig, projectRoot } from '../../lib/config';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';
import { trainModel } from '../../lib/ml/models';
import { MODEL_KINDS, type ModelKind } from '../../lib/ml/types';
import { exportOnnx, ONNX_INPUT_NAME, ONNX_METADATA_KEYS, ONNX_OUTPUTS } from '../../lib/onnx';

/**
 * The exported models as the Python side sees them: `onnx.checker` with full_check (strict shape
 * inference), onnxruntime's Python API, and (for one model) MLflow's onnx flavor loaded as a pyfunc
 * and fed a DataFrame. python/onnx_check.py only runs them and writes their outputs; the
 * comparisons with the TypeScript predictions are here.
 */

const run = promisify(execFile);
const ROWS = 1000;
const TOLERANCE = 1e-5;
const THRESHOLD = 0.5;
/** MLflow's pyfunc takes about 5 s per model; the graph interface is the same for every kind. */
const PYFUNC_KIND: ModelKind = 'xgboost';

const { train, validation, test } = stratifiedSplit(generateTransactions({ rows: 20_000, seed: 4, fraudRate: 0.02 }), { seed: 2 });
const d = test.numFeatures;
const x = test.features.slice(0, ROWS * d);
// Rows 0-99 miss one feature each: the trees route them by their default direction.
for (let i = 0; i < 100; i++) x[i * d + (i % d)] = NaN;
/** The network is not defined on missing values (ONNX gives NaN there): compared on complete rows. */
const compared = (kind: ModelKind, row: number): boolean => kind !== 'neural_network' || row >= 100;

const HYPERPARAMETERS: Record<ModelKind, Record<string, unknown>> = {
  xgboost: { nRounds: 30 },
  random_forest: { nTrees: 20 },
  neural_network: { epochs: 2, learningRate: 1e-2 },
  isolation_forest: { nTrees: 50, calibration: 'platt' },
};

interface ValueDescription {
  name: string;
  elem_type: string;
  shape: (string | number)[];
}

interface ModelReport {
  kind: ModelKind;
  checker: string;
  ir_version: number;
  opsets: Record<string, number>;
  producer_name: string;
  metadata: Record<string, string>;
  inputs: ValueDescription[];
  outputs: ValueDescription[];
  ort: { probability_shape: number[]; probability_dtype: string; label_shape: number[]; label_dtype: string };
  pyfunc?: { columns: string[]; rows: number };
}

let dir: string;
const expected = new Map<ModelKind, Float32Array>();
const featureNames: Record<string, readonly string[]> = {};
let report: { versions: Record<string, string>; models: ModelReport[] };

function readFloat32(file: string): Float32Array {
  const bytes = readFileSync(join(dir, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function readInt64(file: string): number[] {
  const bytes = readFileSync(join(dir, file));
  return Array.from(new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), Number);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onnx-python-'));
  for (const kind of MODEL_KINDS) {
    const { model } = await trainModel(kind, { train, validation }, HYPERPARAMETERS[kind], { seed: 9 });
    writeFileSync(join(dir, `${kind}.onnx`), exportOnnx(model, { threshold: THRESHOLD }));
    expected.set(kind, model.predictProba(x, ROWS));
    featureNames[kind] = model.featureNames;
  }
  // Little-endian float32, row-major: what numpy's '<f4' reads.
  writeFileSync(join(dir, 'input.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const manifest = {
    input: 'input.f32',
    rows: ROWS,
    features: d,
    models: MODEL_KINDS.map((kind) => ({ kind, file: `${kind}.onnx`, pyfunc: kind === PYFUNC_KIND })),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const python = join(loadConfig().venvDir, 'bin', 'python');
  let stdout: string;
  try {
    ({ stdout } = await run(python, [join(projectRoot, 'python', 'onnx_check.py'), dir], { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`onnx_check.py failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (line === undefined) throw new Error(`onnx_check.py printed no RESULT line:\n${stdout}`);
  report = JSON.parse(line.slice('RESULT:'.length)) as typeof report;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([...MODEL_KINDS])('exported %s model in Python', (kind) => {
  const model = (): ModelReport => report.models.find((m) => m.kind === kind)!;

  it('passes onnx.checker.check_model(full_check=True)', () => {
    expect(model().checker).toBe('ok');
  });

  it('declares the graph interface, opsets and metadata', () => {
    const m = model();
    expect(m.ir_version).toBe(9);
    expect(m.opsets).toEqual({ '': 17, 'ai.onnx.ml': 3 });
    expect(m.producer_name).toBe('fraud-ml-temporal');
    expect(m.inputs).toEqual([{ name: ONNX_INPUT_NAME, elem_type: 'FLOAT', shape: ['N', d] }]);
    expect(m.outputs).toEqual([
      { name: ONNX_OUTPUTS.probability, elem_type: 'FLOAT', shape: ['N'] },
      { name: ONNX_OUTPUTS.label, elem_type: 'INT64', shape: ['N'] },
    ]);
    expect(m.metadata[ONNX_METADATA_KEYS.kind]).toBe(kind);
    expect(JSON.parse(m.metadata[ONNX_METADATA_KEYS.featureNames]!)).toEqual(featureNames[kind]);
  });

  it('scores in onnxruntime (Python) like predictProba to 1e-5, labels at the threshold', () => {
    expect(model().ort).toEqual({ probability_shape: [ROWS], probability_dtype: 'float32', label_shape: [ROWS], label_dtype: 'int64' });
    const probability = readFloat32(`${kind}.ort.probability.f32`);
    const want = expected.get(kind)!;
    let max = 0;
    for (let i = 0; i < ROWS; i++) if (compared(kind, i)) max = Math.max(max, Math.abs(probability[i]! - want[i]!));
    expect(max).toBeLessThan(TOLERANCE);
    expect(readInt64(`${kind}.ort.label.i64`)).toEqual(Array.from(probability, (p) => (p >= THRESHOLD ? 1 : 0)));
  });
});

describe(`exported ${PYFUNC_KIND} model as an MLflow pyfunc`, () => {
  it('predicts a DataFrame with one probability and one label column, one row per input row', () => {
    const m = report.models.find((r) => r.kind === PYFUNC_KIND)!;
    expect(m.pyfunc).toEqual({ columns: [ONNX_OUTPUTS.probability, ONNX_OUTPUTS.label], rows: ROWS });
    expect(readFloat32(`${PYFUNC_KIND}.pyfunc.probability.f32`)).toEqual(readFloat32(`${PYFUNC_KIND}.ort.probability.f32`));
    expect(readInt64(`${PYFUNC_KIND}.pyfunc.label.i64`)).toEqual(readInt64(`${PYFUNC_KIND}.ort.label.i64`));
  });
});
