import type * as TfModule from '@tensorflow/tfjs';

import { createRandom, type SeededRandom } from '../data/random';
import { DatasetError } from '../data/errors';
import { checkTrainAndValidation, countPositives } from '../data/validate';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from '../errors';
import { averagePrecision } from '../metrics';
import type { Dataset, FraudModel, SavedModel, TrainControl } from '../types';
import { decodeFloat32, encodeFloat32 } from '../codec';
import { forwardLogits, initLayers, predictProbabilities, type DenseLayer } from './mlp';
import { ACTIVATIONS, positiveClassWeight, withDefaults, type Activation, type NeuralNetworkOptions, type ResolvedNeuralNetworkOptions } from './options';
import { NetworkPreprocessing, type NetworkPreprocessingJSON } from './preprocessing';
import { loadTf, tfBackendInfo, type Tf, type TfBackendInfo } from './tf-backend';

const NAME = 'NeuralNetworkModel';
const FORMAT_VERSION = 1;
/** An epoch must beat the best validation PR-AUC by this much to count as an improvement. */
const MIN_IMPROVEMENT = 1e-4;

/** How a model was trained; saved with it and worth logging as run metadata. */
export interface NeuralNetworkTrainingInfo {
  seed: number;
  /** Hyperparameters after defaults (with `log1pFeatures` resolved). */
  options: Omit<ResolvedNeuralNetworkOptions, 'log1pFeatures'> & { log1pFeatures: string[] };
  /** Loss weight of a fraud row (legitimate rows weigh 1). */
  positiveWeight: number;
  /** Epochs actually run (fewer than `options.epochs` when early stopping ended training). */
  epochsRun: number;
  /** 1-based epoch whose weights the model keeps. */
  bestEpoch: number;
  bestValPrAuc: number;
  stoppedEarly: boolean;
  /** Per epoch: mean weighted training loss and validation PR-AUC. */
  history: { loss: number[]; valPrAuc: number[] };
  backend: TfBackendInfo;
}

interface SavedLayer {
  inputs: number;
  units: number;
  /** Little-endian float32, base64, row-major `inputs × units`. */
  kernel: string;
  bias: string;
}

/** The JSON form of a {@link NeuralNetworkModel}. */
export interface NeuralNetworkModelJSON extends SavedModel {
  name: typeof NAME;
  formatVersion: typeof FORMAT_VERSION;
  kind: 'neural_network';
  activation: Activation;
  /** Dense layers from input to the single-unit output (sigmoid applied after the last). */
  layers: SavedLayer[];
  preprocessing: NetworkPreprocessingJSON;
  training: NeuralNetworkTrainingInfo;
}

/**
 * A multilayer perceptron for fraud probability, trained with TensorFlow.js (backend: see
 * `tf-backend.ts`): hidden dense layers with dropout, a sigmoid output, weighted binary
 * cross-entropy, Adam, early stopping on validation PR-AUC with the best epoch's weights kept.
 * The class weight is undone in the saved output bias, so `predictProba` estimates the real fraud
 * probability (its mean is close to the fraud rate) rather than the inflated weighted one.
 *
 * Reproducible: initial weights, the per-epoch shuffle and the dropout masks all come from our
 * own seeded stream (tfjs' `shuffle` and dropout layer draw from `Math.random` or a fixed seed),
 * so the same seed and data give the same model on the same backend. Different backends differ
 * in float rounding, so their models differ slightly.
 */
export class NeuralNetworkModel implements FraudModel {
  readonly kind = 'neural_network' as const;

  private constructor(
    private readonly tf: Tf,
    readonly featureNames: readonly string[],
    private readonly preprocessing: NetworkPreprocessing,
    private readonly layers: readonly DenseLayer[],
    readonly activation: Activation,
    readonly training: NeuralNetworkTrainingInfo,
  ) {}

  /**
   * Trains on `train`, choosing the epoch by PR-AUC on `validation` (which also needs at least one
   * fraud row). Progress is reported once per epoch; `signal` is honoured between batches.
   * @throws InvalidHyperparameterError for bad options, DatasetError for unusable data,
   *   TrainingCancelledError when `signal` aborts.
   */
  static async train(train: Dataset, options: NeuralNetworkOptions & TrainControl, validation: Dataset): Promise<NeuralNetworkModel> {
    const { seed = 42, signal, onProgress, ...hyperparameters } = options;
    const resolved = withDefaults(hyperparameters);
    if (!Number.isSafeInteger(seed)) throw new InvalidHyperparameterError(`seed must be a safe integer, got ${String(seed)}`);
    const log1pFeatures = resolved.log1pFeatures ?? (train.featureNames.includes('Amount') ? ['Amount'] : []);
    for (const name of log1pFeatures) {
      if (!train.featureNames.includes(name)) throw new InvalidHyperparameterError(`log1pFeatures: ${JSON.stringify(name)} is not a feature of the training data`);
    }
    const positives = checkData(train, validation);
    throwIfAborted(signal, 0, resolved.epochs);

    const started = performance.now();
    const tf = await loadTf();
    const backend = await tfBackendInfo();
    const preprocessing = NetworkPreprocessing.fit(train, log1pFeatures);
    const x = preprocessing.transform(train.features, train.numRows);
    const xVal = preprocessing.transform(validation.features, validation.numRows);
    const positiveWeight = positiveClassWeight(resolved.classWeight, positives, train.numRows - positives);
    const rng = createRandom(seed);
    const sizes = [train.numFeatures, ...resolved.hiddenLayers, 1];
    const initial = initLayers(sizes, rng, Math.log((positiveWeight * positives) / (train.numRows - positives)));

    const loop = new TrainingLoop(tf, resolved, initial, rng, positiveWeight);
    try {
      const history = { loss: [] as number[], valPrAuc: [] as number[] };
      let best = { epoch: 0, prAuc: -Infinity, layers: initial };
      let stoppedEarly = false;
      for (let epoch = 1; epoch <= resolved.epochs; epoch++) {
        const loss = await loop.runEpoch(x, train.labels, train.numRows, signal, epoch - 1);
        const valPrAuc = averagePrecision(validation.labels, loop.predict(xVal, validation.numRows));
        history.loss.push(loss);
        history.valPrAuc.push(valPrAuc);
        if (resolved.patience === 0 || valPrAuc > best.prAuc + MIN_IMPROVEMENT) best = { epoch, prAuc: valPrAuc, layers: loop.snapshot() };
        onProgress?.({
          unit: 'epoch',
          done: epoch,
          total: resolved.epochs,
          elapsedSeconds: (performance.now() - started) / 1000,
          metrics: { loss, val_pr_auc: valPrAuc },
        });
        if (resolved.patience > 0 && epoch - best.epoch >= resolved.patience && epoch < resolved.epochs) {
          stoppedEarly = true;
          break;
        }
        // Between epochs: let an abort from this thread land even if the last batch just yielded.
        await yieldToEventLoop();
        throwIfAborted(signal, epoch, resolved.epochs);
      }
      const training: NeuralNetworkTrainingInfo = {
        seed,
        options: { ...resolved, log1pFeatures: [...log1pFeatures] },
        positiveWeight,
        epochsRun: history.loss.length,
        bestEpoch: best.epoch,
        bestValPrAuc: best.prAuc,
        stoppedEarly,
        history,
        backend,
      };
      return new NeuralNetworkModel(tf, [...train.featureNames], preprocessing, withoutWeightBias(best.layers, positiveWeight), resolved.activation, training);
    } finally {
      loop.dispose();
    }
  }

  /** Fraud probability per row of raw (unscaled) row-major features; tensors are released before returning. */
  predictProba(features: Float32Array, numRows: number): Float32Array {
    const d = this.featureNames.length;
    if (!(features instanceof Float32Array)) throw new TypeError('features must be a Float32Array');
    if (!Number.isSafeInteger(numRows) || numRows < 0 || features.length !== numRows * d) {
      throw new RangeError(`expected ${numRows}×${d} feature values, got ${features.length}`);
    }
    const x = this.preprocessing.transform(features, numRows);
    return predictProbabilities(this.tf, this.layers, this.activation, x, numRows, d);
  }

  toJSON(): NeuralNetworkModelJSON {
    return {
      name: NAME,
      formatVersion: FORMAT_VERSION,
      kind: 'neural_network',
      featureNames: [...this.featureNames],
      activation: this.activation,
      layers: this.layers.map((layer) => ({ inputs: layer.inputs, units: layer.units, kernel: encodeFloat32(layer.kernel), bias: encodeFloat32(layer.bias) })),
      preprocessing: this.preprocessing.toJSON(),
      training: structuredClone(this.training),
    };
  }

  /**
   * Rebuilds a saved model; its predictions are identical to the saved one's on the same backend.
   * Async because the TensorFlow.js backend may need initialising first.
   * @throws ModelFormatError when `json` is not a neural network of this format version.
   */
  static async load(json: unknown): Promise<NeuralNetworkModel> {
    const saved = parseSaved(json);
    const tf = await loadTf();
    const layers = saved.layers.map((layer, l) => {
      const kernel = decodeFloat32(layer.kernel);
      const bias = decodeFloat32(layer.bias);
      if (kernel?.length !== layer.inputs * layer.units || bias?.length !== layer.units) {
        throw new ModelFormatError(`${NAME}: layer ${l} weights do not match its ${layer.inputs}×${layer.units} shape`);
      }
      return { inputs: layer.inputs, units: layer.units, kernel, bias };
    });
    const preprocessing = NetworkPreprocessing.load(saved.preprocessing);
    if (preprocessing.scaler.featureNames.join('\u0000') !== saved.featureNames.join('\u0000')) {
      throw new ModelFormatError(`${NAME}: the scaler's features differ from the model's`);
    }
    return new NeuralNetworkModel(tf, [...saved.featureNames], preprocessing, layers, saved.activation, structuredClone(saved.training));
  }
}

/** The mutable part of one training run: tf variables and the optimizer, released by `dispose()`. */
class TrainingLoop {
  private readonly variables: { kernel: TfModule.Variable<TfModule.Rank.R2>; bias: TfModule.Variable<TfModule.Rank.R1> }[];
  private readonly optimizer: TfModule.AdamOptimizer;
  private readonly keepThreshold: number;

  constructor(
    private readonly tf: Tf,
    private readonly options: ResolvedNeuralNetworkOptions,
    initial: readonly DenseLayer[],
    private readonly rng: SeededRandom,
    private readonly positiveWeight: number,
  ) {
    // tidy releases the initial-value tensors; variables survive it (tidy never disposes variables).
    this.variables = tf.tidy(() =>
      initial.map((layer) => ({
        kernel: tf.variable(tf.tensor2d(layer.kernel, [layer.inputs, layer.units])),
        bias: tf.variable(tf.tensor1d(layer.bias)),
      })),
    );
    this.optimizer = tf.train.adam(options.learningRate);
    // A unit is kept when a uniform 32-bit integer falls below this.
    this.keepThreshold = Math.round((1 - options.dropout) * 2 ** 32);
  }

  /** One pass over the rows in a fresh seeded order; returns the mean weighted loss. */
  async runEpoch(x: Float32Array, labels: Uint8Array, numRows: number, signal: AbortSignal | undefined, epochsDone: number): Promise<number> {
    const { tf, options, rng } = this;
    const d = x.length / numRows;
    const order = new Uint32Array(numRows);
    for (let i = 0; i < numRows; i++) order[i] = i;
    for (let i = numRows - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const batchSize = Math.min(options.batchSize, numRows);
    const xb = new Float32Array(batchSize * d);
    const yb = new Float32Array(batchSize);
    const wb = new Float32Array(batchSize);
    const varList = this.variables.flatMap((v) => [v.kernel, v.bias]);
    let lossSum = 0;
    for (let start = 0; start < numRows; start += batchSize) {
      const rows = Math.min(batchSize, numRows - start);
      for (let r = 0; r < rows; r++) {
        const i = order[start + r]!;
        xb.set(x.subarray(i * d, (i + 1) * d), r * d);
        const y = labels[i]!;
        yb[r] = y;
        wb[r] = y === 1 ? this.positiveWeight : 1;
      }
      const masks = this.dropoutMasks(rows);
      const cost = this.optimizer.minimize(
        () => {
          const input = tf.tensor2d(xb.subarray(0, rows * d), [rows, d]);
          const y = tf.tensor2d(yb.subarray(0, rows), [rows, 1]);
          const w = tf.tensor2d(wb.subarray(0, rows), [rows, 1]);
          const maskTensors = masks?.map((m, l) => tf.tensor2d(m, [rows, options.hiddenLayers[l]!]));
          const z = forwardLogits(tf, this.variables, options.activation, input, maskTensors);
          // Binary cross-entropy on logits, in the overflow-free form max(z,0) - z*y + log(1 + e^-|z|).
          const perRow = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
          return tf.mean(tf.mul(perRow, w)) as TfModule.Scalar;
        },
        true,
        varList,
      );
      lossSum += cost!.dataSync()[0]! * rows;
      cost!.dispose();
      // Between batches: an abort lands within one step, not one epoch.
      await yieldToEventLoop();
      throwIfAborted(signal, epochsDone, options.epochs);
    }
    return lossSum / numRows;
  }

  private dropoutMasks(rows: number): Float32Array[] | undefined {
    const { dropout, hiddenLayers } = this.options;
    if (dropout === 0) return undefined;
    const scale = 1 / (1 - dropout);
    return hiddenLayers.map((units) => {
      const mask = new Float32Array(rows * units);
      for (let i = 0; i < mask.length; i++) mask[i] = this.rng.nextUint32() < this.keepThreshold ? scale : 0;
      return mask;
    });
  }

  predict(x: Float32Array, numRows: number): Float32Array {
    return predictProbabilities(this.tf, this.variables, this.options.activation, x, numRows, x.length / Math.max(numRows, 1));
  }

  /** A copy of the current weights. */
  snapshot(): DenseLayer[] {
    return this.variables.map(({ kernel, bias }) => ({
      inputs: kernel.shape[0],
      units: kernel.shape[1],
      // slice(): the cpu backend's dataSync returns its own storage.
      kernel: (kernel.dataSync() as Float32Array).slice(),
      bias: (bias.dataSync() as Float32Array).slice(),
    }));
  }

  dispose(): void {
    this.optimizer.dispose();
    for (const { kernel, bias } of this.variables) {
      kernel.dispose();
      bias.dispose();
    }
  }
}

/**
 * Undoes the class weight in the output: weighting fraud rows by `w` multiplies the odds the
 * network learns by `w` (the weighted log-loss is minimised at `logit(p) + ln w`), so subtracting
 * `ln w` from the output bias turns scores back into estimates of the real fraud probability.
 * Ranking (and PR-AUC) is unchanged; probabilities become usable in an ensemble and for thresholds.
 */
function withoutWeightBias(layers: readonly DenseLayer[], positiveWeight: number): DenseLayer[] {
  const out = layers.map((layer) => ({ ...layer }));
  const last = out.at(-1)!;
  last.bias = last.bias.map((b) => b - Math.log(positiveWeight));
  return out;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function throwIfAborted(signal: AbortSignal | undefined, done: number, total: number): void {
  if (signal?.aborted) throw new TrainingCancelledError('neural_network', { done, total });
}

/** Checks shapes and classes; returns the number of fraud rows in `train`. */
function checkData(train: Dataset, validation: Dataset): number {
  checkTrainAndValidation(train, validation);
  const positives = countPositives(train.labels);
  if (positives === 0 || positives === train.numRows) {
    throw new DatasetError('SINGLE_CLASS', `train has ${positives} fraud rows of ${train.numRows}: the network needs both classes`);
  }
  if (countPositives(validation.labels) === 0) throw new DatasetError('SINGLE_CLASS', 'validation has no fraud row: early stopping on PR-AUC needs at least one');
  return positives;
}

function parseSaved(json: unknown): NeuralNetworkModelJSON {
  if (json === null || typeof json !== 'object') throw new ModelFormatError(`${NAME}: expected an object`);
  const saved = json as Partial<NeuralNetworkModelJSON>;
  if (saved.name !== NAME) throw new ModelFormatError(`not a ${NAME}: ${String(saved.name)}`);
  if (saved.formatVersion !== FORMAT_VERSION) throw new ModelFormatError(`${NAME}: format version ${String(saved.formatVersion)} is not supported (expected ${FORMAT_VERSION})`);
  if (saved.kind !== 'neural_network') throw new ModelFormatError(`${NAME}: kind must be neural_network, got ${String(saved.kind)}`);
  if (!Array.isArray(saved.featureNames)) throw new ModelFormatError(`${NAME}: featureNames must be an array`);
  if (!(ACTIVATIONS as readonly unknown[]).includes(saved.activation)) throw new ModelFormatError(`${NAME}: unknown activation ${String(saved.activation)}`);
  const layers = saved.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new ModelFormatError(`${NAME}: layers must be a non-empty array`);
  let inputs = saved.featureNames.length;
  for (const [l, layer] of layers.entries()) {
    if (layer?.inputs !== inputs || !Number.isSafeInteger(layer.units) || layer.units < 1) {
      throw new ModelFormatError(`${NAME}: layer ${l} does not connect (expected ${inputs} inputs)`);
    }
    if (typeof layer.kernel !== 'string' || typeof layer.bias !== 'string') throw new ModelFormatError(`${NAME}: layer ${l} weights must be base64 strings`);
    inputs = layer.units;
  }
  if (inputs !== 1) throw new ModelFormatError(`${NAME}: the last layer must have one unit, has ${inputs}`);
  if (saved.preprocessing === undefined || saved.training === undefined) throw new ModelFormatError(`${NAME}: preprocessing and training are required`);
  return saved as NeuralNetworkModelJSON;
}
