/**
 * The pure parts of Idempotency-Key (no servers): what a key may be, what identifies a request, and that what is stored
 * cannot be read or matched without the key. The database side is idempotency.int.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DomainError } from '@lms/contracts';
import { keyedRequest, parseIdempotencyKey } from '../src/idempotency.js';

describe('parseIdempotencyKey', () => {
  it('takes a bare token or a structured-field string, and nothing when absent', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey(' "8e03978e-40d5" ')).toBe('8e03978e-40d5');
    expect(parseIdempotencyKey('gateway:abc_~!')).toBe('gateway:abc_~!');
  });

  it('refuses empty, long, spaced, comma or quote-holding and non-ASCII keys as VALIDATION_FAILED naming the header', () => {
    for (const bad of ['', '""', 'a b', 'a,b', 'a"b', 'x'.repeat(256), 'clé', 'tab\there']) {
      let err: unknown;
      try {
        parseIdempotencyKey(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [{ path: 'Idempotency-Key' }] } });
    }
    expect(parseIdempotencyKey('x'.repeat(255))).toHaveLength(255);
  });
});

describe('keyedRequest', () => {
  const key = '3f0c1e9a-5b7d-4c1e-9a0b-2d6f8e4c7a11';

  it('names a request by caller and key, never by the key alone, and stores no trace of the key', () => {
    const ann = keyedRequest('courses.create', 'ann', key, { title: 'x' });
    const bob = keyedRequest('courses.create', 'bob', key, { title: 'x' });
    expect(ann.id).not.toBe(bob.id);
    expect(ann.id).not.toContain(key);
    expect(ann.fingerprint).not.toBe(bob.fingerprint); // keyed by the derived secret, which depends on the caller too
    expect(keyedRequest('courses.create', 'ann', key, { title: 'y' }).id).toBe(ann.id);
  });

  it('fingerprints the operation and the input, whatever order the input was written in', () => {
    const a = keyedRequest('courses.create', 'ann', key, { title: 'x', tags: ['a', 'b'], meta: { z: 1, a: 2 } });
    const b = keyedRequest('courses.create', 'ann', key, { meta: { a: 2, z: 1 }, tags: ['a', 'b'], title: 'x' });
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(keyedRequest('courses.create', 'ann', key, { title: 'x', tags: ['b', 'a'], meta: { z: 1, a: 2 } }).fingerprint).not.toBe(a.fingerprint);
    expect(keyedRequest('courses.update', 'ann', key, { title: 'x', tags: ['a', 'b'], meta: { z: 1, a: 2 } }).fingerprint).not.toBe(a.fingerprint);
  });

  it('derives a different fingerprint under another key for the same input (the table cannot be matched without keys)', () => {
    const a = keyedRequest('auth.login', 'anonymous', key, { email: 'ann@example.org', password: 'secret words' });
    const b = keyedRequest('auth.login', 'anonymous', `${key}0`, { email: 'ann@example.org', password: 'secret words' });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(a.seal.equals(b.seal)).toBe(false);
  });
});
