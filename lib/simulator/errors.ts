/**
 * Thrown by `parseSimulateArgs` (and so `runSimulateCli`) when the command line or the environment
 * is unusable: an unknown option, a value that is not a number, no API token. The message says
 * how to fix it.
 */
export class SimulatorConfigError extends Error {
  override readonly name = 'SimulatorConfigError';
}
