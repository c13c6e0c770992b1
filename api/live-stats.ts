/**
 * Per-slot live statistics for the canary analysis (`SlotLiveStats` of the serving contract), kept
 * since the release a slot serves was loaded. Bounded memory whatever the traffic: latencies go to a
 * fixed log-spaced histogram (HDR-like, about 2.5 % relative error), scores to 20 equal bins.
 */
import type { Slot, SlotLiveStats } from '../lib/serving/contract';

/** Options of {@link LatencyHistogram}. */
export interface LatencyHistogramOptions {
  /** Smallest resolved latency in ms; faster samples count in the first bucket. @default 0.01 */
  minMs?: number;
  /** Largest resolved latency in ms; slower samples count in the last bucket. @default 600000 (10 min) */
  maxMs?: number;
  /** Ratio between consecutive bucket bounds; the reported quantile is within `sqrt(ratio)` of the truth. @default 1.05 */
  ratio?: number;
}

function withDefaults(options: LatencyHistogramOptions): Required<LatencyHistogramOptions> {
  const { minMs = 0.01, maxMs = 600_000, ratio = 1.05 } = options;
  if (!(minMs > 0) || !(maxMs > minMs) || !(ratio > 1)) {
    throw new TypeError(`latency histogram needs 0 < minMs < maxMs and ratio > 1, got minMs=${minMs} maxMs=${maxMs} ratio=${ratio}`);
  }
  return { minMs, maxMs, ratio };
}

/** Counts of latencies in log-spaced buckets; quantiles are read from the counts. */
export class LatencyHistogram {
  private readonly minMs: number;
  private readonly logRatio: number;
  private readonly counts: Float64Array;
  private total = 0;

  constructor(options: LatencyHistogramOptions = {}) {
    const { minMs, maxMs, ratio } = withDefaults(options);
    this.minMs = minMs;
    this.logRatio = Math.log(ratio);
    this.counts = new Float64Array(Math.ceil(Math.log(maxMs / minMs) / this.logRatio) + 1);
  }

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const i = ms <= this.minMs ? 0 : Math.min(this.counts.length - 1, Math.floor(Math.log(ms / this.minMs) / this.logRatio) + 1);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total += 1;
  }

  /**
   * The `q`-quantile (0–1) in ms: the geometric middle of the bucket holding the sample of rank
   * `ceil(q * count)`. 0 when nothing was recorded.
   */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        if (i === 0) return this.minMs;
        // Bucket i (i >= 1) holds (minMs * r^(i-1), minMs * r^i].
        return this.minMs * Math.exp((i - 0.5) * this.logRatio);
      }
    }
    return this.minMs * Math.exp((this.counts.length - 1) * this.logRatio);
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

/** Bins of the score histogram over [0, 1]. */
export const SCORE_BINS = 20;

/** The live statistics of one slot since its current release was first seen. */
export class SlotStats {
  release: string | null = null;
  requests = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();
  readonly scoreHistogram: number[] = new Array<number>(SCORE_BINS).fill(0);

  /** Starts over for `release`. */
  reset(release: string | null): void {
    this.release = release;
    this.requests = 0;
    this.errors = 0;
    this.latency.reset();
    this.scoreHistogram.fill(0);
  }

  recordScore(score: number): void {
    const bin = Math.min(SCORE_BINS - 1, Math.max(0, Math.floor(score * SCORE_BINS)));
    this.scoreHistogram[bin] = (this.scoreHistogram[bin] ?? 0) + 1;
  }

  toJSON(): SlotLiveStats {
    return {
      release: this.release,
      requests: this.requests,
      errors: this.errors,
      p50Ms: this.latency.quantile(0.5),
      p95Ms: this.latency.quantile(0.95),
      scoreHistogram: [...this.scoreHistogram],
    };
  }
}

/** Both slots' statistics. A slot's numbers reset whenever the release it serves changes. */
export class LiveStats {
  private readonly slots: Record<Slot, SlotStats> = { champion: new SlotStats(), canary: new SlotStats() };

  /** The stats of `slot` for `release`, reset first when the slot served another release until now. */
  forRelease(slot: Slot, release: string | null): SlotStats {
    const stats = this.slots[slot];
    if (stats.release !== release) stats.reset(release);
    return stats;
  }

  /** A snapshot of `slot` as it serves `release` now (null when the slot is empty). */
  snapshot(slot: Slot, release: string | null): SlotLiveStats {
    return this.forRelease(slot, release).toJSON();
  }
}
