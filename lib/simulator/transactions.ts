/**
 * An endless stream of fresh synthetic transactions for the simulator and the serving benchmark:
 * rows come from `generateTransactions` in chunks, each chunk drawn with its own seed derived from
 * the stream's seed and the chunk number, so the stream is reproducible, never repeats a chunk and
 * does not replay the rows a model was trained on with the same seed.
 */
import { CREDIT_CARD_FEATURES, generateTransactions } from '../ml/data/synthetic';

/** Options of {@link TransactionSource}. */
export interface TransactionSourceOptions {
  /** Seed of the stream; the same seed gives the same transactions in the same order. @default 42 */
  seed?: number;
  /**
   * Share of fraud rows; each chunk has exactly `round(chunkRows * fraudRate)` of them (so a rate
   * below `0.5 / chunkRows` gives none). @default 0.00172 (the public credit-card data's rate)
   */
  fraudRate?: number;
  /** Rows generated at a time. @default 1000 */
  chunkRows?: number;
  /** Transaction ids are `<idPrefix>-<n>`, n counting from 0. @default `sim-<seed>` */
  idPrefix?: string;
}

export interface SimTransaction {
  transaction_id: string;
  /** Raw features in the credit-card order (Time, V1..V28, Amount). */
  features: number[];
  /** The generator's label: 1 for a fraud row. Never sent to the API. */
  label: 0 | 1;
}

function withDefaults(options: TransactionSourceOptions): Required<TransactionSourceOptions> {
  const seed = options.seed ?? 42;
  const fraudRate = options.fraudRate ?? 0.00172;
  const chunkRows = options.chunkRows ?? 1000;
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${seed}`);
  if (!(fraudRate >= 0 && fraudRate <= 1)) throw new TypeError(`fraudRate must be in [0, 1], got ${fraudRate}`);
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new TypeError(`chunkRows must be an integer >= 1, got ${chunkRows}`);
  return { seed, fraudRate, chunkRows, idPrefix: options.idPrefix ?? `sim-${seed}` };
}

/** The seed of chunk `k` of the stream seeded `seed`: a 32-bit mix of both (murmur3's finaliser). */
export function chunkSeed(seed: number, k: number): number {
  let h = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x27d4eb2d);
  h = (h ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class TransactionSource {
  private readonly options: Required<TransactionSourceOptions>;
  private chunk = -1;
  private features: Float32Array = new Float32Array(0);
  private labels: Uint8Array = new Uint8Array(0);
  private numFeatures = 0;
  private row = 0;
  private rows = 0;
  private n = 0;
  /** Feature names of the generated rows, in order. */
  readonly featureNames: readonly string[] = CREDIT_CARD_FEATURES;

  constructor(options: TransactionSourceOptions = {}) {
    this.options = withDefaults(options);
    this.nextChunk();
  }

  private nextChunk(): void {
    const { seed, fraudRate, chunkRows } = this.options;
    this.chunk++;
    const data = generateTransactions({ rows: chunkRows, seed: chunkSeed(seed, this.chunk), fraudRate });
    this.features = data.features;
    this.labels = data.labels;
    this.numFeatures = data.numFeatures;
    this.rows = data.numRows;
    this.row = 0;
  }

  /** How many transactions this source has handed out. */
  get count(): number {
    return this.n;
  }

  next(): SimTransaction {
    if (this.row >= this.rows) this.nextChunk();
    const from = this.row * this.numFeatures;
    const features = Array.from(this.features.subarray(from, from + this.numFeatures));
    const label = this.labels[this.row] === 1 ? 1 : 0;
    this.row++;
    return { transaction_id: `${this.options.idPrefix}-${this.n++}`, features, label };
  }
}
