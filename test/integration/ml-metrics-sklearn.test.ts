import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom } from '../../lib/ml/data/random';
import { chooseThreshold, evaluate, precisionRecallCurve, rocCurve, type ConfusionMatrix } from '../../lib/ml/metrics';

const root = join(__dirname, '../..');
const python = join(process.env.VENV_DIR ?? join(root, '.venv'), 'bin', 'python');
const script = join(__dirname, 'python/sklearn_metrics.py');

interface AtThreshold {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  f2: number;
  confusion: ConfusionMatrix;
}
interface Reference {
  roc_auc: number;
  average_precision: number;
  at: AtThreshold[];
  roc: { fpr: number[]; tpr: number[] };
  pr: { precision: number[]; recall: number[]; thresholds: number[] };
  max_f1: number;
}

/** Largest absolute difference of two equally long arrays. */
function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a).toHaveLength(b.length);
  return a.reduce((m, x, k) => Math.max(m, Math.abs(x - b[k]!)), 0);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-metrics-sklearn-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** scikit-learn's metrics on the same labels and scores (written with round-trip precision). */
function sklearn(name: string, labels: Uint8Array, scores: ArrayLike<number>, thresholds: number[]): Reference {
  const path = join(dir, `${name}.csv`);
  const lines = ['label,score'];
  for (let i = 0; i < labels.length; i++) lines.push(`${labels[i]},${String(scores[i])}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  const run = spawnSync(python, [script, path, JSON.stringify(thresholds)], { encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`${python} ${script} failed (${run.status}): ${run.error?.message ?? ''}${run.stderr}`);
  return JSON.parse(run.stdout) as Reference;
}

/** Labels with the given positive rate and scores that overlap between classes. */
function makeCase(seed: number, rows: number, positiveRate: number, score: (y: number, rng: ReturnType<typeof createRandom>) => number) {
  const rng = createRandom(seed);
  const labels = new Uint8Array(rows);
  const scores = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = rng.next() < positiveRate ? 1 : 0;
    scores[i] = score(labels[i]!, rng);
  }
  return { labels, scores };
}

const cases = [
  // Scores on a 0.01 grid: hundreds of ties, many mixing both classes.
  { name: 'ties', ...makeCase(1, 3000, 0.1, (y, rng) => Math.round(Math.min(1, Math.max(0, 0.35 + 0.25 * y + 0.2 * rng.normal())) * 100) / 100) },
  // Rare positives (1 %), float32 probabilities as a model outputs them.
  { name: 'rare-float32', ...makeCase(2, 5000, 0.01, (y, rng) => Math.fround(1 / (1 + Math.exp(-(2 * y - 3 + rng.normal()))))) },
  // Only five distinct scores.
  { name: 'five-levels', ...makeCase(3, 2000, 0.3, (y, rng) => Math.min(4, Math.floor(rng.next() * 4 + y * 1.5))) },
];

describe.each(cases)('metrics agree with scikit-learn to 1e-6 ($name)', ({ name, labels, scores }) => {
  const chosen = chooseThreshold(labels, scores);
  const sorted = Float64Array.from(scores).sort();
  // The chosen threshold, a tied score, the median, the extremes and a threshold above every score.
  const thresholds = [chosen, sorted[Math.floor(sorted.length * 0.9)]!, sorted[Math.floor(sorted.length / 2)]!, sorted[0]!, sorted.at(-1)!, sorted.at(-1)! + 1];
  let reference: Reference;
  beforeAll(() => {
    reference = sklearn(name, labels, scores, thresholds);
  });

  it('roc_auc_score and average_precision_score', () => {
    const e = evaluate(labels, scores, chosen);
    expect(Math.abs(e.rocAuc - reference.roc_auc)).toBeLessThan(1e-6);
    expect(Math.abs(e.prAuc - reference.average_precision)).toBeLessThan(1e-6);
  });

  it('precision, recall, f1, fbeta(2) and confusion_matrix at each threshold', () => {
    thresholds.forEach((t, k) => {
      const e = evaluate(labels, scores, t);
      const r = reference.at[k]!;
      expect(e.confusion).toEqual(r.confusion);
      expect(Math.abs(e.precision - r.precision)).toBeLessThan(1e-6);
      expect(Math.abs(e.recall - r.recall)).toBeLessThan(1e-6);
      expect(Math.abs(e.f1 - r.f1)).toBeLessThan(1e-6);
      expect(Math.abs(e.f2 - r.f2)).toBeLessThan(1e-6);
    });
  });

  it('chooseThreshold reaches the best F1 of the precision-recall curve', () => {
    expect(Math.abs(reference.at[0]!.f1 - reference.max_f1)).toBeLessThan(1e-9);
  });

  it('roc_curve and precision_recall_curve, point by point', () => {
    const roc = rocCurve(labels, scores, { maxPoints: 1e9 });
    expect(maxDiff(roc.fpr, reference.roc.fpr)).toBeLessThan(1e-6);
    expect(maxDiff(roc.tpr, reference.roc.tpr)).toBeLessThan(1e-6);
    // sklearn lists the PR curve by increasing threshold and ends at (recall 0, precision 1).
    const pr = precisionRecallCurve(labels, scores, { maxPoints: 1e9 });
    expect(maxDiff(pr.precision, [...reference.pr.precision].reverse())).toBeLessThan(1e-6);
    expect(maxDiff(pr.recall, [...reference.pr.recall].reverse())).toBeLessThan(1e-6);
    expect(pr.thresholds.slice(1)).toEqual([...reference.pr.thresholds].reverse());
  });
});
