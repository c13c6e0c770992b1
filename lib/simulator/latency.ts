/**
 * Latency percentiles in bounded memory: a histogram of fixed logarithmic buckets, each 1 % wider
 * than the previous one, from 1 µs to 10 minutes. A simulator left running for days at hundreds of
 * requests per second keeps the same ~2,000 counters instead of every sample.
 */

/** Summary of the latencies recorded so far, in milliseconds. */
export interface LatencySummary {
  count: number;
  /** Upper edge of the bucket holding the percentile (at most 1 % above the true value), clamped to [min, max]. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Exact. */
  maxMs: number;
  /** Exact. */
  meanMs: number;
}

const MIN_MS = 0.001;
const MAX_MS = 600_000;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 1;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  /** Records one latency in ms; values outside [1 µs, 10 min] land in the first or last bucket (min and max stay exact). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite number >= 0, got ${ms}`);
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.n += 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  get count(): number {
    return this.n;
  }

  /** Adds `other`'s samples to this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.n += other.n;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  /** The `q`-quantile (0 < q <= 1) in ms: the smallest bucket edge with at least `ceil(q·n)` samples at or below it; 0 when empty. */
  quantile(q: number): number {
    if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
    if (this.n === 0) return 0;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, MIN_MS * GROWTH ** i));
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.n,
      p50Ms: this.quantile(0.5),
      p95Ms: this.quantile(0.95),
      p99Ms: this.quantile(0.99),
      maxMs: this.n === 0 ? 0 : this.max,
      meanMs: this.n === 0 ? 0 : this.sum / this.n,
    };
  }
}
