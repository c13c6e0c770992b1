/**
 * Any trained fraud model, preprocessing included, as one ONNX model (`ModelProto` bytes) that
 * onnxruntime (Node or Python, also through MLflow's pyfunc) scores exactly as `predictProba` does.
 *
 * Graph interface, the same for every kind:
 * - input `input`: float32 `[N, numFeatures]`, raw feature values in `featureNames` order, `NaN`
 *   for a missing value (tree models route it as the model does);
 * - output `probability`: float32 `[N]`, the fraud probability (`predictProba`);
 * - output `label`: int64 `[N]`, 1 where `probability >= threshold`, else 0.
 * One value per row in every output, so MLflow's pyfunc turns them into two DataFrame columns.
 *
 * The exporter reads the model's saved form (`toJSON()`), the same data `load()` reads, so a model
 * trained here and the same model loaded from MLflow export identically, and no engine or
 * TensorFlow.js is needed to export a saved model.
 */
import type { FraudModel, ModelKind, SavedModel } from '../ml/types';
import { MODEL_KINDS } from '../ml/types';
import { boostedTreesProbability } from './boosted-trees';
import { OnnxExportError } from './errors';
import { attr, ElementType, encodeModel, GraphBuilder, ML_DOMAIN, valueInfo } from './graph';
import { isolationForestProbability } from './isolation-forest';
import { neuralNetworkProbability } from './neural-network';

/** Name of the graph's only input. */
export const ONNX_INPUT_NAME = 'input';
/** Names of the graph's outputs. */
export const ONNX_OUTPUTS = { probability: 'probability', label: 'label' } as const;
/** Symbolic batch dimension of the input and outputs. */
export const ONNX_BATCH_DIM = 'N';
/**
 * IR 9 (ONNX 1.14) and opsets ai.onnx 17 + ai.onnx.ml 3: read by onnxruntime 1.30 (Node) and 1.31
 * (Python) and checked by onnx 1.23; tree ensembles need ML opset 3 for `BRANCH_LT` with
 * missing-value tracking, and every ai.onnx operator used here exists in this form since opset 16.
 */
export const ONNX_IR_VERSION = 9;
export const ONNX_OPSETS: Readonly<Record<string, number>> = Object.freeze({ '': 17, [ML_DOMAIN]: 3 });
export const ONNX_PRODUCER_NAME = 'fraud-ml-temporal';
/** Version of this exporter's graph layout and metadata keys, written as `producer_version`. */
export const ONNX_EXPORT_VERSION = '1';

/** Keys of the model's `metadata_props`. */
export const ONNX_METADATA_KEYS = {
  kind: 'fraud_ml.kind',
  /** The saved model's `name`, e.g. `XGBoostModel`. */
  modelName: 'fraud_ml.model_name',
  /** JSON array of the input's column names. */
  featureNames: 'fraud_ml.feature_names',
  /** Decimal threshold of the `label` output. */
  threshold: 'fraud_ml.threshold',
} as const;

export interface OnnxExportOptions {
  /** `label` is 1 where `probability >= threshold`; in [0, 1]. @default 0.5 */
  threshold?: number;
  /** Extra `metadata_props` (e.g. an MLflow run id); may not override the exporter's own keys. @default {} */
  metadata?: Record<string, string>;
}

export interface ResolvedOnnxExportOptions {
  threshold: number;
  metadata: Record<string, string>;
}

/** Fills the defaults of {@link OnnxExportOptions}; throws TypeError for an invalid value. */
export function withDefaults(options: OnnxExportOptions = {}): ResolvedOnnxExportOptions {
  const { threshold = 0.5, metadata = {} } = options;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) throw new TypeError(`threshold must be a number in [0, 1], got ${String(threshold)}`);
  if (metadata === null || typeof metadata !== 'object') throw new TypeError('metadata must be an object of strings');
  const own = new Set<string>(Object.values(ONNX_METADATA_KEYS));
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new TypeError(`metadata.${key} must be a string, got ${typeof value}`);
    if (own.has(key)) throw new TypeError(`metadata key ${key} is written by the exporter`);
  }
  return { threshold, metadata: { ...metadata } };
}

/**
 * The smallest float32 that is >= t. The graph compares the float32 probability with a float32
 * constant; for any float32 p, `p >= t` and `p >= float32AtLeast(t)` agree, so `label` is exactly
 * `probability >= threshold` even for a threshold like 0.3 that float32 cannot hold.
 */
export function float32AtLeast(t: number): number {
  const f = Math.fround(t);
  if (f >= t) return f;
  // f is the float32 just below t (t > 0 here): one ulp up.
  const bits = new Float32Array([f]);
  const view = new Int32Array(bits.buffer);
  view[0] = f >= 0 ? view[0]! + 1 : view[0]! - 1;
  return bits[0]!;
}

type ProbabilityGraph = (g: GraphBuilder, input: string, saved: SavedModel) => { probability: string; summary: string };

const GRAPHS: Record<ModelKind, ProbabilityGraph> = {
  xgboost: boostedTreesProbability,
  random_forest: boostedTreesProbability,
  neural_network: neuralNetworkProbability,
  isolation_forest: isolationForestProbability,
};

/**
 * The ONNX `ModelProto` bytes of a trained model; see the module doc for the graph interface.
 * @throws TypeError for invalid options
 * @throws OnnxExportError when the model cannot be written as ONNX
 */
export function exportOnnx(model: FraudModel, options: OnnxExportOptions = {}): Uint8Array {
  return exportSavedModelOnnx(model.toJSON(), options);
}

/**
 * {@link exportOnnx} from a saved model (`toJSON()` output, e.g. read back from MLflow) without
 * loading it.
 * @throws TypeError for invalid options
 * @throws OnnxExportError when `saved` is not a model of a known kind, or cannot be written as ONNX
 */
export function exportSavedModelOnnx(saved: SavedModel, options: OnnxExportOptions = {}): Uint8Array {
  const o = withDefaults(options);
  const kind = (saved as Partial<SavedModel> | null)?.kind;
  if (!(MODEL_KINDS as readonly unknown[]).includes(kind)) {
    throw new OnnxExportError(`not a saved model of a known kind: kind=${JSON.stringify(kind)}; expected one of ${MODEL_KINDS.join(', ')}`);
  }
  const featureNames = saved.featureNames;
  if (!Array.isArray(featureNames) || featureNames.length === 0 || featureNames.some((name) => typeof name !== 'string')) {
    throw new OnnxExportError(`${kind}: featureNames must be a non-empty array of strings`, kind);
  }
  const d = featureNames.length;
  const g = new GraphBuilder();
  const input = g.reserve(ONNX_INPUT_NAME);
  const { probability, summary } = GRAPHS[kind as ModelKind](g, input, saved);

  // Graph outputs: `Identity` gives the probability its public name whatever node produced it.
  g.node('Identity', [probability], { outputs: [ONNX_OUTPUTS.probability] });
  const threshold = g.scalar('threshold', ElementType.FLOAT, float32AtLeast(o.threshold));
  const positive = g.node('GreaterOrEqual', [ONNX_OUTPUTS.probability, threshold], { hint: 'is_fraud' });
  g.node('Cast', [positive], { attributes: [attr.int('to', ElementType.INT64)], outputs: [ONNX_OUTPUTS.label] });

  const docString =
    `${saved.name} (${kind}) exported by ${ONNX_PRODUCER_NAME}: ${summary}. ` +
    `Input '${ONNX_INPUT_NAME}': float32 [${ONNX_BATCH_DIM}, ${d}], raw features in the order of metadata '${ONNX_METADATA_KEYS.featureNames}', NaN = missing. ` +
    `Outputs: '${ONNX_OUTPUTS.probability}' float32 [${ONNX_BATCH_DIM}], the fraud probability; ` +
    `'${ONNX_OUTPUTS.label}' int64 [${ONNX_BATCH_DIM}], 1 where probability >= ${o.threshold}.`;
  const graph = g.build(
    `fraud_${kind}`,
    [valueInfo(ONNX_INPUT_NAME, ElementType.FLOAT, [ONNX_BATCH_DIM, d], `raw features: ${featureNames.join(', ')}`)],
    [
      valueInfo(ONNX_OUTPUTS.probability, ElementType.FLOAT, [ONNX_BATCH_DIM], 'fraud probability'),
      valueInfo(ONNX_OUTPUTS.label, ElementType.INT64, [ONNX_BATCH_DIM], `1 where probability >= ${o.threshold}`),
    ],
    summary,
  );
  return encodeModel({
    graph,
    irVersion: ONNX_IR_VERSION,
    opsets: ONNX_OPSETS,
    producerName: ONNX_PRODUCER_NAME,
    producerVersion: ONNX_EXPORT_VERSION,
    docString,
    metadata: {
      ...o.metadata,
      [ONNX_METADATA_KEYS.kind]: kind as string,
      [ONNX_METADATA_KEYS.modelName]: String(saved.name),
      [ONNX_METADATA_KEYS.featureNames]: JSON.stringify(featureNames),
      [ONNX_METADATA_KEYS.threshold]: String(o.threshold),
    },
  });
}
