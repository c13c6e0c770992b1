/**
 * Thrown by `parseModelsArgs` (and so `runModelsCli`, which exits 2 with its message) when the
 * command line is unusable: an unknown option, a model kind that does not exist, a count that is
 * not a positive integer. The message says which option and what it accepts.
 */
export class ModelsCliUsageError extends Error {
  override readonly name = 'ModelsCliUsageError';
}
