/** The logger shape the runtime needs; Moleculer's loggers (Pino in production) satisfy it. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** An error as a log field: message and stack, never `{}`. */
export function errInfo(err: unknown): { message: string; name?: string; stack?: string } {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { message: String(err) };
}
