import { InvalidHyperparameterError } from '../errors';

export const CALIBRATIONS = ['platt', 'isotonic'] as const;
/** How the anomaly score becomes a fraud probability; see `calibration.ts`. */
export type Calibration = (typeof CALIBRATIONS)[number];

/** Hyperparameters of {@link IsolationForestModel.train} (the names and defaults of scikit-learn's `IsolationForest`). */
export interface IsolationForestOptions {
  /** Number of isolation trees. @default 200 */
  nTrees?: number;
  /** Rows drawn (without replacement) to grow each tree; capped at the number of rows. @default 256 */
  maxSamples?: number;
  /** Share of the features each tree may split on, in (0, 1]; at least one feature. @default 1 */
  maxFeatures?: number;
  /**
   * Mapping of the anomaly score to a fraud probability, fitted on the validation split.
   * `'isotonic'` (a monotone step function) follows any shape but ties the scores inside each
   * step; `'platt'` (a logistic curve) keeps the ranking of the scores exactly. On the synthetic
   * data at full size (3 forest seeds) isotonic had about 10 % lower test log-loss, a lower Brier
   * score and a higher PR-AUC (0.022 vs 0.019), at a ROC-AUC lower by up to 0.01: better
   * probabilities for an ensemble, hence the default.
   * @default 'isotonic'
   */
  calibration?: Calibration;
}

export type ResolvedIsolationForestOptions = Required<IsolationForestOptions>;

/** Fills defaults and rejects invalid values with {@link InvalidHyperparameterError}. */
export function withDefaults(options: IsolationForestOptions = {}): ResolvedIsolationForestOptions {
  const { nTrees = 200, maxSamples = 256, maxFeatures = 1, calibration = 'isotonic' } = options;
  if (!Number.isSafeInteger(nTrees) || nTrees < 1) throw new InvalidHyperparameterError(`nTrees must be a positive integer, got ${String(nTrees)}`);
  // One row cannot be split: a tree needs two.
  if (!Number.isSafeInteger(maxSamples) || maxSamples < 2) throw new InvalidHyperparameterError(`maxSamples must be an integer >= 2, got ${String(maxSamples)}`);
  if (typeof maxFeatures !== 'number' || !(maxFeatures > 0 && maxFeatures <= 1)) {
    throw new InvalidHyperparameterError(`maxFeatures must be a share in (0, 1], got ${String(maxFeatures)}`);
  }
  if (!(CALIBRATIONS as readonly string[]).includes(calibration)) {
    throw new InvalidHyperparameterError(`calibration must be one of ${CALIBRATIONS.join(', ')}, got ${String(calibration)}`);
  }
  return { nTrees, maxSamples, maxFeatures, calibration };
}
