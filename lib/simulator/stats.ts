/**
 * What the simulator counts: requests (sent, answered, failed by status, dropped), transactions
 * (which slot scored them, how many were predicted fraud, how many of the generator's frauds were
 * caught) and the latency of successful requests.
 */
import { LatencyHistogram, type LatencySummary } from './latency';

export type ServedBy = 'champion' | 'canary';

/** Counters over a span of time: one second (`window`) or the whole run (`total`). */
export interface SimulatorStats {
  /** Seconds this span covers. */
  seconds: number;
  /** Requests sent (each carries `batchSize` transactions). */
  sent: number;
  /** Requests per second actually sent over the span. */
  sentPerSecond: number;
  /** Transactions sent. */
  transactions: number;
  /** Requests answered with a 2xx and a well-formed body. */
  ok: number;
  /** Requests that failed: any non-2xx, a timeout, a network error or a malformed body. */
  errors: number;
  /** Failed requests by cause: the HTTP status (`"401"`, `"503"`), `timeout`, `network` or `invalid_response`. */
  errorsByStatus: Record<string, number>;
  /** The last error's cause and message, for a human (e.g. `network: connect ECONNREFUSED 127.0.0.1:8000`). */
  lastError?: string;
  /** Sends skipped because `maxInFlight` requests were already in flight (open loop: never queued). */
  dropped: number;
  /** Requests in flight when the span ended. */
  inFlight: number;
  /** Scored transactions by the slot that scored them (the response's `served_by`). */
  servedBy: Record<ServedBy, number>;
  /** Transactions scored (the sum of `servedBy`). */
  predictions: number;
  /** Transactions predicted fraudulent (`prediction: 1`). */
  predictedFraud: number;
  /** `predictedFraud / predictions` (0 before any prediction). */
  observedFraudRate: number;
  /** Scored transactions the generator labelled fraud (ground truth the API never sees). */
  labelledFraud: number;
  /** Of those, how many were predicted fraudulent: recall is `caughtFraud / labelledFraud`. */
  caughtFraud: number;
  /** Client-side latency of successful requests, from the send to the last byte of the body. */
  latency: LatencySummary;
  /** Largest delay between a request's scheduled and actual send, ms (the client falling behind). */
  maxLagMs: number;
}

/** What `onStats` receives once a second. */
export interface SimulatorReport {
  /** Seconds since the simulator started sending. */
  elapsedSeconds: number;
  /** The last second (or less, for the last report). */
  window: SimulatorStats;
  /** Since the start. */
  total: SimulatorStats;
}

/** Mutable counters behind one {@link SimulatorStats}. */
export class StatsAccumulator {
  private sent = 0;
  private transactions = 0;
  private ok = 0;
  private errors = 0;
  private errorsByStatus: Record<string, number> = {};
  private lastError: string | undefined;
  private dropped = 0;
  private servedBy: Record<ServedBy, number> = { champion: 0, canary: 0 };
  private predictedFraud = 0;
  private labelledFraud = 0;
  private caughtFraud = 0;
  private maxLagMs = 0;
  private readonly latency = new LatencyHistogram();

  recordSent(transactions: number, lagMs: number): void {
    this.sent++;
    this.transactions += transactions;
    if (lagMs > this.maxLagMs) this.maxLagMs = lagMs;
  }

  recordDropped(): void {
    this.dropped++;
  }

  recordError(cause: string, message?: string): void {
    this.errors++;
    this.errorsByStatus[cause] = (this.errorsByStatus[cause] ?? 0) + 1;
    this.lastError = message ? `${cause}: ${message}` : cause;
  }

  /** A successful request: its latency and, per transaction, the slot, the prediction and the generator's label. */
  recordOk(latencyMs: number, results: readonly { servedBy: ServedBy; prediction: 0 | 1; label: 0 | 1 }[]): void {
    this.ok++;
    this.latency.record(latencyMs);
    for (const r of results) {
      this.servedBy[r.servedBy]++;
      this.predictedFraud += r.prediction;
      this.labelledFraud += r.label;
      if (r.label === 1 && r.prediction === 1) this.caughtFraud++;
    }
  }

  snapshot(seconds: number, inFlight: number): SimulatorStats {
    const predictions = this.servedBy.champion + this.servedBy.canary;
    return {
      seconds,
      sent: this.sent,
      sentPerSecond: seconds > 0 ? this.sent / seconds : 0,
      transactions: this.transactions,
      ok: this.ok,
      errors: this.errors,
      errorsByStatus: { ...this.errorsByStatus },
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      dropped: this.dropped,
      inFlight,
      servedBy: { ...this.servedBy },
      predictions,
      predictedFraud: this.predictedFraud,
      observedFraudRate: predictions > 0 ? this.predictedFraud / predictions : 0,
      labelledFraud: this.labelledFraud,
      caughtFraud: this.caughtFraud,
      latency: this.latency.summary(),
      maxLagMs: this.maxLagMs,
    };
  }
}
