/** Why an explanation could not be computed. */
export type ExplainErrorReason = 'NO_BACKGROUND' | 'UNSUPPORTED_MODEL';

/**
 * Thrown by `explainModel` and `kernelShap` when a row cannot be explained: Kernel SHAP was asked
 * for without background rows (`NO_BACKGROUND`: it needs them to stand in for absent features), or
 * the model is of no kind the façade knows (`UNSUPPORTED_MODEL`). Bad shapes are `RangeError`s, as
 * in the model core.
 */
export class ExplainError extends Error {
  override readonly name = 'ExplainError';
  constructor(
    readonly reason: ExplainErrorReason,
    message: string,
  ) {
    super(message);
  }
}
