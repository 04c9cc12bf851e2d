/**
 * What a call that lost its node turns into: which failures the broker retries on another node, and what the edge
 * answers once no node is left (tools/test/dead-nodes.int.test.ts kills real processes under load).
 */
import { Errors } from 'moleculer';
import { describe, expect, it } from 'vitest';
import { shouldRetry } from '../src/broker-options.js';
import { toPublicError } from '../src/errors.js';

/** As Moleculer rebuilds an error another node answered with: it stamps that node's id on it. */
const fromNode = <E extends Errors.MoleculerError>(err: E, nodeID: string): E => Object.assign(err, { nodeID });

describe('retries', () => {
  const self = 'gateway.host-1';

  it('retries the failures of the call itself: its node died, no node has the action, the timeout', () => {
    expect(shouldRetry(new Errors.RequestRejectedError({ action: 'courses.get', nodeID: 'courses.a' }), self)).toBe(true);
    expect(shouldRetry(new Errors.ServiceNotAvailableError({ action: 'courses.get', nodeID: self }), self)).toBe(true);
    expect(shouldRetry(new Errors.RequestTimeoutError({ action: 'courses.get', nodeID: 'courses.a' }), self)).toBe(true);
    // The other node's bulkhead turned it away before running it.
    expect(shouldRetry(fromNode(new Errors.QueueIsFullError({ action: 'courses.get', nodeID: 'courses.a', size: 1, limit: 1 }), 'courses.a'), self)).toBe(true);
  });

  it('does not repeat a call whose handler ran and failed on a retryable error of its own', () => {
    // enrollments.completeLesson answered: its own call to courses failed after its own retries.
    const nested = fromNode(new Errors.ServiceNotAvailableError({ action: 'courses.lessonCourse', nodeID: 'enrollments.b' }), 'enrollments.b');
    expect(shouldRetry(nested, self)).toBe(false);
    expect(shouldRetry(fromNode(new Errors.MoleculerRetryableError('database away', 503, 'DATABASE_UNAVAILABLE'), 'courses.a'), self)).toBe(false);
  });

  it('never retries a domain error or a bug', () => {
    expect(shouldRetry(new Errors.MoleculerClientError('No such course', 404, 'COURSE_NOT_FOUND'), self)).toBe(false);
    expect(shouldRetry(new Error('boom'), self)).toBe(false);
    expect(shouldRetry(undefined, self)).toBe(false);
  });
});

describe('the edge answer when no node is left', () => {
  it('is 503 SERVICE_UNAVAILABLE with a Retry-After hint for every way of having no node, never a 500', () => {
    const noNode = [
      new Errors.RequestRejectedError({ action: 'courses.get', nodeID: 'courses.a' }),
      new Errors.ServiceNotAvailableError({ action: 'courses.get' }),
      new Errors.ServiceNotFoundError({ action: 'courses.get' }),
      new Errors.QueueIsFullError({ action: 'courses.get', nodeID: 'courses.a', size: 1, limit: 1 }),
      new Errors.MoleculerRetryableError('some retryable failure', 503, 'SOMETHING_NEW'),
    ];
    for (const err of noNode) {
      expect(toPublicError(err), err.type).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, retryAfterS: 1 });
    }
  });

  it('keeps a timeout a timeout', () => {
    expect(toPublicError(new Errors.RequestTimeoutError({ action: 'courses.get', nodeID: 'courses.a' }))).toMatchObject({ code: 'TIMEOUT', status: 504 });
    expect(toPublicError(new Errors.RequestSkippedError({ action: 'courses.get', nodeID: 'courses.a' }))).toMatchObject({ code: 'TIMEOUT', status: 504 });
  });
});
