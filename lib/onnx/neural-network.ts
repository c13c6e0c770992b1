/**
 * The neural network as ONNX, preprocessing included:
 * 1. `sign(x) * log1p(|x|)` on the model's `log1pFeatures` columns (others pass through), in
 *    float64 and rounded to float32, as `NetworkPreprocessing` does (ONNX has no Log1p; in float64
 *    `log(1 + |x|)` is exact to well below float32 precision for any float32 input);
 * 2. `(x - mean) / scale` per column in float64 with the scaler's float64 statistics, rounded to
 *    float32, as `StandardScaler.transform` does: the network's inputs are bit-identical;
 * 3. one `Gemm` per dense layer (kernel row-major `inputs × units`, as saved) with the hidden
 *    activation (`Relu`, `Tanh` or `Elu` with alpha 1) after every layer but the last;
 * 4. `Sigmoid` of the single output unit.
 * The network is not defined on missing values: a `NaN` feature gives a `NaN` probability (and
 * label 0) in onnxruntime, while TensorFlow.js backends may turn it into some score (its `relu`
 * maps NaN to 0). Parity holds on complete rows.
 */
import { decodeFloat32 } from '../ml/codec';
import { ModelFormatError } from '../ml/errors';
import { ACTIVATIONS, type Activation } from '../ml/neural-network/options';
import type { NeuralNetworkModelJSON } from '../ml/neural-network/model';
import { StandardScaler } from '../ml/preprocess';
import type { SavedModel } from '../ml/types';
import { OnnxExportError } from './errors';
import { attr, ElementType, type GraphBuilder } from './graph';

const KIND = 'neural_network';

const ACTIVATION_OPS: Record<Activation, { op: string; attributes?: ReturnType<typeof attr.float>[] }> = {
  relu: { op: 'Relu' },
  tanh: { op: 'Tanh' },
  // tf.elu is alpha = 1.
  elu: { op: 'Elu', attributes: [attr.float('alpha', 1)] },
};

interface NetworkParts {
  activation: Activation;
  layers: { inputs: number; units: number; kernel: Float32Array; bias: Float32Array }[];
  log1pColumns: number[];
  mean: Float64Array;
  scale: Float64Array;
}

function fail(problem: string, cause?: unknown): never {
  throw new OnnxExportError(`${KIND}: ${problem}`, KIND, cause === undefined ? undefined : { cause });
}

/** Reads and checks the parts of a saved network the graph needs. */
function parseNetwork(saved: SavedModel): NetworkParts {
  const json = saved as Partial<NeuralNetworkModelJSON>;
  const d = saved.featureNames.length;
  if (!(ACTIVATIONS as readonly unknown[]).includes(json.activation)) fail(`unknown activation ${String(json.activation)}`);
  if (!Array.isArray(json.layers) || json.layers.length === 0) fail('layers must be a non-empty array');
  let inputs = d;
  const layers = json.layers.map((layer, l) => {
    const kernel = decodeFloat32(layer?.kernel);
    const bias = decodeFloat32(layer?.bias);
    if (layer?.inputs !== inputs || !kernel || !bias || kernel.length !== layer.inputs * layer.units || bias.length !== layer.units) {
      return fail(`layer ${l} is not a ${inputs}×units dense layer with matching weights`);
    }
    inputs = layer.units;
    return { inputs: layer.inputs, units: layer.units, kernel, bias };
  });
  if (inputs !== 1) fail(`the last layer must have one unit, has ${inputs}`);
  let scaler: StandardScaler;
  try {
    scaler = StandardScaler.load(json.preprocessing!.scaler);
  } catch (error) {
    if (error instanceof ModelFormatError || error instanceof TypeError) fail(`preprocessing.scaler: ${error.message}`, error);
    throw error;
  }
  if (scaler.featureNames.join('\u0000') !== saved.featureNames.join('\u0000')) fail("the scaler's features differ from the model's");
  const log1pFeatures: unknown = json.preprocessing?.log1pFeatures;
  if (!Array.isArray(log1pFeatures)) fail('preprocessing.log1pFeatures must be an array');
  const log1pColumns = (log1pFeatures as unknown[]).map((name) => {
    const j = saved.featureNames.indexOf(name as string);
    return j >= 0 ? j : fail(`log1p feature ${JSON.stringify(name)} is not a feature`);
  });
  return { activation: json.activation!, layers, log1pColumns, mean: scaler.mean, scale: scaler.scale };
}

/** Adds the nodes from the raw `input` to the float32 `[N]` fraud probability; returns its name. */
export function neuralNetworkProbability(g: GraphBuilder, input: string, saved: SavedModel): { probability: string; summary: string } {
  const net = parseNetwork(saved);
  const d = saved.featureNames.length;
  const { DOUBLE, FLOAT, BOOL, INT64 } = ElementType;

  // 1. sign(x) * log1p(|x|) on the selected columns.
  let x = input;
  if (net.log1pColumns.length > 0) {
    const wide = g.node('Cast', [input], { attributes: [attr.int('to', DOUBLE)], hint: 'input_f64' });
    const magnitude = g.node('Add', [g.node('Abs', [wide]), g.scalar('one', DOUBLE, 1)], { hint: 'one_plus_abs' });
    const logged = g.node('Mul', [g.node('Sign', [wide]), g.node('Log', [magnitude])], { hint: 'signed_log1p' });
    const narrow = g.node('Cast', [logged], { attributes: [attr.int('to', FLOAT)], hint: 'signed_log1p_f32' });
    const mask = Array.from({ length: d }, (_, j) => net.log1pColumns.includes(j));
    x = g.node('Where', [g.constant('log1p_mask', BOOL, [d], mask), narrow, input], { hint: 'log1p_applied' });
  }

  // 2. Standard scaling in float64, rounded to float32.
  const wideX = g.node('Cast', [x], { attributes: [attr.int('to', DOUBLE)], hint: 'features_f64' });
  const centred = g.node('Sub', [wideX, g.constant('scaler_mean', DOUBLE, [d], net.mean)], { hint: 'centred' });
  const scaled = g.node('Div', [centred, g.constant('scaler_scale', DOUBLE, [d], net.scale)], { hint: 'scaled_f64' });
  let h = g.node('Cast', [scaled], { attributes: [attr.int('to', FLOAT)], hint: 'scaled' });

  // 3. Dense layers.
  net.layers.forEach((layer, l) => {
    const kernel = g.constant(`dense_${l}_kernel`, FLOAT, [layer.inputs, layer.units], layer.kernel);
    const bias = g.constant(`dense_${l}_bias`, FLOAT, [layer.units], layer.bias);
    h = g.node('Gemm', [h, kernel, bias], { hint: `dense_${l}` });
    if (l + 1 < net.layers.length) {
      const { op, attributes } = ACTIVATION_OPS[net.activation];
      h = g.node(op, [h], { attributes, hint: `dense_${l}_${net.activation}` });
    }
  });

  // 4. Sigmoid of the single unit, one value per row.
  const probability = g.node('Sigmoid', [h], { hint: 'probability_2d' });
  const squeezed = g.node('Squeeze', [probability, g.constant('axis_1', INT64, [1], [1])], { hint: 'network_probability' });
  const sizes = [d, ...net.layers.map((layer) => layer.units)].join('-');
  const logged = net.log1pColumns.map((j) => saved.featureNames[j]).join(', ');
  return {
    probability: squeezed,
    summary: `dense ${sizes} (${net.activation}), inputs ${logged ? `sign(x)*log1p(|x|) on ${logged}, then ` : ''}standard-scaled; probability = sigmoid(output)`,
  };
}
