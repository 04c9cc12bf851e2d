import { DomainError } from '@lms/contracts';

/** Opaque page cursors: base64url of the last row's sort key. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

/** The error for a cursor this API did not hand out. */
export function invalidCursor(): DomainError {
  return new DomainError('VALIDATION_FAILED', 'Invalid input: cursor: not a cursor from this API', {
    issues: [{ path: 'cursor', message: 'not a cursor from this API', code: 'invalid_cursor' }],
  });
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(ts ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) throw invalidCursor();
  return { createdAt, id };
}

/**
 * One page from a keyset query that fetched `limit + 1` rows: the extra row only says there is more.
 * `cursorOf` gives the cursor of the page's last item.
 */
export function keysetPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (last: T) => string): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit).map(map);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}

/** A cursor over any text sort key (e.g. a title) plus the id that breaks ties. */
export function encodeKeyCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

export function decodeKeyCursor(cursor: string): { key: string; id: string } {
  try {
    const [key, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof key === 'string' && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)) return { key, id };
  } catch {
    /* not ours */
  }
  throw invalidCursor();
}
