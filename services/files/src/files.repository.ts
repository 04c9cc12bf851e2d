import { dueRows } from '@lms/runtime';
import { sql, type ColumnType, type Generated, type Kysely, type Selectable } from 'kysely';

export interface FilesDB {
  files: {
    id: string;
    owner_id: string;
    course_id: string | null;
    lesson_id: string | null;
    name: string;
    version: number;
    state: string;
    scan: string;
    rejected_reason?: string | null;
    progress?: number | null;
    media?: ColumnType<unknown, string | undefined, string | undefined> | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  jobs: {
    file_id: string;
    version: number;
    status: string;
    attempts: ColumnType<number, number | undefined, number>;
    run_after: ColumnType<Date, undefined, unknown>;
    error: string | null;
  };
  file_variants: { file_id: string; version: number; name: string; blob_key: string; content_type: string; width: number; height: number; size: number };
  file_versions: {
    file_id: string;
    version: number;
    blob_key: string;
    sha256: string;
    size: string | number;
    content_type: string;
    declared_type: string | null;
    created_at: Generated<Date>;
  };
  url_keys: { id: number; key: string };
  course_grants: { file_id: string; course_id: string; created_at: Generated<Date> };
  user_grants: { file_id: string; user_id: string; created_at: Generated<Date> };
}
export type FileRow = Selectable<FilesDB['files']>;
export type VersionRow = Selectable<FilesDB['file_versions']>;
export type VariantRow = Selectable<FilesDB['file_variants']>;
/** A file with every version and rendition. */
export interface LoadedFile {
  f: FileRow;
  versions: VersionRow[];
  variants: VariantRow[];
}
/** A processing job, as the processor claimed it. */
export interface Job {
  file_id: string;
  version: number;
  attempts: number;
}
export interface NewVariant {
  name: string;
  blobKey: string;
  contentType: string;
  width: number;
  height: number;
  size: number;
}

/** The files service's SQL, all of it: files, versions, renditions, processing jobs, the URL key. */
export class FilesRepository {
  constructor(private readonly db: Kysely<FilesDB>) {}

  // --- files, versions, renditions ---

  async load(id: string): Promise<LoadedFile | undefined> {
    const f = await this.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
    if (!f) return undefined;
    const versions = await this.db.selectFrom('file_versions').selectAll().where('file_id', '=', id).orderBy('version').execute();
    const variants = await this.db.selectFrom('file_variants').selectAll().where('file_id', '=', id).orderBy('name').execute();
    return { f, versions, variants };
  }

  file(id: string): Promise<FileRow | undefined> {
    return this.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
  }

  version(fileId: string, version: number): Promise<VersionRow | undefined> {
    return this.db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).where('version', '=', version).executeTakeFirst();
  }

  /** Bytes a user's files take, every version counted. */
  async bytesUsedBy(ownerId: string): Promise<number> {
    const used = await this.db
      .selectFrom('file_versions')
      .innerJoin('files', 'files.id', 'file_versions.file_id')
      .select(sql<string>`coalesce(sum(file_versions.size), 0)`.as('n'))
      .where('files.owner_id', '=', ownerId)
      .executeTakeFirst();
    return Number(used?.n ?? 0);
  }

  async insertFile(row: { id: string; ownerId: string; courseId: string | null; lessonId: string | null; name: string; state: string }): Promise<void> {
    await this.db
      .insertInto('files')
      .values({
        id: row.id,
        owner_id: row.ownerId,
        course_id: row.courseId,
        lesson_id: row.lessonId,
        name: row.name,
        version: 1,
        state: row.state,
        scan: 'not_scanned',
      })
      .execute();
  }

  /** The file's current version number, its row locked for the rest of the transaction. */
  async lockVersion(id: string): Promise<number | undefined> {
    return (await this.db.selectFrom('files').select('version').where('id', '=', id).forUpdate().executeTakeFirst())?.version;
  }

  async setCurrentVersion(id: string, version: number, state: string, name: string): Promise<void> {
    await this.db
      .updateTable('files')
      .set({ version, state, rejected_reason: null, name, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async insertVersion(v: {
    fileId: string;
    version: number;
    blobKey: string;
    sha256: string;
    size: number;
    contentType: string;
    declaredType: string | null;
  }): Promise<void> {
    await this.db
      .insertInto('file_versions')
      .values({
        file_id: v.fileId,
        version: v.version,
        blob_key: v.blobKey,
        sha256: v.sha256,
        size: v.size,
        content_type: v.contentType,
        declared_type: v.declaredType,
      })
      .execute();
  }

  async deleteFile(id: string): Promise<void> {
    await this.db.deleteFrom('files').where('id', '=', id).execute();
  }

  ownedBy(userId: string): Promise<FileRow[]> {
    return this.db.selectFrom('files').selectAll().where('owner_id', '=', userId).execute();
  }

  /**
   * Deletes a user's own files (not those they put in a course) with their versions and renditions; returns the
   * blob keys no other file still refers to (their bytes may go).
   */
  async deleteOwnFiles(userId: string): Promise<string[]> {
    const mine = this.db.selectFrom('files').select('id').where('owner_id', '=', userId).where('course_id', 'is', null);
    const keys = new Set([
      ...(await this.db.selectFrom('file_versions').select('blob_key').where('file_id', 'in', mine).execute()).map((r) => r.blob_key),
      ...(await this.db.selectFrom('file_variants').select('blob_key').where('file_id', 'in', mine).execute()).map((r) => r.blob_key),
    ]);
    await this.db.deleteFrom('files').where('owner_id', '=', userId).where('course_id', 'is', null).execute();
    if (keys.size) {
      const shared = [
        ...(await this.db
          .selectFrom('file_versions')
          .select('blob_key')
          .where('blob_key', 'in', [...keys])
          .execute()),
        ...(await this.db
          .selectFrom('file_variants')
          .select('blob_key')
          .where('blob_key', 'in', [...keys])
          .execute()),
      ];
      for (const r of shared) keys.delete(r.blob_key);
    }
    return [...keys];
  }

  /** Whether a file other than `fileId` holds these bytes. */
  async blobSharedWith(blobKey: string, fileId: string): Promise<boolean> {
    return (
      (await this.db.selectFrom('file_versions').select('file_id').where('blob_key', '=', blobKey).where('file_id', '!=', fileId).executeTakeFirst()) !==
      undefined
    );
  }

  // --- read grants ---

  /** Grants read of the files to the graders of a course and to the users (again: nothing changes). */
  async grantRead(fileIds: string[], courseId: string | undefined, userIds: string[]): Promise<void> {
    if (courseId)
      await this.db
        .insertInto('course_grants')
        .values(fileIds.map((file_id) => ({ file_id, course_id: courseId })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    if (userIds.length)
      await this.db
        .insertInto('user_grants')
        .values(fileIds.flatMap((file_id) => userIds.map((user_id) => ({ file_id, user_id }))))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }

  /** Whether the user was granted read of the file. */
  async userGranted(fileId: string, userId: string): Promise<boolean> {
    return (
      (await this.db.selectFrom('user_grants').select('file_id').where('file_id', '=', fileId).where('user_id', '=', userId).executeTakeFirst()) !== undefined
    );
  }

  /** The courses whose graders were granted read of the file. */
  async grantedCourses(fileId: string): Promise<string[]> {
    return (await this.db.selectFrom('course_grants').select('course_id').where('file_id', '=', fileId).orderBy('course_id').limit(100).execute()).map(
      (r) => r.course_id,
    );
  }

  /** Erasure: grants to the user go (grants on their own files go with the files). */
  async deleteGrantsTo(userId: string): Promise<void> {
    await this.db.deleteFrom('user_grants').where('user_id', '=', userId).execute();
  }

  // --- processing ---

  async queueJob(fileId: string, version: number): Promise<void> {
    await this.db
      .insertInto('jobs')
      .values({ file_id: fileId, version, status: 'queued', error: null })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Claims the next due job (`SKIP LOCKED`: other nodes' claims are skipped) and leases it for `lockMs`; call inside a unit of work. */
  async claimJob(lockMs: number): Promise<Job | undefined> {
    const due = await dueRows(this.db.selectFrom('jobs').selectAll(), ['queued', 'running']).limit(1).executeTakeFirst();
    if (!due) return undefined;
    await this.db
      .updateTable('jobs')
      .set({ status: 'running', attempts: due.attempts + 1, run_after: sql`now() + ${`${lockMs} milliseconds`}::interval` })
      .where('file_id', '=', due.file_id)
      .where('version', '=', due.version)
      .execute();
    return { file_id: due.file_id, version: due.version, attempts: due.attempts + 1 };
  }

  async deleteJob(fileId: string, version: number): Promise<void> {
    await this.db.deleteFrom('jobs').where('file_id', '=', fileId).where('version', '=', version).execute();
  }

  async retryJob(fileId: string, version: number, error: string, delayMs: number): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ status: 'queued', error, run_after: sql`now() + ${`${delayMs} milliseconds`}::interval` })
      .where('file_id', '=', fileId)
      .where('version', '=', version)
      .execute();
  }

  async finishJob(fileId: string, version: number, status: 'done' | 'failed', error: string | null): Promise<void> {
    await this.db.updateTable('jobs').set({ status, error }).where('file_id', '=', fileId).where('version', '=', version).execute();
  }

  async markInfected(fileId: string): Promise<void> {
    await this.db.updateTable('files').set({ scan: 'infected' }).where('id', '=', fileId).execute();
  }

  async setProgress(fileId: string, percent: number): Promise<void> {
    await this.db.updateTable('files').set({ progress: percent }).where('id', '=', fileId).execute();
  }

  /** Records renditions (again after a crash: the same ones) and marks the version ready. */
  async markReady(fileId: string, version: number, variants: NewVariant[], extra: { scan?: 'clean'; media?: unknown }): Promise<void> {
    for (const r of variants) {
      await this.db
        .insertInto('file_variants')
        .values({ file_id: fileId, version, name: r.name, blob_key: r.blobKey, content_type: r.contentType, width: r.width, height: r.height, size: r.size })
        .onConflict((oc) => oc.columns(['file_id', 'version', 'name']).doNothing())
        .execute();
    }
    await this.db
      .updateTable('files')
      .set({
        state: 'ready',
        progress: null,
        ...(extra.scan && { scan: extra.scan }),
        ...(extra.media !== undefined && { media: JSON.stringify(extra.media) }),
        updated_at: sql`now()`,
      })
      .where('id', '=', fileId)
      .where('version', '=', version)
      .execute();
  }

  async markRejected(fileId: string, version: number, reason: string): Promise<void> {
    await this.db
      .updateTable('files')
      .set({ state: 'rejected', rejected_reason: reason, progress: null, updated_at: sql`now()` })
      .where('id', '=', fileId)
      .where('version', '=', version)
      .execute();
  }

  // --- signed URLs ---

  /** The key of signed URLs kept in the database: `candidate` becomes it unless one is kept already. */
  async urlKey(candidate: string): Promise<string> {
    await this.db
      .insertInto('url_keys')
      .values({ id: 1, key: candidate })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.db.selectFrom('url_keys').select('key').where('id', '=', 1).executeTakeFirstOrThrow()).key;
  }
}
