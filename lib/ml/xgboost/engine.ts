/**
 * The engine interface: what the XGBoost and random-forest models need from an XGBoost build. It
 * mirrors XGBoost's C API (DMatrix, Booster, UpdateOneIter, Predict, Save/Load), so the wasm build
 * (`wasm-engine.ts`) and the native libxgboost binding (`native-engine.ts`) both implement it and the models never
 * see which one runs.
 *
 * Everything an engine allocates lives in an {@link EngineSession}: matrices and boosters are
 * only valid inside the session that made them, and `close()` releases all of them at once. For
 * the wasm engine a session is one WebAssembly instance with its own heap, so two sessions (two
 * trainings, a training and a serving model, two worker threads) never share memory, and closing
 * a session gives the whole heap back, however large the training made it grow.
 */

/** A row-major float matrix to copy into the engine. `NaN` is a missing value. */
export interface MatrixInput {
  /** Row-major, `numRows * numFeatures` values. */
  features: Float32Array;
  numRows: number;
  numFeatures: number;
  /** Training target per row (0/1 here). */
  labels?: Float32Array;
  /** Instance weight per row. */
  weights?: Float32Array;
}

/** XGBoost parameters by their XGBoost names (`max_depth`, `eta`, `tree_method`, …). */
export type BoosterParams = Readonly<Record<string, string | number>>;

/** A matrix copied into a session; free it when done, or let `session.close()` do it. */
export interface EngineMatrix {
  readonly numRows: number;
  readonly numFeatures: number;
  free(): void;
}

export interface PredictOptions {
  /** Raw margins (log-odds for `binary:logistic`) instead of probabilities. @default false */
  outputMargin?: boolean;
}

/** A booster in a session: trained round by round, or loaded from saved bytes. */
export interface EngineBooster {
  setParams(params: BoosterParams): void;
  /** One boosting round on `train` (`iteration` is 0-based and seeds per-round sampling). */
  updateOneIter(iteration: number, train: EngineMatrix): void;
  /**
   * The same round off the JS thread, when the engine can (native: a koffi worker thread), so a
   * long round does not block the event loop. The session must not be used for anything else until
   * it settles.
   */
  updateOneIterAsync?(iteration: number, train: EngineMatrix): Promise<void>;
  /**
   * One prediction per row of `matrix`. For a matrix given to `createBooster` as a cache, only the
   * trees added since the last call are evaluated.
   */
  predict(matrix: EngineMatrix, options?: PredictOptions): Float32Array;
  /** The model in the engine's own byte format (see `XGBoostEngine.modelFormat`). */
  save(): Uint8Array;
  free(): void;
}

/** One isolated engine context: its matrices and boosters, released together by `close()`. */
export interface EngineSession {
  createMatrix(input: MatrixInput): EngineMatrix;
  /** A new booster; `cache` lists the matrices whose predictions it keeps between rounds (train, validation). */
  createBooster(cache: readonly EngineMatrix[], params?: BoosterParams): EngineBooster;
  loadBooster(model: Uint8Array): EngineBooster;
  /** Frees every matrix and booster of the session; the session is unusable afterwards. Idempotent. */
  close(): void;
}

/** An XGBoost implementation. Implementations are stateless: all state lives in sessions. */
export interface XGBoostEngine {
  /** Human-readable name, e.g. `xgboost-wasm (ml-xgboost 1.1.2)`. */
  readonly name: string;
  /**
   * The byte format `save()` writes and `loadBooster()` reads, recorded in saved models so a model
   * is only ever loaded by an engine that reads its bytes.
   */
  readonly modelFormat: string;
  /** Whether the build samples features per split (`colsample_bynode`, XGBoost ≥ 0.81); the 0.7x wasm build does not. */
  readonly supportsColsampleBynode?: boolean;
  /** Whether the engine can train (a scorer-only engine just loads and predicts). @default true */
  readonly canTrain?: boolean;
  openSession(): EngineSession;
}
