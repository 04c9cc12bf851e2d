import { DomainError } from '@lms/contracts';

/** Opaque page cursors: base64url of the last row's sort key. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(ts ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) {
    throw new DomainError('VALIDATION_FAILED', 'Invalid input: cursor: not a cursor from this API', {
      issues: [{ path: 'cursor', message: 'not a cursor from this API', code: 'invalid_cursor' }],
    });
  }
  return { createdAt, id };
}
