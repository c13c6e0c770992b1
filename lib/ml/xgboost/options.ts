import { InvalidHyperparameterError } from '../errors';
import type { TrainControl } from '../types';
import type { BoosterParams, XGBoostEngine } from './engine';

/** How trees are grown; `hist` bins each feature into at most `maxBin` buckets (fast), `exact` tries every split. */
export type TreeMethod = 'hist' | 'exact' | 'approx';
export const TREE_METHODS: readonly TreeMethod[] = ['hist', 'exact', 'approx'];

/** Gradient-boosting hyperparameters; XGBoost's names in brackets. */
export interface XGBoostOptions {
  /** Boosting rounds (one tree each) [num_boost_round]. @default 200 */
  nRounds?: number;
  /** Maximum tree depth [max_depth]. @default 6 */
  maxDepth?: number;
  /** Learning rate, the shrinkage of each tree [eta]. @default 0.1 */
  eta?: number;
  /** Share of rows sampled for each tree [subsample]. @default 0.8 */
  subsample?: number;
  /** Share of features sampled for each tree [colsample_bytree]. @default 0.8 */
  colsampleBytree?: number;
  /** Minimum sum of hessians in a child [min_child_weight]. @default 1 */
  minChildWeight?: number;
  /** Minimum loss reduction to split [gamma]. @default 0 */
  gamma?: number;
  /** L2 regularization of leaf weights [lambda]. @default 1 */
  lambda?: number;
  /** L1 regularization of leaf weights [alpha]. @default 0 */
  alpha?: number;
  /** @default 'hist' */
  treeMethod?: TreeMethod;
  /** Buckets per feature for `hist` [max_bin]. @default 256 */
  maxBin?: number;
  /**
   * Weight of the fraud class in the loss [scale_pos_weight]: `'auto'` is `negatives / positives`
   * of the training split, the imbalance handling of this model (no resampling).
   * @default 'auto'
   */
  scalePosWeight?: 'auto' | number;
  /**
   * Stop when the validation PR-AUC has not improved for this many rounds, and keep the trees up to
   * the best round. Needs a validation split with fraud rows. `null` trains all `nRounds`.
   * @default null
   */
  earlyStoppingRounds?: number | null;
  /** The XGBoost implementation (not saved: a loaded model uses the engine that reads its format). @default defaultEngine(): native libxgboost when it loads, else wasm */
  engine?: XGBoostEngine;
}

/** Every hyperparameter resolved; JSON-safe, saved with the model and logged as parameters. */
export interface ResolvedXGBoostOptions {
  nRounds: number;
  maxDepth: number;
  eta: number;
  subsample: number;
  colsampleBytree: number;
  minChildWeight: number;
  gamma: number;
  lambda: number;
  alpha: number;
  treeMethod: TreeMethod;
  maxBin: number;
  scalePosWeight: 'auto' | number;
  earlyStoppingRounds: number | null;
  seed: number;
}

interface Bounds {
  min?: number;
  /** The minimum itself is not allowed. */
  minExclusive?: boolean;
  max?: number;
  integer?: boolean;
}

/** Throws InvalidHyperparameterError unless `value` is a finite number within the bounds. */
export function checkNumber(name: string, value: unknown, bounds: Bounds): number {
  const { min, max, minExclusive = false, integer = false } = bounds;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isSafeInteger(value)) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || value <= max);
  if (!ok) {
    const range = `${min === undefined ? '(-inf' : minExclusive ? `(${min}` : `[${min}`}, ${max === undefined ? 'inf)' : `${max}]`}`;
    throw new InvalidHyperparameterError(`${name} must be ${integer ? 'an integer' : 'a number'} in ${range}, got ${String(value)}`);
  }
  return value;
}

/** The seed of `TrainControl` (default 42), checked to fit XGBoost's 32-bit `seed`. */
export function resolveSeed(seed: unknown = 42): number {
  return checkNumber('seed', seed, { min: -(2 ** 31), max: 2 ** 31 - 1, integer: true });
}

export function checkTreeMethod(value: unknown): TreeMethod {
  if (!TREE_METHODS.includes(value as TreeMethod)) throw new InvalidHyperparameterError(`treeMethod must be one of ${TREE_METHODS.join(', ')}, got ${String(value)}`);
  return value as TreeMethod;
}

export function checkScalePosWeight(value: unknown): 'auto' | number {
  if (value === 'auto') return value;
  return checkNumber('scalePosWeight', value, { min: 0, minExclusive: true });
}

/** Fills the defaults of {@link XGBoostOptions} and rejects invalid values with InvalidHyperparameterError. */
export function withDefaults(options: XGBoostOptions & TrainControl = {}): ResolvedXGBoostOptions {
  const {
    nRounds = 200,
    maxDepth = 6,
    eta = 0.1,
    subsample = 0.8,
    colsampleBytree = 0.8,
    minChildWeight = 1,
    gamma = 0,
    lambda = 1,
    alpha = 0,
    treeMethod = 'hist',
    maxBin = 256,
    scalePosWeight = 'auto',
    earlyStoppingRounds = null,
    seed,
  } = options;
  return {
    nRounds: checkNumber('nRounds', nRounds, { min: 1, max: 100_000, integer: true }),
    maxDepth: checkNumber('maxDepth', maxDepth, { min: 1, max: 30, integer: true }),
    eta: checkNumber('eta', eta, { min: 0, minExclusive: true, max: 1 }),
    subsample: checkNumber('subsample', subsample, { min: 0, minExclusive: true, max: 1 }),
    colsampleBytree: checkNumber('colsampleBytree', colsampleBytree, { min: 0, minExclusive: true, max: 1 }),
    minChildWeight: checkNumber('minChildWeight', minChildWeight, { min: 0 }),
    gamma: checkNumber('gamma', gamma, { min: 0 }),
    lambda: checkNumber('lambda', lambda, { min: 0 }),
    alpha: checkNumber('alpha', alpha, { min: 0 }),
    treeMethod: checkTreeMethod(treeMethod),
    maxBin: checkNumber('maxBin', maxBin, { min: 2, max: 65_536, integer: true }),
    scalePosWeight: checkScalePosWeight(scalePosWeight),
    earlyStoppingRounds: earlyStoppingRounds === null ? null : checkNumber('earlyStoppingRounds', earlyStoppingRounds, { min: 1, integer: true }),
    seed: resolveSeed(seed),
  };
}

/** The XGBoost parameters of resolved options, with `scale_pos_weight` already resolved to a number. */
export function toBoosterParams(o: ResolvedXGBoostOptions, scalePosWeight: number): BoosterParams {
  return {
    objective: 'binary:logistic',
    booster: 'gbtree',
    silent: 1,
    seed: o.seed,
    max_depth: o.maxDepth,
    eta: o.eta,
    subsample: o.subsample,
    colsample_bytree: o.colsampleBytree,
    min_child_weight: o.minChildWeight,
    gamma: o.gamma,
    lambda: o.lambda,
    alpha: o.alpha,
    tree_method: o.treeMethod,
    max_bin: o.maxBin,
    scale_pos_weight: scalePosWeight,
  };
}
