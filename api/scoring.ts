/**
 * Scoring: request features → a feature row in the model's order → member scores → the weighted
 * ensemble score → decision, risk level and confidence. Routes a transaction to the champion or the
 * canary (sticky by id) and keeps the per-slot live statistics.
 */
import { performance } from 'node:perf_hooks';
import type { ModelKind } from '../lib/ml/types';
import type { LoadedModelSet, ModelSetManifest, ServingModels, Slot } from '../lib/serving/contract';
import { InvalidRequestError, NoChampionError, ScoringError } from './errors';
import type { LiveStats } from './live-stats';
import { chooseSlot } from './routing';

/** Request features: values in the model's feature order, or an object keyed by feature name. */
export type FeatureInput = number[] | Record<string, number>;

export const RISK_LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/**
 * Risk levels relative to the decision threshold `t`, so that HIGH and CRITICAL are exactly the
 * transactions predicted fraudulent whatever threshold the release chose:
 * LOW `score < t/2`; MEDIUM `t/2 <= score < t`; HIGH `t <= score < (1+t)/2`; CRITICAL `score >= (1+t)/2`.
 */
export const RISK_LEVEL_DOC =
  'Relative to the decision threshold t: LOW when score < t/2; MEDIUM when t/2 <= score < t; ' +
  'HIGH when t <= score < (1+t)/2; CRITICAL when score >= (1+t)/2. HIGH and CRITICAL are exactly the rows with prediction 1.';

export function riskLevel(score: number, threshold: number): RiskLevel {
  if (score >= threshold) return score >= (1 + threshold) / 2 ? 'CRITICAL' : 'HIGH';
  return score >= threshold / 2 ? 'MEDIUM' : 'LOW';
}

export const CONFIDENCE_DOC =
  'How far the score is from the decision threshold t, scaled to [0, 1]: (score - t) / (1 - t) when predicted fraud, ' +
  '(t - score) / t otherwise. 0 on the threshold, 1 at a score of 0 or 1.';

/** Distance of `score` from the decision boundary, 0 on it and 1 at either end of [0, 1]. */
export function confidence(score: number, threshold: number): number {
  const span = score >= threshold ? 1 - threshold : threshold;
  if (!(span > 0)) return 1;
  return Math.min(1, Math.abs(score - threshold) / span);
}

/**
 * Writes one request's features into `out` at row `row` in the order of `featureNames`.
 * Throws InvalidRequestError naming the offending field (`<field>[i]` or `<field>.<name>`).
 */
export function writeFeatureRow(input: FeatureInput, featureNames: readonly string[], out: Float32Array, row: number, field: string): void {
  const n = featureNames.length;
  const offset = row * n;
  const put = (j: number, value: unknown, where: string): void => {
    // JSON has no NaN or Infinity, but 1e999 parses to Infinity, and 1e39 overflows a 32-bit float.
    if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isFinite(Math.fround(value))) {
      throw new InvalidRequestError(`${where} (${featureNames[j]}) must be a finite number within the 32-bit float range, got ${String(value)}`, where);
    }
    out[offset + j] = value;
  };
  if (Array.isArray(input)) {
    if (input.length !== n) {
      throw new InvalidRequestError(`${field} must have ${n} values in the model's feature order (${featureNames.join(', ')}), got ${input.length}`, field);
    }
    for (let j = 0; j < n; j++) put(j, input[j], `${field}[${j}]`);
    return;
  }
  const known = new Set(featureNames);
  const unknown = Object.keys(input).filter((k) => !known.has(k));
  const missing = featureNames.filter((name) => !Object.hasOwn(input, name));
  if (unknown.length > 0 || missing.length > 0) {
    const culprit = `${field}.${unknown[0] ?? missing[0] ?? ''}`;
    const problem = unknown.length > 0 ? 'is not a feature of the model' : 'is missing';
    const detail = [unknown.length > 0 ? `unknown: ${unknown.join(', ')}` : '', missing.length > 0 ? `missing: ${missing.join(', ')}` : ''].filter(Boolean).join('; ');
    throw new InvalidRequestError(`${culprit} ${problem} (${detail}); ${field} must have exactly ${featureNames.join(', ')}`, culprit);
  }
  for (let j = 0; j < n; j++) {
    const name = featureNames[j] as string;
    put(j, input[name], `${field}.${name}`);
  }
}

/**
 * The weighted mean of the member scores per row: weights from the manifest (missing kinds weigh 0),
 * normalised by the sum over the members present.
 */
export function ensembleScores(manifest: ModelSetManifest, members: ReadonlyMap<ModelKind, Float32Array>, numRows: number): Float64Array {
  let weightSum = 0;
  const parts: [number, Float32Array][] = [];
  for (const [kind, scores] of members) {
    const w = manifest.weights[kind] ?? 0;
    if (w > 0) {
      parts.push([w, scores]);
      weightSum += w;
    }
  }
  if (!(weightSum > 0)) {
    throw new ScoringError(`release ${manifest.id}: the ensemble weights of its members (${[...members.keys()].join(', ')}) sum to 0`);
  }
  const out = new Float64Array(numRows);
  for (const [w, scores] of parts) {
    for (let i = 0; i < numRows; i++) out[i] = (out[i] ?? 0) + (w / weightSum) * (scores[i] ?? NaN);
  }
  return out;
}

export interface PredictItem {
  transaction_id: string;
  features: FeatureInput;
}

export interface Prediction {
  transaction_id: string;
  fraud_score: number;
  prediction: 0 | 1;
  risk_level: RiskLevel;
  confidence: number;
  threshold: number;
  model_scores: Record<string, number>;
  model_versions: Record<string, string>;
  release: string;
  served_by: Slot;
  processing_time_ms: number;
}

/** What one scoring call saw, for metrics. */
export interface ScoredGroup {
  slot: Slot;
  release: string;
  predictions: Prediction[];
}

export interface ScorerOptions {
  /** Overrides the manifest's decision threshold. @default each release's manifest `threshold` */
  threshold?: number;
}

/** The models as they were when a request started: a reload mid-request does not mix releases. */
interface Snapshot {
  champion: LoadedModelSet;
  canary: LoadedModelSet | undefined;
  canaryPercent: number;
}

export class Scorer {
  constructor(
    private readonly models: ServingModels,
    private readonly stats: LiveStats,
    private readonly options: ScorerOptions = {},
  ) {}

  /** The current champion, canary and canary share; throws NoChampionError when no champion is loaded. */
  private snapshot(): Snapshot {
    const champion = this.models.champion();
    if (!champion) throw new NoChampionError();
    const canary = this.models.canary();
    const canaryPercent = canary ? this.models.canaryPercent() : 0;
    return { champion, canary, canaryPercent };
  }

  private route(id: string, snap: Snapshot): Slot {
    return snap.canary && snap.canaryPercent > 0 ? chooseSlot(id, snap.canaryPercent) : 'champion';
  }

  threshold(set: LoadedModelSet): number {
    return this.options.threshold ?? set.manifest.threshold;
  }

  /**
   * Scores `items`, each in its sticky slot, and returns the predictions in input order with the
   * groups scored. Invalid features throw InvalidRequestError (`<fieldPrefix>[i].features…` for
   * batches) before anything is scored. `onScoring(slot)` is called before each slot's scoring call,
   * so a caller can label a failure with the slot it happened in.
   */
  score(
    items: readonly PredictItem[],
    fieldPrefix: (index: number) => string,
    onScoring?: (slot: Slot) => void,
  ): { predictions: Prediction[]; groups: ScoredGroup[] } {
    const snap = this.snapshot();
    const bySlot = new Map<Slot, number[]>();
    for (let i = 0; i < items.length; i++) {
      const slot = this.route((items[i] as PredictItem).transaction_id, snap);
      const list = bySlot.get(slot);
      if (list) list.push(i);
      else bySlot.set(slot, [i]);
    }
    const setOf = (slot: Slot): LoadedModelSet => (slot === 'canary' && snap.canary ? snap.canary : snap.champion);
    // Validate everything first: one bad item rejects the batch before any model runs.
    const rows = new Map<Slot, Float32Array>();
    for (const [slot, indices] of bySlot) {
      const { featureNames } = setOf(slot);
      const matrix = new Float32Array(indices.length * featureNames.length);
      indices.forEach((itemIndex, r) => writeFeatureRow((items[itemIndex] as PredictItem).features, featureNames, matrix, r, `${fieldPrefix(itemIndex)}features`));
      rows.set(slot, matrix);
    }
    const predictions = new Array<Prediction>(items.length);
    const groups: ScoredGroup[] = [];
    for (const [slot, indices] of bySlot) {
      onScoring?.(slot);
      const group = this.scoreGroup(slot, setOf(slot), items, indices, rows.get(slot) as Float32Array);
      indices.forEach((itemIndex, r) => (predictions[itemIndex] = group.predictions[r] as Prediction));
      groups.push(group);
    }
    return { predictions, groups };
  }

  private scoreGroup(slot: Slot, set: LoadedModelSet, items: readonly PredictItem[], indices: number[], matrix: Float32Array): ScoredGroup {
    const { manifest } = set;
    const stats = this.stats.forRelease(slot, manifest.id);
    const numRows = indices.length;
    const started = performance.now();
    stats.requests += numRows;
    let members: Map<ModelKind, Float32Array>;
    let scores: Float64Array;
    try {
      members = set.predictMembers(matrix, numRows);
      scores = ensembleScores(manifest, members, numRows);
      for (let r = 0; r < numRows; r++) {
        if (!Number.isFinite(scores[r])) throw new ScoringError(`release ${manifest.id} (${slot}) returned a non-finite ensemble score`);
      }
    } catch (err) {
      stats.errors += numRows;
      throw err instanceof ScoringError ? err : new ScoringError(`release ${manifest.id} (${slot}) failed to score: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    const elapsed = performance.now() - started;
    stats.latency.record(elapsed);
    const threshold = this.threshold(set);
    const versions: Record<string, string> = {};
    for (const m of manifest.members) versions[m.kind] = m.version;
    const predictions = indices.map((itemIndex, r): Prediction => {
      const score = Math.min(1, Math.max(0, scores[r] as number));
      stats.recordScore(score);
      const modelScores: Record<string, number> = {};
      for (const [kind, s] of members) modelScores[kind] = s[r] as number;
      return {
        transaction_id: (items[itemIndex] as PredictItem).transaction_id,
        fraud_score: score,
        prediction: score >= threshold ? 1 : 0,
        risk_level: riskLevel(score, threshold),
        confidence: confidence(score, threshold),
        threshold,
        model_scores: modelScores,
        model_versions: versions,
        release: manifest.id,
        served_by: slot,
        // A batch's rows are scored together: each gets its share of the call.
        processing_time_ms: elapsed / numRows,
      };
    });
    return { slot, release: manifest.id, predictions };
  }
}
