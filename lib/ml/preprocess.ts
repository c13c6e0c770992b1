import { ModelFormatError } from './errors';
import type { Dataset } from './types';

export interface StandardScalerJSON {
  name: 'StandardScaler';
  /** Per feature; a column not scaled has mean 0 and scale 1. */
  mean: number[];
  scale: number[];
  /** Feature names the scaler was fitted on, in order. */
  featureNames: string[];
}

/**
 * Per-column `(x - mean) / std`, fitted on the training split only and saved inside each model, so
 * serving applies exactly what training did. Constant columns get scale 1 (no division by zero).
 */
export class StandardScaler {
  private constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
    readonly featureNames: string[],
  ) {}

  /** @param columns which columns to scale (default all); the others pass through unchanged. */
  static fit(data: Dataset, columns?: readonly number[]): StandardScaler {
    const d = data.numFeatures;
    const mean = new Float64Array(d);
    const scale = new Float64Array(d).fill(1);
    const selected = columns ?? Array.from({ length: d }, (_, j) => j);
    const n = data.numRows;
    for (const j of selected) {
      // Welford: stable for large n and values of very different magnitude (Time vs V*).
      let m = 0;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const x = data.features[i * d + j]!;
        const delta = x - m;
        m += delta / (i + 1);
        s += delta * (x - m);
      }
      const std = n > 0 ? Math.sqrt(s / n) : 0;
      mean[j] = m;
      scale[j] = std > 1e-12 ? std : 1;
    }
    return new StandardScaler(mean, scale, [...data.featureNames]);
  }

  /** A new row-major array; the input is left untouched. */
  transform(features: Float32Array, numRows: number): Float32Array {
    const d = this.mean.length;
    if (features.length !== numRows * d) throw new RangeError(`expected ${numRows}×${d} values, got ${features.length}`);
    const out = new Float32Array(features.length);
    for (let i = 0; i < numRows; i++) {
      const base = i * d;
      for (let j = 0; j < d; j++) out[base + j] = (features[base + j]! - this.mean[j]!) / this.scale[j]!;
    }
    return out;
  }

  toJSON(): StandardScalerJSON {
    return { name: 'StandardScaler', mean: Array.from(this.mean), scale: Array.from(this.scale), featureNames: [...this.featureNames] };
  }

  static load(json: StandardScalerJSON): StandardScaler {
    if (json?.name !== 'StandardScaler') throw new ModelFormatError(`not a StandardScaler: ${String(json?.name)}`);
    if (json.mean.length !== json.scale.length || json.mean.length !== json.featureNames.length) {
      throw new ModelFormatError('StandardScaler: mean, scale and featureNames differ in length');
    }
    return new StandardScaler(Float64Array.from(json.mean), Float64Array.from(json.scale), [...json.featureNames]);
  }
}
