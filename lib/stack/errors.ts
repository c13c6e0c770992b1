/** Thrown by the stack manager when a port it must bind is taken by a program that is not the expected service. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly service: string,
    readonly host: string,
    readonly port: number,
    hint: string,
  ) {
    super(`Port ${port} on ${host} (${service}) is already in use by another program: ${hint}`);
  }
}

/** Thrown by the stack manager when a service exits or stays unhealthy while it is being started. */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  constructor(
    readonly service: string,
    message: string,
    readonly logFile?: string,
  ) {
    super(`${service} did not start: ${message}${logFile ? ` (log: ${logFile})` : ''}`);
  }
}

/** Thrown by the stack manager when a binary it needs (from .venv) is missing. */
export class MissingBinaryError extends Error {
  override readonly name = 'MissingBinaryError';
  constructor(readonly path: string) {
    super(`${path} is missing: run \`npm run bootstrap\` (it installs mlflow and the temporal CLI into .venv/)`);
  }
}
