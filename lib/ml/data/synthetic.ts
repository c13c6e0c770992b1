/**
 * A synthetic stand-in for the Kaggle credit-card fraud data (`creditcard.csv`): same columns
 * (`Time, V1..V28, Amount` features, `Class` label), same size (284,807 rows) and fraud rate
 * (0.172 %), and a difficulty like the real data: a tuned gradient-boosting model reaches a test
 * PR-AUC around 0.8, not 1.0, and a linear model clearly less.
 *
 * Generative model (all draws from one seeded xoshiro128** stream; same seed, same arrays):
 *
 * 1. Labels: exactly `round(rows * fraudRate)` rows are fraud, chosen uniformly.
 * 2. Time (integer seconds in 0..172,792, two days): legitimate traffic follows a daily cycle
 *    with a night trough around 4 am (about 1/8 of the afternoon peak); fraud is flatter, and the
 *    card-testing pattern peaks at night. Rows are finally sorted by Time, as in the real file.
 * 3. Amount: legitimate amounts are lognormal (median about 22, mean about 80, 0.5 % zeros);
 *    each fraud pattern has its own amount law. Everything is clipped to 25,000 and rounded to cents.
 * 4. V1..V28 imitate PCA components: V_j = sd_j * z_j with the standard deviations of the public
 *    data (1.96 for V1 falling to 0.33 for V28). z is standard normal, scaled by 2.5 on a 1 % share
 *    of "unusual" legitimate customers (heavy tails that look like fraud). V2, V5, V7 and V20
 *    correlate with log(Amount) and V3 with the hour of day, as in the public data.
 * 5. Fraud is a mixture of patterns; each mean shift (in units of sd_j) is multiplied by a per-row
 *    severity drawn from U(0.6, 1.4), so mild frauds overlap the legitimate cloud:
 *    - card testing (33 %): V14 -4, V12 -3.5, V10 -3, V11 +2.5, V4 +2; tiny amounts (median
 *      1.35); mostly at night;
 *    - account takeover (28 %): V17 -4, V14 -3, V3 -2.5, V16 -2, V4 -2 (the opposite V4 shift
 *      of card testing, so V4 is not monotone in the fraud odds); large amounts (median 270);
 *    - interaction (27 %): no mean shift; V5 and V18 share a random sign and are both beyond
 *      2.5 sd (an XOR pattern, invisible in each marginal), V21 and V27 have 3x the spread, and V9
 *      is shifted +2 sd for amounts under 50 and -2 sd above (informative only jointly with Amount);
 *    - hard (12 %): drawn from the legitimate distribution with a faint V14 shift (-0.4 sd):
 *      label noise no model can recover, which caps the achievable PR-AUC near 0.88.
 *
 * Calibration (full 284,807 rows, seed 42, written with `writeCsv`, scikit-learn 1.9.1, stratified
 * 70/15/15 split, boosting early-stopped on validation PR-AUC; command and script in
 * test/integration/python/calibrate_synthetic.py):
 *    HistGradientBoosting (lr 0.1, 31 leaves, 1200 rounds)      test PR-AUC 0.814, ROC-AUC 0.946 (val 0.829)
 *    XGBoost-like (lr 0.1, depth 6, 1200 rounds)                test PR-AUC 0.798, ROC-AUC 0.945 (val 0.815)
 *    logistic regression (standardized)                          test PR-AUC 0.351, ROC-AUC 0.814
 *    logistic regression, class_weight='balanced'                test PR-AUC 0.120, ROC-AUC 0.815
 * 1200 rounds is the script's cap (validation PR-AUC was still creeping up). With only 74 test
 * frauds, expect a few points of noise between seeds and splits.
 */
import { createRandom, type SeededRandom } from './random';
import type { Dataset } from '../types';

// Aliases of the builtins used per row: in a `vm` context (jest, sandboxes) each global lookup of
// `Math` is slow, and generation does millions of them.
const { abs, cos, exp, floor, log1p, max, min, round, PI } = Math;

/** Options of {@link generateTransactions}. */
export interface SyntheticOptions {
  /** Number of rows. @default 284807 (the size of the public data) */
  rows?: number;
  /** Seed of every random draw; the same seed gives identical arrays. @default 42 */
  seed?: number;
  /** Share of fraud rows; exactly `round(rows * fraudRate)` rows get label 1. @default 0.00172 */
  fraudRate?: number;
}

/** Canonical feature names of the credit-card schema, in column order. */
export const CREDIT_CARD_FEATURES: readonly string[] = Object.freeze(['Time', ...Array.from({ length: 28 }, (_, i) => `V${i + 1}`), 'Amount']);
/** Canonical label column of the credit-card schema. */
export const CREDIT_CARD_LABEL = 'Class';

/** Standard deviations of V1..V28 in the public data (PCA components, decreasing variance). */
const V_SD = [
  1.959, 1.651, 1.516, 1.416, 1.38, 1.332, 1.237, 1.194, 1.099, 1.089, 1.021, 0.999, 0.995, 0.959, 0.915, 0.876, 0.849, 0.838,
  0.814, 0.771, 0.735, 0.726, 0.624, 0.606, 0.521, 0.482, 0.404, 0.33,
];
const DAY = 86_400;
/** Last second of the public data's two days. */
export const MAX_TIME = 172_792;
const MAX_AMOUNT = 25_000;
const NUM_FEATURES = 30;
/** Column index of V_k is k (Time is 0); Amount is 29. */
const AMOUNT = 29;

// Difficulty knobs, calibrated together (see the module comment): more tail customers or milder
// severities lower every model's PR-AUC; a larger hard share lowers its ceiling.
/** Share of legitimate rows whose components are all spread wider (unusual but honest customers). */
const TAIL_SHARE = 0.01;
const TAIL_SCALE = 2.5;
/** Range of the per-fraud multiplier of the pattern's mean shifts. */
const SEVERITY_MIN = 0.6;
const SEVERITY_MAX = 1.4;
/** Smallest |z| of V5 and V18 in the interaction pattern (legitimate rows reach it in both about 1 in 13,000 times). */
const XOR_MIN = 2.5;

/** The fraud patterns of the mixture (see the module comment). */
export const FRAUD_PATTERNS = ['card_testing', 'takeover', 'interaction', 'hard'] as const;
export type FraudPattern = (typeof FRAUD_PATTERNS)[number];
type Pattern = FraudPattern;
/** Mixture weights of the fraud patterns, cumulative order as listed. */
const PATTERNS: ReadonlyArray<readonly [Pattern, number]> = [
  ['card_testing', 0.33],
  ['takeover', 0.28],
  ['interaction', 0.27],
  ['hard', 0.12],
];
/** Mean shifts in units of sd_j, keyed by component number. */
const SHIFTS: Record<Pattern, ReadonlyArray<readonly [number, number]>> = {
  card_testing: [
    [14, -4],
    [12, -3.5],
    [10, -3],
    [11, 2.5],
    [4, 2],
  ],
  takeover: [
    [17, -4],
    [14, -3],
    [3, -2.5],
    [16, -2],
    [4, -2],
  ],
  interaction: [],
  hard: [[14, -0.4]],
};

/** Relative intensity of legitimate traffic at a second of the day: trough at 4 am, peak at 4 pm. */
function legitIntensity(secondOfDay: number): number {
  const phase = (2 * PI * (secondOfDay / 3600 - 4)) / 24;
  return 0.12 + 0.88 * Math.pow(0.5 - 0.5 * cos(phase), 1.5);
}
/** Card testing peaks around 3 am. */
function nightIntensity(secondOfDay: number): number {
  const phase = (2 * PI * (secondOfDay / 3600 - 3)) / 24;
  return 0.35 + 0.65 * (0.5 + 0.5 * cos(phase));
}

/**
 * Cumulative distribution of the minute of the two days (0..2879) under a daily intensity, so a
 * time is one uniform draw and a binary search instead of rejection sampling with trigonometry.
 */
function minuteCdf(intensity: (secondOfDay: number) => number): Float64Array {
  const minutes = floor(MAX_TIME / 60) + 1;
  const cdf = new Float64Array(minutes);
  let total = 0;
  for (let m = 0; m < minutes; m++) {
    // The last minute is cut at MAX_TIME.
    const seconds = min(60, MAX_TIME + 1 - m * 60);
    total += intensity(((m * 60) % DAY) + 30) * seconds;
    cdf[m] = total;
  }
  for (let m = 0; m < minutes; m++) cdf[m]! /= total;
  return cdf;
}
// Read-only after construction, so sharing them between generations (and threads' own copies) is safe.
const LEGIT_TIMES = minuteCdf(legitIntensity);
const NIGHT_TIMES = minuteCdf(nightIntensity);
const FLAT_TIMES = minuteCdf(() => 1);

/** Daily cycle driving V3: +1 at 4 am, -1 at 4 pm. */
function hourCycle(time: number): number {
  return cos((2 * PI * ((time % DAY) / 3600 - 4)) / 24);
}
/** Mean of `hourCycle` over legitimate traffic (from the minute CDF). */
const HOUR_CYCLE_MEAN = LEGIT_TIMES.reduce((sum, p, m) => sum + (p - (m > 0 ? LEGIT_TIMES[m - 1]! : 0)) * hourCycle(m * 60 + 30), 0);
/** Mean and standard deviation of log1p(Amount) of legitimate rows (measured on 284,807 rows). */
const LOG_AMOUNT_MEAN = 3.2;
const LOG_AMOUNT_SD = 1.47;

/** An integer second in 0..MAX_TIME drawn from a minute CDF, uniform within the minute. */
function drawTime(rng: SeededRandom, cdf: Float64Array): number {
  const u = rng.next();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo * 60 + rng.int(min(60, MAX_TIME + 1 - lo * 60));
}

function lognormal(rng: SeededRandom, mu: number, sigma: number): number {
  return exp(mu + sigma * rng.normal());
}
function cents(amount: number): number {
  return round(min(MAX_AMOUNT, max(0, amount)) * 100) / 100;
}

function pickPattern(rng: SeededRandom): Pattern {
  let u = rng.next();
  for (const [pattern, weight] of PATTERNS) {
    if (u < weight) return pattern;
    u -= weight;
  }
  return 'hard';
}

/**
 * Fills one row (30 values at `row`) of the unsorted buffer. Legitimate rows and the base of
 * fraud rows share the same construction, so fraud differs only where a pattern says so.
 */
function drawRow(rng: SeededRandom, out: Float32Array, row: number, fraud: boolean): Pattern | null {
  const pattern = fraud ? pickPattern(rng) : null;
  const time =
    pattern === 'card_testing' ? drawTime(rng, NIGHT_TIMES) : pattern === null || pattern === 'hard' ? drawTime(rng, LEGIT_TIMES) : drawTime(rng, FLAT_TIMES);

  let amount: number;
  if (pattern === 'card_testing') amount = lognormal(rng, 0.3, 1.0);
  else if (pattern === 'takeover') amount = lognormal(rng, 5.6, 1.0);
  else if (pattern === 'interaction') amount = lognormal(rng, 3.6, 1.5);
  else amount = rng.next() < 0.005 ? 0 : lognormal(rng, 3.1, 1.6);
  amount = cents(amount);
  // Standardized log amount (legitimate mean and spread) drives the components correlated with
  // Amount; the hour-of-day term is centred on legitimate traffic, so legitimate V's stay centred.
  const a = (log1p(amount) - LOG_AMOUNT_MEAN) / LOG_AMOUNT_SD;
  const hourPhase = hourCycle(time) - HOUR_CYCLE_MEAN;

  const tail = pattern === null && rng.next() < TAIL_SHARE ? TAIL_SCALE : 1;
  const base = row * NUM_FEATURES;
  out[base] = time;
  for (let k = 1; k <= 28; k++) {
    let z = rng.normal() * tail;
    if (k === 2) z = -0.45 * a + 0.893 * z;
    else if (k === 5) z = -0.35 * a + 0.937 * z;
    else if (k === 7) z = 0.35 * a + 0.937 * z;
    else if (k === 20) z = 0.35 * a + 0.937 * z;
    else if (k === 3) z = 0.4 * hourPhase + 0.9 * z;
    out[base + k] = z; // in sd units for now
  }

  if (pattern !== null) {
    const severity = SEVERITY_MIN + (SEVERITY_MAX - SEVERITY_MIN) * rng.next();
    for (const [k, shift] of SHIFTS[pattern]) out[base + k] = out[base + k]! + shift * severity;
    if (pattern === 'interaction') {
      const sign = rng.next() < 0.5 ? -1 : 1;
      out[base + 5] = sign * (XOR_MIN + 0.7 * abs(rng.normal()));
      out[base + 18] = sign * (XOR_MIN + 0.7 * abs(rng.normal()));
      out[base + 21] = out[base + 21]! * 3;
      out[base + 27] = out[base + 27]! * 3;
      out[base + 9] = out[base + 9]! + (amount < 50 ? 2 : -2);
    }
  }
  for (let k = 1; k <= 28; k++) out[base + k] = out[base + k]! * V_SD[k - 1]!;
  out[base + AMOUNT] = amount;
  return pattern;
}

function withDefaults(options: SyntheticOptions): Required<SyntheticOptions> {
  const { rows = 284_807, seed = 42, fraudRate = 0.00172 } = options;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${seed}`);
  if (!(fraudRate >= 0 && fraudRate <= 1)) throw new RangeError(`fraudRate must be in [0, 1], got ${fraudRate}`);
  return { rows, seed, fraudRate };
}

/**
 * Generates the synthetic credit-card dataset described in this module's doc comment. About
 * 0.7 s for the default 284,807 rows on this 2-core machine.
 */
export function generateTransactions(options: SyntheticOptions = {}): Dataset {
  return generateTransactionsWithPatterns(options).dataset;
}

/**
 * {@link generateTransactions} (identical arrays for the same options) plus the fraud pattern of
 * each row: `patterns[i]` is 0 for a legitimate row, else `1 + FRAUD_PATTERNS.indexOf(pattern)`.
 * For tests and calibration: a model never sees this.
 */
export function generateTransactionsWithPatterns(options: SyntheticOptions = {}): { dataset: Dataset; patterns: Uint8Array } {
  const { rows, seed, fraudRate } = withDefaults(options);
  const rng = createRandom(seed);

  // 1. Which rows are fraud: a partial Fisher-Yates draw of exactly `frauds` indices.
  const frauds = round(rows * fraudRate);
  const isFraud = new Uint8Array(rows);
  const pool = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) pool[i] = i;
  for (let i = 0; i < frauds; i++) {
    const j = i + rng.int(rows - i);
    const picked = pool[j]!;
    pool[j] = pool[i]!;
    isFraud[picked] = 1;
  }

  // 2-5. Draw every row, then sort by Time (a counting sort: times are integer seconds).
  const raw = new Float32Array(rows * NUM_FEATURES);
  const rawPatterns = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const pattern = drawRow(rng, raw, i, isFraud[i] === 1);
    rawPatterns[i] = pattern === null ? 0 : 1 + FRAUD_PATTERNS.indexOf(pattern);
  }
  const starts = new Uint32Array(MAX_TIME + 2);
  for (let i = 0; i < rows; i++) starts[raw[i * NUM_FEATURES]! + 1]!++;
  for (let t = 1; t < starts.length; t++) starts[t]! += starts[t - 1]!;
  const features = new Float32Array(rows * NUM_FEATURES);
  const labels = new Uint8Array(rows);
  const patterns = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const from = i * NUM_FEATURES;
    const to = starts[raw[from]!]!++;
    for (let j = 0; j < NUM_FEATURES; j++) features[to * NUM_FEATURES + j] = raw[from + j]!;
    labels[to] = isFraud[i]!;
    patterns[to] = rawPatterns[i]!;
  }
  return {
    dataset: { features, labels, numRows: rows, numFeatures: NUM_FEATURES, featureNames: [...CREDIT_CARD_FEATURES] },
    patterns,
  };
}
