import { ModelFormatError } from '../errors';
import { StandardScaler, type StandardScalerJSON } from '../preprocess';
import type { Dataset } from '../types';

export interface NetworkPreprocessingJSON {
  /** Features transformed with `sign(x) * log1p(|x|)` before scaling. */
  log1pFeatures: string[];
  scaler: StandardScalerJSON;
}

/**
 * What the network sees: selected heavy-tailed columns through `sign(x) * log1p(|x|)`, then every
 * column standardised with a scaler fitted on the training split. Saved inside the model.
 */
export class NetworkPreprocessing {
  private constructor(
    readonly log1pFeatures: readonly string[],
    private readonly log1pColumns: readonly number[],
    readonly scaler: StandardScaler,
  ) {}

  /** @param log1pFeatures names that must all be features of `train` (checked by the caller). */
  static fit(train: Dataset, log1pFeatures: readonly string[]): NetworkPreprocessing {
    const columns = log1pFeatures.map((name) => train.featureNames.indexOf(name));
    const logged = applyLog1p(train.features, train.numRows, train.numFeatures, columns);
    const scaler = StandardScaler.fit({ ...train, features: logged });
    return new NetworkPreprocessing([...log1pFeatures], columns, scaler);
  }

  /** A new array of network inputs; `features` is left untouched. */
  transform(features: Float32Array, numRows: number): Float32Array {
    const numFeatures = this.scaler.mean.length;
    const logged = applyLog1p(features, numRows, numFeatures, this.log1pColumns);
    return this.scaler.transform(logged, numRows);
  }

  toJSON(): NetworkPreprocessingJSON {
    return { log1pFeatures: [...this.log1pFeatures], scaler: this.scaler.toJSON() };
  }

  static load(json: NetworkPreprocessingJSON): NetworkPreprocessing {
    if (json === null || typeof json !== 'object' || !Array.isArray(json.log1pFeatures)) {
      throw new ModelFormatError('neural network preprocessing: log1pFeatures must be an array');
    }
    const scaler = StandardScaler.load(json.scaler);
    const columns = json.log1pFeatures.map((name) => {
      const j = scaler.featureNames.indexOf(name);
      if (j < 0) throw new ModelFormatError(`neural network preprocessing: log1p feature ${JSON.stringify(name)} is not a feature`);
      return j;
    });
    return new NetworkPreprocessing([...json.log1pFeatures], columns, scaler);
  }
}

function applyLog1p(features: Float32Array, numRows: number, numFeatures: number, columns: readonly number[]): Float32Array {
  if (columns.length === 0) return features; // the scaler copies anyway
  const out = Float32Array.from(features);
  for (let i = 0; i < numRows; i++) {
    for (const j of columns) {
      const x = out[i * numFeatures + j]!;
      out[i * numFeatures + j] = Math.sign(x) * Math.log1p(Math.abs(x));
    }
  }
  return out;
}
