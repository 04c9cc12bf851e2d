/** The logger shape the runtime needs; Moleculer's loggers (Pino in production) satisfy it. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}
