/**
 * The multilayer perceptron as plain data (typed-array weights) plus its TensorFlow.js forward
 * pass. Models keep weights as typed arrays and build tensors only inside a call, so a model owns
 * no tensor memory (wasm and native tensors are not garbage-collected) and needs no `dispose()`.
 */
import type * as TfModule from '@tensorflow/tfjs';

import type { SeededRandom } from '../data/random';
import type { Activation } from './options';
import type { Tf } from './tf-backend';

/** One fully connected layer: `y = x · kernel + bias`, kernel row-major `inputs × units`. */
export interface DenseLayer {
  inputs: number;
  units: number;
  kernel: Float32Array;
  bias: Float32Array;
}

/** Tensors of one dense layer. */
export interface DenseTensors {
  kernel: TfModule.Tensor2D;
  bias: TfModule.Tensor1D;
}

/**
 * Glorot-uniform kernels (the Keras default) from our own seeded stream, so initial weights are the
 * same on every backend; zero biases. The output bias starts at `outputBias` (the log-odds of the
 * weighted fraud share): the network then starts at the base rate instead of spending its first
 * steps learning that fraud is rare.
 */
export function initLayers(sizes: readonly number[], rng: SeededRandom, outputBias: number): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inputs = sizes[l]!;
    const units = sizes[l + 1]!;
    const limit = Math.sqrt(6 / (inputs + units));
    const kernel = new Float32Array(inputs * units);
    for (let i = 0; i < kernel.length; i++) kernel[i] = (2 * rng.next() - 1) * limit;
    const bias = new Float32Array(units);
    if (l + 2 === sizes.length) bias.fill(outputBias);
    layers.push({ inputs, units, kernel, bias });
  }
  return layers;
}

/** Tensors holding a copy of each layer's weights. The caller disposes them (or creates them in a `tidy`). */
export function layerTensors(tf: Tf, layers: readonly DenseLayer[]): DenseTensors[] {
  return layers.map((layer) => ({ kernel: tf.tensor2d(layer.kernel, [layer.inputs, layer.units]), bias: tf.tensor1d(layer.bias) }));
}

/**
 * Logits (shape `[rows, 1]`) of a batch. `dropoutMasks[l]`, when given, multiplies the output of
 * hidden layer `l` (inverted dropout: kept units are pre-scaled by `1 / (1 - rate)`).
 */
export function forwardLogits(
  tf: Tf,
  layers: readonly DenseTensors[],
  activation: Activation,
  x: TfModule.Tensor2D,
  dropoutMasks?: readonly TfModule.Tensor2D[],
): TfModule.Tensor2D {
  let h = x;
  layers.forEach(({ kernel, bias }, l) => {
    const hidden = l + 1 < layers.length;
    // Fused matMul+bias(+relu) is one kernel on wasm and native; tfjs has its gradient for relu and linear only.
    if (hidden && activation === 'relu') {
      h = tf.fused.matMul({ a: h, b: kernel, bias, activation: 'relu' }) as TfModule.Tensor2D;
    } else {
      h = tf.fused.matMul({ a: h, b: kernel, bias }) as TfModule.Tensor2D;
      if (hidden) h = activation === 'tanh' ? tf.tanh(h) : tf.elu(h);
    }
    const mask = hidden ? dropoutMasks?.[l] : undefined;
    if (mask) h = tf.mul(h, mask);
  });
  return h;
}

/** Rows scored per tensor batch at inference: large enough to amortise per-op overhead, small enough to bound memory. */
const PREDICT_BATCH = 8192;

/** Fraud probabilities of `numRows` preprocessed rows; every tensor is released before returning. */
export function predictProbabilities(
  tf: Tf,
  layers: readonly DenseLayer[] | readonly DenseTensors[],
  activation: Activation,
  x: Float32Array,
  numRows: number,
  numFeatures: number,
): Float32Array {
  const out = new Float32Array(numRows);
  if (numRows === 0) return out;
  const owned = isTensorLayers(layers) ? undefined : layerTensors(tf, layers);
  const weights = owned ?? (layers as readonly DenseTensors[]);
  try {
    for (let start = 0; start < numRows; start += PREDICT_BATCH) {
      const rows = Math.min(PREDICT_BATCH, numRows - start);
      // dataSync inside tidy is fine; the typed array must not be returned from tidy (it would be walked for tensors).
      tf.tidy(() => {
        const input = tf.tensor2d(x.subarray(start * numFeatures, (start + rows) * numFeatures), [rows, numFeatures]);
        const p = tf.sigmoid(forwardLogits(tf, weights, activation, input));
        out.set(p.dataSync() as Float32Array, start);
      });
    }
  } finally {
    owned?.forEach(({ kernel, bias }) => {
      kernel.dispose();
      bias.dispose();
    });
  }
  return out;
}

function isTensorLayers(layers: readonly DenseLayer[] | readonly DenseTensors[]): layers is readonly DenseTensors[] {
  const first = layers[0];
  return first !== undefined && !(first.kernel instanceof Float32Array);
}
