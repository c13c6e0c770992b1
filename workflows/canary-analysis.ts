/**
 * The canary's decision rules, pure and deterministic (they run inside the workflow, and their
 * unit tests need no server): the offline comparison of challenger and champion on held-out data,
 * and the live analysis of canary vs champion traffic during a bake.
 */
import type { SlotLiveStats } from '../lib/serving/contract';
import type { CanaryPlan } from './canary-input';

/** Metrics of one model set's ensemble on the held-out data (at its own threshold). */
export interface OfflineMetrics {
  release: string;
  prAuc: number;
  recall: number;
  fpr: number;
  precision: number;
  threshold: number;
  /** Mean scoring time per row, microseconds. */
  microsPerRow: number;
}

export interface Decision {
  passed: boolean;
  /** Every rule that failed, in words; empty when passed. */
  reasons: string[];
}

const f = (x: number, digits = 4) => x.toFixed(digits);

/** Challenger against champion on the same held-out rows. */
export function compareOffline(challenger: OfflineMetrics, champion: OfflineMetrics, rules: CanaryPlan['comparison']): Decision {
  const reasons: string[] = [];
  if (challenger.prAuc < champion.prAuc - rules.maxPrAucDrop) {
    reasons.push(`PR-AUC ${f(challenger.prAuc)} is more than ${rules.maxPrAucDrop} below the champion's ${f(champion.prAuc)}`);
  }
  if (challenger.recall < champion.recall - rules.maxRecallDrop) {
    reasons.push(`recall ${f(challenger.recall)} is more than ${rules.maxRecallDrop} below the champion's ${f(champion.recall)}`);
  }
  if (challenger.fpr > champion.fpr + rules.maxFprIncrease) {
    reasons.push(`false-positive rate ${f(challenger.fpr, 5)} is more than ${rules.maxFprIncrease} above the champion's ${f(champion.fpr, 5)}`);
  }
  if (challenger.microsPerRow > champion.microsPerRow * rules.maxLatencyRatio) {
    reasons.push(`scoring takes ${f(challenger.microsPerRow, 1)} µs per row, more than ${rules.maxLatencyRatio}× the champion's ${f(champion.microsPerRow, 1)} µs`);
  }
  return { passed: reasons.length === 0, reasons };
}

/**
 * Population stability index of `actual` against `expected` (bin counts of the same bins):
 * Σ (a − e) · ln(a / e) over bin shares, with empty bins smoothed so one empty bin cannot make it infinite.
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  const eTotal = expected.reduce((s, x) => s + x, 0);
  const aTotal = actual.reduce((s, x) => s + x, 0);
  if (eTotal === 0 || aTotal === 0) return 0;
  const eps = 1e-4;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max((expected[i] ?? 0) / eTotal, eps);
    const a = Math.max((actual[i] ?? 0) / aTotal, eps);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** What a slot did between two readings of the API's live stats (counters since its release loaded). */
export interface SlotWindow {
  requests: number;
  errors: number;
  p95Ms: number;
  scoreHistogram: number[];
}

export function slotWindow(before: SlotLiveStats | undefined, now: SlotLiveStats): SlotWindow {
  // A different release (or counters that went down: the API restarted) means fresh counters.
  const fresh = !before || before.release !== now.release || now.requests < before.requests;
  if (fresh) return { requests: now.requests, errors: now.errors, p95Ms: now.p95Ms, scoreHistogram: [...now.scoreHistogram] };
  return {
    requests: now.requests - before.requests,
    errors: now.errors - before.errors,
    p95Ms: now.p95Ms,
    scoreHistogram: now.scoreHistogram.map((c, i) => c - (before.scoreHistogram[i] ?? 0)),
  };
}

export interface LiveAnalysis extends Decision {
  /** `fail`: roll back now; `pass`: the step may end; `wait`: not enough evidence yet. */
  verdict: 'pass' | 'fail' | 'wait';
  canary: { requests: number; errorRate: number; p95Ms: number };
  champion: { requests: number; errorRate: number; p95Ms: number };
  psi: number | null;
}

/**
 * Canary against champion over one window of a bake. Errors, latency and score drift fail at any
 * check; at the end of the bake (`final`), too little canary traffic fails too — a canary nobody
 * used has not shown it works.
 */
export function analyseLive(canary: SlotWindow, champion: SlotWindow, rules: CanaryPlan['analysis'], final: boolean): LiveAnalysis {
  const rate = (w: SlotWindow) => (w.requests > 0 ? w.errors / w.requests : 0);
  const reasons: string[] = [];
  const enough = canary.requests >= Math.max(1, rules.minCanaryRequests);
  if (canary.requests > 0 && rate(canary) - rate(champion) > rules.maxErrorRateIncrease) {
    reasons.push(`canary error rate ${f(rate(canary))} exceeds the champion's ${f(rate(champion))} by more than ${rules.maxErrorRateIncrease}`);
  }
  const latencyLimit = Math.max(champion.p95Ms * rules.maxP95LatencyRatio, rules.minP95LatencyMs);
  if (canary.requests > 0 && canary.p95Ms > latencyLimit) {
    reasons.push(`canary p95 latency ${f(canary.p95Ms, 1)} ms exceeds ${f(latencyLimit, 1)} ms (${rules.maxP95LatencyRatio}× the champion's ${f(champion.p95Ms, 1)} ms)`);
  }
  const drift = enough && champion.requests >= rules.minCanaryRequests ? psi(champion.scoreHistogram, canary.scoreHistogram) : null;
  if (drift !== null && drift > rules.maxPsi) reasons.push(`score distribution shifted: PSI ${f(drift, 3)} > ${rules.maxPsi}`);
  if (final && !enough) reasons.push(`only ${canary.requests} canary requests during the bake (at least ${rules.minCanaryRequests} needed to judge)`);
  const verdict = reasons.length > 0 ? 'fail' : enough ? 'pass' : 'wait';
  return {
    verdict,
    passed: verdict !== 'fail',
    reasons,
    canary: { requests: canary.requests, errorRate: rate(canary), p95Ms: canary.p95Ms },
    champion: { requests: champion.requests, errorRate: rate(champion), p95Ms: champion.p95Ms },
    psi: drift,
  };
}
