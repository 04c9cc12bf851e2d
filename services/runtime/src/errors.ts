import { DomainError, errorCodes, isErrorCode, issuesOf, type ErrorCode } from '@lms/contracts';
import { Errors } from 'moleculer';
import { ZodError } from 'zod';

export { DomainError };

/** What the edges render for any error: safe to show a caller. */
export interface PublicError {
  code: ErrorCode;
  status: number;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Moleculer carries errors between nodes as {name, message, code, type, data}.
 * A DomainError travels as a MoleculerClientError whose `type` is the stable code.
 */
export function toTransportError(err: DomainError): Errors.MoleculerError {
  return new Errors.MoleculerClientError(err.message, err.status, err.code, err.details ?? {});
}

export function validationError(err: ZodError, where: 'input' | 'output' = 'input'): DomainError {
  const issues = issuesOf(err);
  const first = issues[0];
  return new DomainError('VALIDATION_FAILED', first ? `Invalid ${where}: ${first.path}: ${first.message}` : `Invalid ${where}`, { issues });
}

/** The answer when no node can serve a call now; the edges send `details.retryAfterSeconds` as Retry-After. */
const serviceUnavailable: PublicError = {
  code: 'SERVICE_UNAVAILABLE',
  status: 503,
  message: 'A required service is unavailable; try again shortly',
  details: { retryAfterSeconds: 1 },
};

/** Turns anything thrown anywhere into the one public error model; never leaks internals. */
export function toPublicError(err: unknown): PublicError {
  if (err instanceof DomainError) return { code: err.code, status: err.status, message: err.message, details: err.details };
  if (err instanceof ZodError) return toPublicError(validationError(err));
  if (err instanceof Errors.MoleculerError) {
    if (isErrorCode(err.type)) {
      const raw: unknown = err.data;
      const data = raw && typeof raw === 'object' && Object.keys(raw).length ? (raw as Record<string, unknown>) : undefined;
      return { code: err.type, status: errorCodes[err.type], message: err.message, details: data };
    }
    if (err instanceof Errors.RequestTimeoutError || err instanceof Errors.RequestSkippedError) {
      return { code: 'TIMEOUT', status: 504, message: 'The request timed out' };
    }
    // No node left to serve it (all retries spent): a node died with the call (REQUEST_REJECTED), none has the
    // action, a full queue, an open breaker, and any other retryable Moleculer error, whatever its type.
    if (
      err instanceof Errors.ServiceNotFoundError ||
      err instanceof Errors.ServiceNotAvailableError ||
      err instanceof Errors.RequestRejectedError ||
      err instanceof Errors.QueueIsFullError ||
      err instanceof Errors.BrokerDisconnectedError ||
      err.type === 'CIRCUIT_BREAKER_OPEN' ||
      err.retryable
    ) {
      return serviceUnavailable;
    }
  }
  return { code: 'INTERNAL', status: 500, message: 'Internal error' };
}

/**
 * The stable code of an error: a DomainError thrown here, or one that travelled from another service (Moleculer
 * carries it as `type`, whichever copy of Moleculer made it). Undefined for everything else (timeouts, outages, bugs).
 */
export function errorCode(err: unknown): ErrorCode | undefined {
  const code = err instanceof DomainError ? err.code : (err as { type?: unknown } | null)?.type;
  return typeof code === 'string' && isErrorCode(code) ? code : undefined;
}

/**
 * Whether a failed call means "that does not exist" (one of the `*_NOT_FOUND` domain codes, or `code`) — and not that
 * the other service is down, slow or missing (SERVICE_NOT_FOUND, TIMEOUT…), which must never read as "absent".
 */
export function isNotFound(err: unknown, code?: ErrorCode): boolean {
  const type = errorCode(err);
  if (type === undefined) return false;
  return code ? type === code : type.endsWith('_NOT_FOUND') || type === 'NOT_FOUND';
}

/**
 * For `.catch`: an error with one of these codes (a real "not found") means absent; any other (a timeout, an outage)
 * propagates and is answered as such, never as "no such thing".
 */
export const absentOn =
  (...codes: ErrorCode[]) =>
  (err: unknown): undefined => {
    const code = errorCode(err);
    if (code !== undefined && codes.includes(code)) return undefined;
    throw err;
  };
