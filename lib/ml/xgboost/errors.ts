/** Thrown by an XGBoost engine when a call into XGBoost fails; `message` carries XGBoost's own message when there is one. */
export class XGBoostEngineError extends Error {
  override readonly name = 'XGBoostEngineError';
  constructor(
    message: string,
    /** The engine call that failed, e.g. `XGBoosterUpdateOneIter`. */
    readonly call: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
