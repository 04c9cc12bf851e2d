import { sql, type Generated, type Kysely } from 'kysely';
import type { JsonColumn } from '@lms/runtime';

export interface AuditDB {
  entries: {
    id: Generated<number>;
    event_id: string;
    at: Date;
    type: string;
    actor_id: string | null;
    subject_id: string | null;
    ip: string | null;
    data: JsonColumn<Record<string, unknown>>;
  };
}

export interface NewEntry {
  eventId: string;
  at: string;
  type: string;
  actorId: string | null;
  subjectId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
}

export class AuditRepository {
  constructor(private readonly db: Kysely<AuditDB>) {}

  async append(e: NewEntry): Promise<void> {
    await this.db
      .insertInto('entries')
      .values({ event_id: e.eventId, at: new Date(e.at), type: e.type, actor_id: e.actorId, subject_id: e.subjectId, ip: e.ip, data: JSON.stringify(e.data) })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  }

  /** Newest first, keyset pages on the log position. */
  list(f: { limit: number; before?: number; type?: string; actorId?: string; subjectId?: string }) {
    let q = this.db.selectFrom('entries').selectAll();
    if (f.type) q = q.where('type', '=', f.type);
    if (f.actorId) q = q.where('actor_id', '=', f.actorId);
    if (f.subjectId) q = q.where('subject_id', '=', f.subjectId);
    if (f.before) q = q.where('id', '<', f.before);
    return q.orderBy('id', 'desc').limit(f.limit + 1).execute();
  }

  /** For tests: proves the table refuses changes. */
  async tryToErase(id: number): Promise<void> {
    await sql`delete from entries where id = ${id}`.execute(this.db);
  }
}
