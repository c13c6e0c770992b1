import { ApplicationFailure } from '@temporalio/common';
import { analyseLive, compareOffline, psi, slotWindow, type OfflineMetrics, type SlotWindow } from '../../workflows/canary-analysis';
import { parseCanaryInput } from '../../workflows/canary-input';

const champion: OfflineMetrics = { release: 'a', prAuc: 0.8, recall: 0.7, fpr: 0.001, precision: 0.6, threshold: 0.4, microsPerRow: 10 };
const rules = parseCanaryInput({});

function win(requests: number, errors: number, p95Ms: number, histogram: number[]): SlotWindow {
  return { requests, errors, p95Ms, scoreHistogram: histogram };
}
const spread = (n: number) => Array.from({ length: 20 }, (_, i) => (i < 4 ? Math.round(n / 4) : 0));

describe('canaryDeployment input', () => {
  it('fills the defaults from an empty object', () => {
    expect(rules).toMatchObject({
      models: ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'],
      versions: {},
      weights: { xgboost: 0.5, random_forest: 0.3, neural_network: 0.15, isolation_forest: 0.05 },
      steps: [5, 25, 50, 100],
      bakeSeconds: 1800,
      requireApproval: false,
      holdout: { source: 'synthetic', rows: 50_000, seed: 7919 },
    });
  });

  it.each([
    [{ steps: [5, 50] }, 'steps[1]'],
    [{ steps: [50, 25, 100] }, 'steps[1]'],
    [{ steps: [0, 100] }, 'steps[0]'],
    [{ bakeSeconds: -1 }, 'bakeSeconds'],
    [{ weights: { svm: 1 } }, 'weights.svm'],
    [{ models: ['xgboost'], weights: { random_forest: 1 } }, 'weights.random_forest'],
    [{ weights: { xgboost: 0, random_forest: 0, neural_network: 0, isolation_forest: 0 } }, 'weights'],
    [{ versions: { xgboost: 'latest' } }, 'versions.xgboost'],
    [{ analysis: { maxPsi: 'high' } }, 'analysis.maxPsi'],
    [{ comparison: { maxAuc: 1 } }, 'comparison.maxAuc'],
    [{ requireApproval: 'yes' }, 'requireApproval'],
    [{ holdout: { source: 'csv' } }, 'holdout.path'],
    [{ bake: 5 }, 'bake'],
  ])('rejects %j naming %s, without retry', (raw, field) => {
    let err: unknown;
    try {
      parseCanaryInput(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).message).toContain(`canaryDeployment input: ${field} `);
  });

  it('accepts pinned versions as numbers or strings', () => {
    expect(parseCanaryInput({ models: ['xgboost'], versions: { xgboost: 7 } }).versions).toEqual({ xgboost: '7' });
  });
});

describe('offline comparison', () => {
  it('passes an equal challenger and names every rule a worse one breaks', () => {
    expect(compareOffline({ ...champion, release: 'b' }, champion, rules.comparison)).toEqual({ passed: true, reasons: [] });
    const worse = compareOffline({ ...champion, release: 'b', prAuc: 0.7, recall: 0.5, fpr: 0.02, microsPerRow: 100 }, champion, rules.comparison);
    expect(worse.passed).toBe(false);
    expect(worse.reasons).toHaveLength(4);
    expect(worse.reasons.join(' ')).toMatch(/PR-AUC 0.7000 .* 0.8000.*recall.*false-positive.*µs per row/);
  });

  it('allows a drop within the margin', () => {
    expect(compareOffline({ ...champion, prAuc: 0.79 }, champion, rules.comparison).passed).toBe(true);
  });
});

describe('live analysis', () => {
  it('PSI is 0 for equal distributions and large for disjoint ones', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
    expect(psi([100, 0, 0], [0, 0, 100])).toBeGreaterThan(5);
  });

  it('windows are deltas of the counters, or fresh counters after a release change', () => {
    const before = { release: 'r1', requests: 100, errors: 1, p50Ms: 1, p95Ms: 2, scoreHistogram: spread(100) };
    const now = { release: 'r1', requests: 150, errors: 3, p50Ms: 1, p95Ms: 3, scoreHistogram: spread(150) };
    expect(slotWindow(before, now)).toMatchObject({ requests: 50, errors: 2, p95Ms: 3 });
    expect(slotWindow(before, { ...now, release: 'r2', requests: 20 })).toMatchObject({ requests: 20 });
  });

  it('waits without enough canary traffic, passes a healthy canary, and fails on errors, latency or drift', () => {
    const healthy = win(100, 0, 5, spread(100));
    expect(analyseLive(win(5, 0, 5, spread(5)), healthy, rules.analysis, false).verdict).toBe('wait');
    expect(analyseLive(win(5, 0, 5, spread(5)), healthy, rules.analysis, true).reasons.join()).toMatch(/only 5 canary requests/);
    expect(analyseLive(win(50, 0, 6, spread(50)), healthy, rules.analysis, true).verdict).toBe('pass');
    expect(analyseLive(win(50, 5, 6, spread(50)), healthy, rules.analysis, false).reasons.join()).toMatch(/error rate 0.1000/);
    // 30 ms against 5 ms: over both the ratio (10 ms) and the 25 ms floor.
    expect(analyseLive(win(50, 0, 30, spread(50)), healthy, rules.analysis, false).reasons.join()).toMatch(/p95 latency 30.0 ms exceeds 25.0 ms/);
    // 12 ms against 5 ms: over the ratio but under the floor, so not a reason.
    expect(analyseLive(win(50, 0, 12, spread(50)), healthy, rules.analysis, false).verdict).toBe('pass');
    const shifted = Array.from({ length: 20 }, (_, i) => (i >= 16 ? 12 : 0));
    expect(analyseLive(win(48, 0, 5, shifted), healthy, rules.analysis, false).reasons.join()).toMatch(/PSI/);
  });
});
