import type { ColumnType, Kysely } from 'kysely';
import type { JWK } from 'jose';
import { dueRows } from '@lms/runtime';

export interface CredentialsDB {
  issuer_keys: {
    kid: string;
    /** Plain only until the service seals it (a key stored before sealing existed); then null. */
    private_jwk: ColumnType<JWK | null, never, null>;
    /** The private JWK sealed with the data key (`Sealer`, AAD `issuerKeyAad(kid)`). */
    private_sealed: ColumnType<string | null, string, string>;
    public_jwk: ColumnType<JWK, string, never>;
    created_at: ColumnType<Date, never, never>;
  };
  data_keys: { id: number; key: string; created_at: ColumnType<Date, never, never> };
  credentials: {
    id: string;
    code: string;
    user_id: string;
    course_id: string;
    subject_id: string;
    learner_name: string;
    course_title: string;
    status_index: number;
    /** The signed credential; null once the learner was erased (it named them). */
    jwt: string | null;
    completed_at: Date;
    issued_at: Date;
    /** When it expires (CREDENTIALS_VALIDITY_DAYS at issue), also in the signed credential; null: never. */
    valid_until: Date | null;
    revoked_at: Date | null;
    revocation_reason: string | null;
    /** Whether verification shows the reason to anyone; otherwise only the learner and admins see it. */
    revocation_reason_public: boolean;
  };
  status_lists: { id: number; bits: Buffer; updated_at: ColumnType<Date, never, Date> };
  pending: {
    user_id: string;
    course_id: string;
    completed_at: Date;
    status: ColumnType<string, string | undefined, string>;
    tries: ColumnType<number, never, number>;
    run_after: ColumnType<Date, Date | undefined, Date>;
  };
}

/** How long a claimed pending job is held before another loop may take it again. */
const LEASE_MS = 60_000;

export type CredentialRow = CredentialsDB['credentials'];
export type PendingRow = { user_id: string; course_id: string; completed_at: Date; tries: number };

/** Bit `i` of a bitstring, the W3C way: bit 0 is the most significant bit of the first byte. */
export function bitOf(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0;
}

export class CredentialsRepository {
  constructor(private readonly db: Kysely<CredentialsDB>) {}

  key(kid: string) {
    return this.db.selectFrom('issuer_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
  }

  /** Stores the key (its private part sealed) unless another node stored one first (then both use that one). */
  async insertKey(kid: string, privateSealed: string, publicJwk: JWK): Promise<void> {
    await this.db
      .insertInto('issuer_keys')
      .values({ kid, private_sealed: privateSealed, public_jwk: JSON.stringify(publicJwk) })
      .onConflict((oc) => oc.column('kid').doNothing())
      .execute();
  }

  /** Replaces a plain private key with its sealed form (once: a node that comes second changes nothing). */
  async sealKey(kid: string, privateSealed: string): Promise<boolean> {
    const r = await this.db
      .updateTable('issuer_keys')
      .set({ private_sealed: privateSealed, private_jwk: null })
      .where('kid', '=', kid)
      .where('private_sealed', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The generated stand-in key, if one was ever made (an install that ran without CREDENTIALS_DATA_KEY). */
  async storedDataKey(): Promise<string | undefined> {
    return (await this.db.selectFrom('data_keys').select('key').where('id', '=', 1).executeTakeFirst())?.key;
  }

  /** Replaces the sealed private key with the same key sealed under another data key. */
  async resealKey(kid: string, privateSealed: string): Promise<void> {
    await this.db.updateTable('issuer_keys').set({ private_sealed: privateSealed }).where('kid', '=', kid).execute();
  }

  /** The install's data key when CREDENTIALS_DATA_KEY is unset, created on first use (of two nodes racing, the first stored). */
  async dataKey(make: () => string): Promise<string> {
    await this.db
      .insertInto('data_keys')
      .values({ id: 1, key: make() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.db.selectFrom('data_keys').select('key').where('id', '=', 1).executeTakeFirstOrThrow()).key;
  }

  byId(id: string) {
    return this.db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byCode(code: string) {
    return this.db.selectFrom('credentials').selectAll().where('code', '=', code).executeTakeFirst();
  }

  of(userId: string, courseId: string) {
    return this.db.selectFrom('credentials').selectAll().where('user_id', '=', userId).where('course_id', '=', courseId).executeTakeFirst();
  }

  ofUser(userId: string) {
    return this.db.selectFrom('credentials').selectAll().where('user_id', '=', userId).orderBy('issued_at', 'desc').execute();
  }

  async indexTaken(i: number): Promise<boolean> {
    return !!(await this.db.selectFrom('credentials').select('id').where('status_index', '=', i).executeTakeFirst());
  }

  async countIssued(): Promise<number> {
    const r = await this.db
      .selectFrom('credentials')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Inserts the credential unless the learner already holds one for the course (then undefined). */
  async insert(row: CredentialRow): Promise<CredentialRow | undefined> {
    return this.db
      .insertInto('credentials')
      .values(row)
      .onConflict((oc) => oc.constraint('credentials_user_course_key').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async statusBits(): Promise<Buffer> {
    const r = await this.db.selectFrom('status_lists').select('bits').where('id', '=', 1).executeTakeFirstOrThrow();
    return r.bits;
  }

  /** Sets bit `i` of the list (locked for the transaction: two revocations do not lose one another's bit). */
  async setStatusBit(i: number): Promise<void> {
    const r = await this.db.selectFrom('status_lists').select('bits').where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
    const bits = Buffer.from(r.bits);
    bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7));
    await this.db.updateTable('status_lists').set({ bits, updated_at: new Date() }).where('id', '=', 1).execute();
  }

  async markRevoked(id: string, reason: string, reasonPublic: boolean): Promise<CredentialRow | undefined> {
    return this.db
      .updateTable('credentials')
      .set({ revoked_at: new Date(), revocation_reason: reason, revocation_reason_public: reasonPublic })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** Erasure: no name and no signed document (it names the learner) stay; the rows keep ids, dates and the code. */
  async anonymise(userId: string, pseudonym: string) {
    return this.db.updateTable('credentials').set({ learner_name: pseudonym, jwt: null }).where('user_id', '=', userId).returningAll().execute();
  }

  async deletePending(userId: string): Promise<void> {
    await this.db.deleteFrom('pending').where('user_id', '=', userId).execute();
  }

  /** Queues a completed course's certificate (once per learner and course). */
  async queue(userId: string, courseId: string, completedAt: Date): Promise<void> {
    await this.db
      .insertInto('pending')
      .values({ user_id: userId, course_id: courseId, completed_at: completedAt })
      .onConflict((oc) => oc.columns(['user_id', 'course_id']).doNothing())
      .execute();
  }

  /** The oldest due job, leased for a minute. */
  async claimPending(): Promise<PendingRow | undefined> {
    const row = await dueRows(this.db.selectFrom('pending').select(['user_id', 'course_id', 'completed_at', 'tries']), ['pending'])
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    await this.db
      .updateTable('pending')
      .set({ run_after: new Date(Date.now() + LEASE_MS), tries: row.tries + 1 })
      .where('user_id', '=', row.user_id)
      .where('course_id', '=', row.course_id)
      .execute();
    return row;
  }

  async donePending(userId: string, courseId: string): Promise<void> {
    await this.db.deleteFrom('pending').where('user_id', '=', userId).where('course_id', '=', courseId).execute();
  }

  async postponePending(userId: string, courseId: string, ms: number, failed: boolean): Promise<void> {
    await this.db
      .updateTable('pending')
      .set({ run_after: new Date(Date.now() + ms), status: failed ? 'failed' : 'pending' })
      .where('user_id', '=', userId)
      .where('course_id', '=', courseId)
      .execute();
  }
}
