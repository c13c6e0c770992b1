/**
 * Kernel SHAP (Lundberg & Lee 2017): model-agnostic Shapley values by weighted linear regression
 * over coalitions of features, following the `shap` library's `KernelExplainer`.
 *
 * The value of a coalition S is the model's mean output when the features in S take the explained
 * row's values and the others take each background row's values in turn (interventional, features
 * treated as independent), mapped through the link: v(S) = link(mean_b f(x_S, b_S̄)). The Shapley
 * values of v are the solution of a least-squares fit of v(S) on the coalition masks with the
 * Shapley kernel weight (M − 1) / (C(M, |S|) |S| (M − |S|)), constrained so that the contributions
 * add up exactly to link(f(x)) − link(E_b f(b)). Enumerating all coalitions gives the exact values;
 * like `shap`, coalition sizes whose every subset fits in the budget are enumerated (smallest and
 * largest first, a subset with its complement), and the rest are sampled in complement pairs.
 *
 * Features whose value in `x` equals every background row's value cannot change the output; as in
 * `shap`, they get exactly 0 and are left out of the regression.
 */
import { createRandom, type SeededRandom } from '../ml/data/random';
import { ExplainError } from './errors';

/** The model: one output per row of a row-major `rows` of `n` rows (e.g. a fraud probability). */
export type PredictFunction = (rows: Float32Array, n: number) => Float32Array;

export type Link = 'identity' | 'logit';

export interface KernelShapOptions {
  /**
   * Coalitions to evaluate (each costs one model call on `numBackground` rows). Capped at the
   * 2^M − 2 proper non-empty coalitions of the M features that vary, which gives exact values.
   * @default 2 * numFeatures + 2048
   */
  nSamples?: number;
  /** Seed of the coalition sampling. @default 42 */
  seed?: number;
  /** Space the contributions add up in: `'logit'` explains `log(p / (1 - p))` of a probability model. @default 'identity' */
  link?: Link;
  /** Rows per `predict` call, to bound memory. @default 65536 */
  batchRows?: number;
}

interface ResolvedKernelShapOptions {
  nSamples: number;
  seed: number;
  link: Link;
  batchRows: number;
}

export interface KernelShapResult {
  /** One contribution per feature, in link space. */
  contributions: Float64Array;
  /** link(mean model output over the background). */
  bias: number;
  /** link(f(x)) = bias + Σ contributions. */
  output: number;
  /** Coalitions evaluated. */
  coalitions: number;
  /** Whether every coalition was evaluated, making the values exact rather than estimated. */
  exact: boolean;
}

/**
 * Fills the defaults and checks the options.
 * @throws TypeError for a non-integer or non-positive `nSamples`/`batchRows`, a non-integer seed or an unknown link
 */
export function withDefaults(options: KernelShapOptions, numFeatures: number): ResolvedKernelShapOptions {
  const { nSamples = 2 * numFeatures + 2048, seed = 42, link = 'identity', batchRows = 65536 } = options;
  if (!Number.isSafeInteger(nSamples) || nSamples < 1) throw new TypeError(`nSamples must be a positive integer, got ${nSamples}`);
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${seed}`);
  if (link !== 'identity' && link !== 'logit') throw new TypeError(`link must be 'identity' or 'logit', got ${String(link)}`);
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new TypeError(`batchRows must be a positive integer, got ${batchRows}`);
  return { nSamples, seed, link, batchRows };
}

/** Probabilities are clamped away from 0 and 1 so a saturated model gives a large but finite logit. */
const LOGIT_EPSILON = 1e-12;

export function applyLink(link: Link, value: number): number {
  if (link === 'identity') return value;
  const p = Math.min(Math.max(value, LOGIT_EPSILON), 1 - LOGIT_EPSILON);
  return Math.log(p / (1 - p));
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** Coalitions with their regression weights; a mask is one byte per varying feature. */
class CoalitionSet {
  readonly masks: Uint8Array[] = [];
  readonly weights: number[] = [];
  private readonly index = new Map<string, number>();

  constructor(private readonly m: number) {}

  get size(): number {
    return this.masks.length;
  }

  /** Adds `mask` with `weight`, or adds `weight` to it when already present; returns whether it was new. */
  add(mask: Uint8Array, weight: number): boolean {
    const key = mask.join('');
    const at = this.index.get(key);
    if (at !== undefined) {
      this.weights[at]! += weight;
      return false;
    }
    this.index.set(key, this.masks.length);
    this.masks.push(mask);
    this.weights.push(weight);
    return true;
  }

  complement(mask: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.m);
    for (let j = 0; j < this.m; j++) out[j] = 1 - mask[j]!;
    return out;
  }
}

/** Calls `visit` with every subset of size `k` of `0..m-1` as a 0/1 mask (lexicographic). */
function forEachSubset(m: number, k: number, visit: (mask: Uint8Array) => void): void {
  const chosen = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    const mask = new Uint8Array(m);
    for (const j of chosen) mask[j] = 1;
    visit(mask);
    let i = k - 1;
    while (i >= 0 && chosen[i] === m - k + i) i--;
    if (i < 0) return;
    chosen[i]!++;
    for (let j = i + 1; j < k; j++) chosen[j] = chosen[j - 1]! + 1;
  }
}

/**
 * Picks the coalitions as `shap`'s KernelExplainer does: sizes s and M − s share the kernel weight
 * of s; a size pair is enumerated while the remaining budget covers all its subsets at its share
 * of the remaining weight, and the remaining sizes are sampled (a random subset and its complement)
 * and reweighted so each size keeps its share of the kernel weight.
 */
function chooseCoalitions(m: number, nSamples: number, rng: SeededRandom): { set: CoalitionSet; exact: boolean } {
  const set = new CoalitionSet(m);
  const numSizes = Math.ceil((m - 1) / 2);
  const numPairedSizes = Math.floor((m - 1) / 2);
  const weightOfSize = Array.from({ length: numSizes }, (_, i) => {
    const s = i + 1;
    return ((m - 1) / (s * (m - s))) * (s <= numPairedSizes ? 2 : 1);
  });
  const totalWeight = weightOfSize.reduce((a, b) => a + b, 0);
  for (let i = 0; i < numSizes; i++) weightOfSize[i]! /= totalWeight;

  let samplesLeft = nSamples;
  let numFullSizes = 0;
  const remaining = [...weightOfSize];
  for (let i = 0; i < numSizes; i++) {
    const s = i + 1;
    const paired = s <= numPairedSizes;
    const count = binomial(m, s) * (paired ? 2 : 1);
    if ((samplesLeft * remaining[i]!) / count < 1 - 1e-8) break;
    numFullSizes++;
    samplesLeft -= count;
    // Renormalize what is left over the sizes not yet enumerated.
    if (remaining[i]! < 1) {
      const scale = 1 - remaining[i]!;
      for (let k = i + 1; k < numSizes; k++) remaining[k]! /= scale;
    }
    const w = (weightOfSize[i]! / binomial(m, s)) / (paired ? 2 : 1);
    forEachSubset(m, s, (mask) => {
      set.add(mask, w);
      if (paired) set.add(set.complement(mask), w);
    });
  }

  if (numFullSizes === numSizes) return { set, exact: true };
  if (samplesLeft <= 0) return { set, exact: false };
  const fixed = set.size;
  // Sampled sizes: a paired draw adds two coalitions, so paired sizes are drawn half as often.
  const drawWeight = weightOfSize.slice(numFullSizes).map((w, k) => (numFullSizes + k + 1 <= numPairedSizes ? w / 2 : w));
  const drawTotal = drawWeight.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of drawWeight) cumulative.push((acc += w / drawTotal));
  const order = Array.from({ length: m }, (_, j) => j);
  // Like `shap`, at most 4 draws per wanted coalition: with few sizes left, repeats are common.
  const maxDraws = 4 * samplesLeft;
  for (let draw = 0; draw < maxDraws && samplesLeft > 0; draw++) {
    const u = rng.next();
    let k = 0;
    while (k < cumulative.length - 1 && u >= cumulative[k]!) k++;
    const s = numFullSizes + k + 1;
    for (let i = 0; i < s; i++) {
      const r = i + rng.int(m - i);
      [order[i], order[r]] = [order[r]!, order[i]!];
    }
    const mask = new Uint8Array(m);
    for (let i = 0; i < s; i++) mask[order[i]!] = 1;
    const paired = s <= numPairedSizes;
    if (set.add(mask, 1)) {
      samplesLeft--;
      if (paired && samplesLeft > 0) {
        set.add(set.complement(mask), 1);
        samplesLeft--;
      }
    } else if (paired) {
      set.add(set.complement(mask), 1);
    }
  }
  // The sampled coalitions share the kernel weight of the sizes that were not enumerated.
  const sampledWeight = weightOfSize.slice(numFullSizes).reduce((a, b) => a + b, 0);
  let sampledTotal = 0;
  for (let c = fixed; c < set.size; c++) sampledTotal += set.weights[c]!;
  for (let c = fixed; c < set.size; c++) set.weights[c]! *= sampledWeight / sampledTotal;
  return { set, exact: false };
}

/**
 * Solves the symmetric positive semi-definite system `a · w = b` (n × n, row-major) by Cholesky.
 * A (near) singular system, from too few coalitions for the features, gets a tiny ridge so it
 * still returns the least-squares solution of smallest norm, approximately.
 */
function solveSymmetric(a: Float64Array, b: Float64Array, n: number): Float64Array {
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, a[i * n + i]!);
  for (let ridge = 0; ; ridge = ridge === 0 ? maxDiagonal * 1e-12 : ridge * 100) {
    const l = new Float64Array(n * n);
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = a[i * n + j]! + (i === j ? ridge : 0);
        for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
        if (i === j) {
          if (!(sum > maxDiagonal * 1e-13)) {
            ok = false;
            break;
          }
          l[i * n + i] = Math.sqrt(sum);
        } else {
          l[i * n + j] = sum / l[j * n + j]!;
        }
      }
    }
    if (!ok) {
      if (ridge > maxDiagonal) throw new RangeError('Kernel SHAP: the coalition regression is singular');
      continue;
    }
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = b[i]!;
      for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
      y[i] = sum / l[i * n + i]!;
    }
    const w = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      let sum = y[i]!;
      for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * w[k]!;
      w[i] = sum / l[i * n + i]!;
    }
    return w;
  }
}

function mean(values: Float32Array, from: number, count: number): number {
  let sum = 0;
  for (let i = from; i < from + count; i++) sum += values[i]!;
  return sum / count;
}

/** Whether `x[j]` differs from feature `j` of some background row (`NaN` equals `NaN`). */
function varies(x: Float32Array, background: Float32Array, numBackground: number, numFeatures: number, j: number): boolean {
  const v = x[j]!;
  for (let b = 0; b < numBackground; b++) {
    const u = background[b * numFeatures + j]!;
    if (!(u === v || (Number.isNaN(u) && Number.isNaN(v)))) return true;
  }
  return false;
}

/**
 * Kernel SHAP values of the row `x` for any model `predict`, with `background` (row-major,
 * `numBackground × numFeatures`) standing in for absent features. Deterministic for a seed.
 * @throws ExplainError (`NO_BACKGROUND`) when there are no background rows
 * @throws RangeError when `x` or `background` has the wrong length, or `predict` returns the wrong number of outputs
 * @throws TypeError for invalid options
 */
export function kernelShap(
  predict: PredictFunction,
  x: Float32Array,
  background: Float32Array,
  numBackground: number,
  numFeatures: number,
  options: KernelShapOptions = {},
): KernelShapResult {
  if (!Number.isSafeInteger(numFeatures) || numFeatures < 1) throw new RangeError(`numFeatures must be a positive integer, got ${numFeatures}`);
  const o = withDefaults(options, numFeatures);
  if (!Number.isSafeInteger(numBackground) || numBackground < 0) throw new RangeError(`numBackground must be a non-negative integer, got ${numBackground}`);
  if (numBackground === 0) throw new ExplainError('NO_BACKGROUND', 'Kernel SHAP needs at least one background row to stand in for absent features');
  if (!(x instanceof Float32Array) || x.length !== numFeatures) throw new RangeError(`x must be a Float32Array of ${numFeatures} values`);
  if (!(background instanceof Float32Array) || background.length !== numBackground * numFeatures) {
    throw new RangeError(`background must be a Float32Array of ${numBackground}×${numFeatures} values`);
  }
  const call = (rows: Float32Array, n: number): Float32Array => {
    const out = predict(rows, n);
    if (out.length !== n) throw new RangeError(`predict returned ${out.length} values for ${n} rows`);
    return out;
  };

  const output = applyLink(o.link, call(x, 1)[0]!);
  const bias = applyLink(o.link, mean(call(background, numBackground), 0, numBackground));
  const contributions = new Float64Array(numFeatures);
  const varying: number[] = [];
  for (let j = 0; j < numFeatures; j++) if (varies(x, background, numBackground, numFeatures, j)) varying.push(j);
  const m = varying.length;
  const gap = output - bias;
  if (m === 0) return { contributions, bias, output, coalitions: 0, exact: true };
  if (m === 1) {
    contributions[varying[0]!] = gap;
    return { contributions, bias, output, coalitions: 0, exact: true };
  }

  const all = m <= 30 ? 2 ** m - 2 : Infinity;
  const nSamples = Math.min(o.nSamples, all);
  const { set: coalitions, exact } = chooseCoalitions(m, nSamples, createRandom(o.seed));
  const n = coalitions.size;

  // v(S) per coalition: the background rows with the coalition's features set to x's values.
  const value = new Float64Array(n);
  const perBatch = Math.max(1, Math.floor(o.batchRows / numBackground));
  for (let start = 0; start < n; start += perBatch) {
    const count = Math.min(perBatch, n - start);
    const rows = new Float32Array(count * numBackground * numFeatures);
    for (let c = 0; c < count; c++) {
      const mask = coalitions.masks[start + c]!;
      const block = c * numBackground * numFeatures;
      rows.set(background, block);
      for (let k = 0; k < m; k++) {
        if (mask[k] === 0) continue;
        const j = varying[k]!;
        const v = x[j]!;
        for (let b = 0; b < numBackground; b++) rows[block + b * numFeatures + j] = v;
      }
    }
    const predictions = call(rows, count * numBackground);
    for (let c = 0; c < count; c++) value[start + c] = applyLink(o.link, mean(predictions, c * numBackground, numBackground)) - bias;
  }

  // Constrained weighted least squares: eliminate the last feature with Σ φ = gap, i.e. regress
  // v(S) − z_last·gap on (z_k − z_last) for k < last, then φ_last = gap − Σ φ_k.
  const p = m - 1;
  const ata = new Float64Array(p * p);
  const atb = new Float64Array(p);
  const row = new Float64Array(p);
  for (let c = 0; c < n; c++) {
    const mask = coalitions.masks[c]!;
    const w = coalitions.weights[c]!;
    const last = mask[p]!;
    for (let k = 0; k < p; k++) row[k] = mask[k]! - last;
    const target = value[c]! - last * gap;
    for (let i = 0; i < p; i++) {
      const wi = w * row[i]!;
      if (wi === 0) continue;
      atb[i]! += wi * target;
      for (let j = 0; j <= i; j++) ata[i * p + j]! += wi * row[j]!;
    }
  }
  for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) ata[j * p + i] = ata[i * p + j]!;
  const phi = solveSymmetric(ata, atb, p);
  let sum = 0;
  for (let k = 0; k < p; k++) {
    contributions[varying[k]!] = phi[k]!;
    sum += phi[k]!;
  }
  contributions[varying[p]!] = gap - sum;
  return { contributions, bias, output, coalitions: n, exact };
}
