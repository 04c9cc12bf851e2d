import { DomainError, type ErrorCode } from '@lms/contracts';

/**
 * The stable code of an error: a DomainError thrown here, or one that travelled from another service (Moleculer
 * carries it as `type`). Undefined for everything else (timeouts, outages, bugs).
 */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof DomainError) return err.code;
  const type = err instanceof Error ? (err as { type?: unknown }).type : undefined;
  return typeof type === 'string' ? type : undefined;
}

/**
 * For `.catch`: an error with one of these codes (a real "not found") means absent; any other (a timeout, an
 * outage) propagates and is answered as such, never as "no such thing".
 */
export const absentOn =
  (...codes: ErrorCode[]) =>
  (err: unknown): undefined => {
    const code = errorCode(err);
    if (code !== undefined && (codes as string[]).includes(code)) return undefined;
    throw err;
  };
