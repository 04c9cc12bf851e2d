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
  /** Seconds a client should wait before trying again (the edges send it as `Retry-After`); set on every 503. */
  retryAfterS?: number;
}

/**
 * What a caller is told to wait after a 503: the pool reconnects on the next query, so one second is enough for a
 * restarted database or a replaced node; longer outages are answered again, each time with this hint.
 */
export const RETRY_AFTER_S = 1;

/** Socket errors of a server that went away, refused us or never answered. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/**
 * SQLSTATEs that mean "the database cannot be reached right now", not "the statement is wrong": 08xxx connection
 * exceptions, 57P01–57P03 (terminated by an administrator, crash, starting up or shutting down), 53300 (no slot).
 */
const UNREACHABLE_SQLSTATES = new Set(['08000', '08001', '08003', '08004', '08006', '08007', '57P01', '57P02', '57P03', '53300']);

/** `err` or one of its causes (the AggregateError of a refused connection to every address of a host included). */
function someCause(err: unknown, test: (e: { code?: unknown; message?: unknown; name?: unknown }) => boolean, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (test(e)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => someCause(x, test, depth + 1))) return true;
  return someCause(e.cause, test, depth + 1);
}

/**
 * Whether a call to another server (an HTTP API, an identity provider, S3) failed because it could not be reached or
 * did not answer in time — an outage to report as 503 — rather than because it answered no.
 */
export function isUnreachable(err: unknown): boolean {
  return someCause(err, (e) => (typeof e.code === 'string' && SOCKET_CODES.has(e.code)) || e.name === 'TimeoutError');
}

/**
 * node-postgres reports a lost or unreachable server with these messages and no code; Kysely and pg's pool say the
 * last two when a call outlived its stopping node's shutdown timeout and met the closed database (a retry lands on
 * another node, not a 500).
 */
const UNREACHABLE_MESSAGE =
  /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)|driver has already been destroyed|Cannot use a pool after calling end on the pool/i;

/**
 * Whether an error means that the database (or the connection to it) is unavailable for now — the query may well
 * succeed on a new connection in a moment — rather than that the statement or the data are wrong. Such an error fails
 * its unit of work as a retryable 503, never as a 500 or a domain answer; background loops wait it out instead of
 * counting it as a failed attempt.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return someCause(
    err,
    (e) =>
      (typeof e.code === 'string' && (UNREACHABLE_SQLSTATES.has(e.code) || SOCKET_CODES.has(e.code))) ||
      (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)),
  );
}

/**
 * A database outage as it travels between nodes: 503 SERVICE_UNAVAILABLE, retryable (the broker's retry policy tries
 * again, on any instance; a lost connection is replaced by then). Nothing of the driver's message reaches the caller.
 */
export function databaseUnavailable(): Errors.MoleculerRetryableError {
  return new Errors.MoleculerRetryableError(
    'The service is temporarily unavailable (its database or a server it needs); try again shortly',
    503,
    'SERVICE_UNAVAILABLE',
    {},
  );
}

/**
 * Whether a failure is an outage that waiting cures (the database, or a service answering 503 for its own), as opposed
 * to a failure of the work itself. Background loops (sagas, consumers) do not count it as a failed attempt.
 */
export function isOutage(err: unknown): boolean {
  return isDatabaseUnavailable(err) || errorCode(err) === 'SERVICE_UNAVAILABLE';
}

/**
 * The circuit breaker's test: only failures of one endpoint open it. A database outage or a SERVICE_UNAVAILABLE
 * answer is the same on every instance (they share the database): opening the breaker would only keep callers away
 * for its half-open time (10 s) after the database is back.
 */
export function opensCircuit(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 500 && !isOutage(err);
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

/** Turns anything thrown anywhere into the one public error model; never leaks internals. */
export function toPublicError(err: unknown): PublicError {
  if (err instanceof DomainError) return withRetryAfter({ code: err.code, status: err.status, message: err.message, details: err.details });
  if (err instanceof ZodError) return toPublicError(validationError(err));
  if (err instanceof Errors.MoleculerError) {
    if (isErrorCode(err.type)) {
      const raw: unknown = err.data;
      const data = raw && typeof raw === 'object' && Object.keys(raw).length ? (raw as Record<string, unknown>) : undefined;
      return withRetryAfter({ code: err.type, status: errorCodes[err.type], message: err.message, details: data });
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
      return withRetryAfter({ code: 'SERVICE_UNAVAILABLE', status: 503, message: 'A required service is unavailable; try again shortly' });
    }
  }
  // Code at the edge itself (the gateway's storage, its own queries) that lost a server: an outage, not a bug.
  if (isDatabaseUnavailable(err) || isUnreachable(err)) return withRetryAfter(toPublicError(databaseUnavailable()));
  return { code: 'INTERNAL', status: 500, message: 'Internal error' };
}

/** Every 503 tells the client when to come back. */
function withRetryAfter(e: PublicError): PublicError {
  return e.status === 503 ? { ...e, retryAfterS: e.retryAfterS ?? RETRY_AFTER_S } : e;
}

/** The response headers an error needs besides its body: `Retry-After` on a 503. */
export function errorHeaders(e: PublicError): Record<string, string> {
  return e.status === 503 ? { 'Retry-After': String(e.retryAfterS ?? RETRY_AFTER_S) } : {};
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
