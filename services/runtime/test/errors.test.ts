/**
 * Failures keep their kind: a lost or unreachable database is an outage (503, retryable, Retry-After), never a 500
 * and never a domain answer; a bad statement stays a bug; the circuit breaker opens for an endpoint's own failures only.
 */
import { DomainError } from '@lms/contracts';
import { Errors } from 'moleculer';
import { describe, expect, it } from 'vitest';
import { databaseUnavailable, errorHeaders, isDatabaseUnavailable, isOutage, isUnreachable, opensCircuit, toPublicError } from '../src/errors.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database outages', () => {
  it('recognises what node-postgres reports when the server is away or the connection was lost', () => {
    for (const err of [
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006'),
      pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('driver has already been destroyed'),
      new Error('Cannot use a pool after calling end on the pool'),
      new Error('timeout exceeded when trying to connect'),
      // Node's refusal on every address of a host, and an error wrapping one.
      Object.assign(new AggregateError([pgError('ECONNREFUSED')], ''), {}),
      new Error('rollback failed', { cause: pgError('57P02') }),
    ]) {
      expect(isDatabaseUnavailable(err), String(err)).toBe(true);
    }
  });

  it('leaves statement errors, domain errors and the rest alone', () => {
    for (const err of [
      pgError('23505', 'duplicate key'),
      pgError('42P01', 'relation does not exist'),
      new DomainError('NOT_FOUND', 'no'),
      new Error('boom'),
      undefined,
    ]) {
      expect(isDatabaseUnavailable(err), String(err)).toBe(false);
    }
  });

  it('answers an outage as 503 SERVICE_UNAVAILABLE with Retry-After, whether thrown here or carried from another node', () => {
    const carried = databaseUnavailable();
    expect(carried.retryable).toBe(true);
    for (const err of [carried, pgError('57P01')]) {
      const pub = toPublicError(err);
      expect(pub).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, retryAfterS: 1 });
      expect(pub.message).not.toMatch(/57P01|terminating/);
      expect(errorHeaders(pub)).toEqual({ 'Retry-After': '1' });
    }
    expect(errorHeaders(toPublicError(new DomainError('NOT_FOUND', 'no')))).toEqual({});
    expect(toPublicError(new Error('boom'))).toMatchObject({ code: 'INTERNAL', status: 500 });
  });

  it('tells an unreachable server (refused, reset, timed out) from one that answered', () => {
    expect(isUnreachable(new TypeError('fetch failed', { cause: pgError('ECONNREFUSED') }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }))).toBe(true);
    expect(isUnreachable(new Error('invalid_grant'))).toBe(false);
  });

  it('keeps the circuit breaker shut for outages that every instance shares', () => {
    expect(opensCircuit(databaseUnavailable())).toBe(false);
    expect(isOutage(new Errors.MoleculerClientError('x', 503, 'SERVICE_UNAVAILABLE'))).toBe(true);
    expect(opensCircuit(new Errors.MoleculerError('Internal error', 500, 'INTERNAL'))).toBe(true);
    expect(opensCircuit(new Errors.MoleculerClientError('no', 404, 'NOT_FOUND'))).toBe(false);
  });
});
