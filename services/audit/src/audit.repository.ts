import { sql, type Generated, type Kysely } from 'kysely';
import type { JsonColumn } from '@lms/runtime';

export interface AuditDB {
  /** Append-only (triggers refuse UPDATE, DELETE, TRUNCATE): people appear here by id only. */
  entries: {
    id: Generated<number>;
    event_id: string;
    at: Date;
    type: string;
    actor_id: string | null;
    subject_id: string | null;
    data: JsonColumn<Record<string, unknown>>;
  };
  /** The personal fields of an entry (email, name, IP, user agent…), deleted when `subject_id` is erased. */
  personal: {
    entry_id: number;
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

/**
 * Payload fields that say who someone is or where they were. An event that brings a new one must
 * name it here (and a migration must move the old values), or it stays in the entries for good.
 */
export const PERSONAL_FIELDS: ReadonlySet<string> = new Set(['email', 'displayName', 'ip', 'userAgent', 'emailHash']);

/** Splits a payload into what the entry keeps (ids, types, reasons) and the personal fields. */
export function splitPersonal(data: Record<string, unknown>): { kept: Record<string, unknown>; personal: Record<string, unknown> } {
  const kept: Record<string, unknown> = {};
  const personal: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) (PERSONAL_FIELDS.has(k) ? personal : kept)[k] = v;
  return { kept, personal };
}

export class AuditRepository {
  constructor(private readonly db: Kysely<AuditDB>) {}

  /**
   * Serialises appends of a person's fields with the erasure of that person (until the transaction
   * ends), so that an entry landing while they are erased cannot keep what the erasure deletes.
   */
  private async lockPerson(id: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext(${`audit.personal:${id}`}))`.execute(this.db);
  }

  private async erased(id: string): Promise<boolean> {
    return !!(await this.db.selectFrom('entries').select('id').where('subject_id', '=', id).where('type', '=', 'user.deleted').executeTakeFirst());
  }

  /**
   * Appends an entry; its personal fields go to `personal`, keyed by the subject (else the actor),
   * unless that person is already erased: then they are not kept at all. Run it in a transaction.
   */
  async append(e: NewEntry): Promise<void> {
    const { kept, personal } = splitPersonal(e.data);
    const hasPersonal = e.ip !== null || Object.keys(personal).length > 0;
    const owner = e.subjectId ?? e.actorId;
    if (hasPersonal && owner) await this.lockPerson(owner);
    const row = await this.db
      .insertInto('entries')
      .values({ event_id: e.eventId, at: new Date(e.at), type: e.type, actor_id: e.actorId, subject_id: e.subjectId, data: JSON.stringify(kept) })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row || !hasPersonal || (owner && (await this.erased(owner)))) return;
    await this.db
      .insertInto('personal')
      .values({ entry_id: row.id, subject_id: owner, ip: e.ip, data: JSON.stringify(personal) })
      .execute();
  }

  /** Erasure: deletes every personal field kept about the user; the entries (ids only) stay. */
  async erasePerson(id: string): Promise<number> {
    await this.lockPerson(id);
    const r = await this.db.deleteFrom('personal').where('subject_id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Newest first, keyset pages on the log position, with the personal fields of people not erased. */
  async list(f: { limit: number; before?: number; type?: string; actorId?: string; subjectId?: string }) {
    let q = this.db
      .selectFrom('entries')
      .leftJoin('personal', 'personal.entry_id', 'entries.id')
      .select([
        'entries.id',
        'entries.event_id',
        'entries.at',
        'entries.type',
        'entries.actor_id',
        'entries.subject_id',
        'entries.data',
        'personal.ip',
        'personal.data as personal',
      ]);
    if (f.type) q = q.where('entries.type', '=', f.type);
    if (f.actorId) q = q.where('entries.actor_id', '=', f.actorId);
    if (f.subjectId) q = q.where('entries.subject_id', '=', f.subjectId);
    if (f.before) q = q.where('entries.id', '<', f.before);
    const rows = await q
      .orderBy('entries.id', 'desc')
      .limit(f.limit + 1)
      .execute();
    return rows.map(({ personal, ...r }) => ({ ...r, ip: r.ip ?? null, data: personal ? { ...r.data, ...personal } : r.data }));
  }

  /** For tests: proves the table refuses changes. */
  async tryToErase(id: number): Promise<void> {
    await sql`delete from entries where id = ${id}`.execute(this.db);
  }
}
