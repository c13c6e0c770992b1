/** Thrown by a trainer when its `AbortSignal` fires; training stops at the next round, tree or epoch. */
export class TrainingCancelledError extends Error {
  override readonly name = 'TrainingCancelledError';
  constructor(readonly kind: string, readonly progress?: { done: number; total: number }) {
    super(`${kind} training cancelled${progress ? ` after ${progress.done}/${progress.total}` : ''}`);
  }
}

/** Thrown by a trainer or `withDefaults` when hyperparameters are invalid (a bad value, a bad combination). */
export class InvalidHyperparameterError extends TypeError {
  override readonly name = 'InvalidHyperparameterError';
}

/** Thrown by a model's `load()` when the saved JSON is not a model of that kind or version. */
export class ModelFormatError extends RangeError {
  override readonly name = 'ModelFormatError';
}
