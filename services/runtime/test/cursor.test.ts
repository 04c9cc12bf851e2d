import { DomainError } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../src/cursor.js';

describe('page cursors', () => {
  it('round-trip the sort key', () => {
    const c = encodeCursor('2026-11-24T10:00:00.000Z', '2f1c7d2e-8a43-4d4f-9a57-3e5b1f0c9d11');
    expect(decodeCursor(c)).toEqual({ createdAt: new Date('2026-11-24T10:00:00.000Z'), id: '2f1c7d2e-8a43-4d4f-9a57-3e5b1f0c9d11' });
  });

  it('reject anything else as VALIDATION_FAILED on the cursor field', () => {
    for (const bad of ['', 'abc', Buffer.from("x|'; drop table courses; --").toString('base64url')]) {
      const err = (() => {
        try {
          decodeCursor(bad);
        } catch (e) {
          return e;
        }
      })() as DomainError;
      expect(err).toBeInstanceOf(DomainError);
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.details).toMatchObject({ issues: [{ path: 'cursor' }] });
    }
  });
});
