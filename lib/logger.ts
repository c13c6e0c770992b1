import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * The one root logger of a process. Pretty and coloured in a terminal, JSON lines otherwise
 * (CI, files, log shippers). `LOG_LEVEL` sets the level (default `info`).
 * Modules take a child: `logger.child({ module: 'mlflow' })`.
 */
export function createLogger(options: { name?: string; level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.LOG_FORMAT !== 'json');
  const base: LoggerOptions = {
    name: options.name,
    level,
    // Secrets never reach a log line, even when an object carrying them is logged whole.
    redact: { paths: ['*.authorization', '*.Authorization', '*.token', '*.password', 'headers.authorization'], censor: '[redacted]' },
  };
  if (!pretty) return pino(base);
  return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
}

/** A logger that drops everything: the default for library code used without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
