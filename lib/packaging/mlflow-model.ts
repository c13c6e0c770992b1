/**
 * The files of a logged model directory (`model/`), laid out as a standard MLflow model so that
 * Python (`mlflow.pyfunc.load_model('models:/fraud_detection_xgboost/Staging')`), `mlflow models
 * serve` and our own API all load it:
 *
 * - `model.onnx`: the model with its preprocessing (lib/onnx); input `input` float32 [N, features],
 *   outputs `probability` float32 [N] and `label` int64 [N];
 * - `MLmodel`: flavors `onnx`, `python_function` (`loader_module: mlflow.onnx`) and our own
 *   `fraud_ml_ts` (`model.json`, the TypeScript model core's format, loaded fastest by us); a
 *   signature of named `double` columns in feature order, so a plain float64 pandas DataFrame
 *   passes schema enforcement (mlflow.onnx casts it to float32 for onnxruntime);
 * - `requirements.txt`, `python_env.yaml`, `conda.yaml`: what loading needs in Python;
 * - `input_example.json` / `serving_input_example.json`: a few real rows.
 *
 * Pure: bytes in, file contents out.
 */
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { exportSavedModelOnnx, ONNX_OUTPUTS } from '../onnx';
import type { SavedModel } from '../ml/types';

/**
 * Python packages the model directory asks for; the same pins as `python/requirements.txt`, which
 * the tests load these models with (a unit test keeps the two in step).
 */
export const PYTHON_REQUIREMENTS = { mlflow: '3.17.2', onnx: '1.23.2', onnxruntime: '1.31.1' } as const;
/** The Python version these files declare (the one the project's `.venv` is tested with). */
export const PYTHON_VERSION = '3.11.7';

/** Name of our own MLmodel flavor: `model.json` in the TypeScript model core's format. */
export const TS_FLAVOR = 'fraud_ml_ts';

export interface MlflowModelInput {
  /** The model core's saved model (`model.toJSON()`, or model.json parsed). */
  saved: SavedModel;
  /** `model.json` exactly as stored (kept byte for byte). */
  modelJson: Uint8Array | string;
  runId: string;
  /** Decision threshold chosen on validation; the ONNX `label` output uses it. */
  threshold: number;
  /** A few raw rows (row-major, `saved.featureNames` order) for the input example. */
  example: { features: Float32Array; numRows: number };
  /** MLflow version of the tracking server the model is logged to. */
  mlflowVersion: string;
  /** @default new Date() */
  now?: Date;
}

/** Path inside `model/` → contents. */
export type ModelFiles = Map<string, Uint8Array | string>;

function exampleRows(input: MlflowModelInput): number[][] {
  const d = input.saved.featureNames.length;
  const rows: number[][] = [];
  for (let i = 0; i < input.example.numRows; i++) rows.push(Array.from(input.example.features.subarray(i * d, (i + 1) * d)));
  return rows;
}

/** The files of the `model/` directory, ready to upload. */
export function mlflowModelFiles(input: MlflowModelInput): ModelFiles {
  const { saved } = input;
  const onnx = exportSavedModelOnnx(saved, { threshold: input.threshold, metadata: { mlflow_run_id: input.runId } });
  const created = (input.now ?? new Date()).toISOString().replace('T', ' ').replace('Z', '');
  const pins = Object.entries(PYTHON_REQUIREMENTS).map(([name, version]) => `${name}==${version}`);
  const signature = {
    inputs: JSON.stringify(saved.featureNames.map((name) => ({ type: 'double', name, required: true }))),
    outputs: JSON.stringify([
      { type: 'float', name: ONNX_OUTPUTS.probability, required: true },
      { type: 'long', name: ONNX_OUTPUTS.label, required: true },
    ]),
    params: null,
  };
  const mlmodel = {
    artifact_path: 'model',
    flavors: {
      onnx: { code: null, data: 'model.onnx', onnx_session_options: null, onnx_version: PYTHON_REQUIREMENTS.onnx, providers: ['CPUExecutionProvider'] },
      python_function: {
        data: 'model.onnx',
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.onnx',
        python_version: PYTHON_VERSION,
      },
      [TS_FLAVOR]: { data: 'model.json', model_kind: saved.kind, format_version: saved.formatVersion, model_name: saved.name },
    },
    metadata: { model_kind: saved.kind, threshold: input.threshold, feature_names: saved.featureNames.join(',') },
    mlflow_version: input.mlflowVersion,
    model_size_bytes: onnx.byteLength + Buffer.byteLength(input.modelJson),
    model_uuid: randomUUID().replace(/-/g, ''),
    run_id: input.runId,
    saved_input_example_info: { artifact_path: 'input_example.json', pandas_orient: 'split', serving_input_path: 'serving_input_example.json', type: 'dataframe' },
    signature,
    utc_time_created: `${created}000`,
  };
  const example = { columns: saved.featureNames, data: exampleRows(input) };
  return new Map<string, Uint8Array | string>([
    ['MLmodel', stringify(mlmodel)],
    ['model.onnx', onnx],
    ['model.json', input.modelJson],
    ['requirements.txt', `${pins.join('\n')}\n`],
    ['python_env.yaml', stringify({ python: PYTHON_VERSION, build_dependencies: ['pip', 'setuptools', 'wheel'], dependencies: ['-r requirements.txt'] })],
    ['conda.yaml', stringify({ channels: ['conda-forge'], dependencies: [`python=${PYTHON_VERSION}`, 'pip', { pip: pins }], name: 'mlflow-env' })],
    ['input_example.json', JSON.stringify(example)],
    ['serving_input_example.json', JSON.stringify({ dataframe_split: example }, null, 2)],
  ]);
}
