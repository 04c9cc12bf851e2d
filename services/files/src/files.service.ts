import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { coursePermissionsOf, coursesInternal, DomainError, fileEvents, files, filesInternal, erasureReceipts, privacyExportContract, userEvents, type FileMeta } from '@lms/contracts';
import { addToOutbox, consumer, defineService, type Caller, type HandlerArgs } from '@lms/runtime';
import { sql, type ColumnType, type Kysely, type Selectable, type Transaction } from 'kysely';
import * as m0 from './migrations/20261124240000_files.js';
import * as m1 from './migrations/20261124250000_variants.js';
import * as m2 from './migrations/20261124260000_jobs.js';
import { dimensionsFromHead, IMAGE_TYPES, maxPixels } from './images.js';
import { processable, Processor } from './processor.js';
import { safeName } from './ingest.js';
import { storageFromEnv, type BlobStorage } from './storage.js';
import { detectType, inline } from './types.js';

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
    created_at?: Date;
    updated_at?: Date;
  };
  jobs: { file_id: string; version: number; status: string; attempts: ColumnType<number, number | undefined, number>; run_after: ColumnType<Date, undefined, unknown>; error: string | null };
  file_variants: { file_id: string; version: number; name: string; blob_key: string; content_type: string; width: number; height: number; size: number };
  file_versions: { file_id: string; version: number; blob_key: string; sha256: string; size: string | number; content_type: string; declared_type: string | null; created_at?: Date };
  url_keys: { id: number; key: string };
}
type FileRow = Selectable<FilesDB['files']>;
type VersionRow = Selectable<FilesDB['file_versions']>;

const notFound = () => new DomainError('NOT_FOUND', 'No such file');

/** Size limits per kind (FILES_MAX_IMAGE_BYTES, FILES_MAX_VIDEO_BYTES, FILES_MAX_OTHER_BYTES), within FILES_MAX_BYTES. */
function limitFor(contentType: string): number {
  const env = (k: string, d: number) => Number(process.env[k] ?? d);
  if (contentType.startsWith('image/')) return env('FILES_MAX_IMAGE_BYTES', 50 * 1024 ** 2);
  const all = env('FILES_MAX_BYTES', 2 * 1024 ** 3);
  if (contentType.startsWith('video/')) return env('FILES_MAX_VIDEO_BYTES', all);
  return env('FILES_MAX_OTHER_BYTES', all);
}
const QUOTA = () => Number(process.env.FILES_QUOTA_BYTES ?? 1024 ** 3);

function toMeta(f: FileRow, versions: VersionRow[], variants: Array<Selectable<FilesDB['file_variants']>> = []): FileMeta {
  const current = versions.find((v) => v.version === f.version)!;
  return {
    id: f.id,
    ownerId: f.owner_id,
    courseId: f.course_id,
    lessonId: f.lesson_id,
    name: f.name,
    contentType: current.content_type,
    size: Number(current.size),
    sha256: current.sha256,
    version: f.version,
    state: f.state as FileMeta['state'],
    scan: f.scan as FileMeta['scan'],
    versions: versions.map((v) => ({ version: v.version, size: Number(v.size), sha256: v.sha256, contentType: v.content_type, declaredType: v.declared_type, createdAt: v.created_at!.toISOString() })),
    variants: variants.filter((v) => v.version === f.version).map((v) => ({ name: v.name, contentType: v.content_type, width: v.width, height: v.height, size: v.size })),
    rejectedReason: f.rejected_reason ?? null,
    progress: f.progress ?? null,
    media: (f.media as FileMeta['media']) ?? null,
    createdAt: f.created_at!.toISOString(),
    updatedAt: f.updated_at!.toISOString(),
  };
}

type Call = HandlerArgs<typeof files.get, FilesDB, unknown>['call'];

/**
 * Who may read a file: its owner, admins, and anyone with a role in its course (staff and enrolled
 * learners). Who may change it: its owner, admins, and course staff who may edit the course.
 */
async function access(call: Call, f: FileRow, caller: Caller, admin: boolean): Promise<{ read: boolean; write: boolean }> {
  if (admin || f.owner_id === caller.userId) return { read: true, write: true };
  if (!f.course_id) return { read: false, write: false };
  const r = await call(coursesInternal.roleOf, { courseId: f.course_id, userId: caller.userId });
  const perms = coursePermissionsOf(r.role ?? undefined);
  return { read: r.role !== null, write: perms.has('course:edit') };
}

/** Download URLs are signed with HMAC-SHA256 over file, version and expiry (FILES_URL_SECRET, or a key kept here). */
class UrlSigner {
  private key: Promise<Buffer> | undefined;
  constructor(private readonly db: Kysely<FilesDB>) {}
  private secret(): Promise<Buffer> {
    return (this.key ??= (async () => {
      if (process.env.FILES_URL_SECRET) return Buffer.from(process.env.FILES_URL_SECRET);
      await this.db.insertInto('url_keys').values({ id: 1, key: randomBytes(32).toString('base64') }).onConflict((oc) => oc.column('id').doNothing()).execute();
      return Buffer.from((await this.db.selectFrom('url_keys').select('key').where('id', '=', 1).executeTakeFirstOrThrow()).key, 'base64');
    })());
  }
  async sign(fileId: string, version: number, exp: number): Promise<string> {
    return createHmac('sha256', await this.secret()).update(`${fileId}.${version}.${exp}`).digest('base64url');
  }
  async check(fileId: string, version: number, exp: number, sig: string): Promise<boolean> {
    if (exp * 1000 < Date.now()) return false;
    const want = Buffer.from(await this.sign(fileId, version, exp));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

async function load(db: Kysely<FilesDB>, id: string) {
  const f = await db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
  if (!f) return undefined;
  const versions = await db.selectFrom('file_versions').selectAll().where('file_id', '=', id).orderBy('version').execute();
  const variants = await db.selectFrom('file_variants').selectAll().where('file_id', '=', id).orderBy('name').execute();
  return { f, versions, variants };
}

const storages = new WeakMap<object, BlobStorage>();
const processors = new WeakMap<object, Processor>();
/** One storage per runtime, shared by handlers and consumers. */
function storageOf(runtime: { config: { dataDir: string } }): BlobStorage {
  let s = storages.get(runtime);
  if (!s) storages.set(runtime, (s = storageFromEnv(runtime.config.dataDir)));
  return s;
}

/** Files: metadata, versions, access and signed URLs; the bytes live in BlobStorage (local disk or S3). */
export const filesService = defineService({
  name: 'files',
  contracts: { ...files, ...filesInternal, ...privacyExportContract('files') },
  migrations: { '20261124240000_files': m0, '20261124250000_variants': m1, '20261124260000_jobs': m2 },
  repository: (db: Kysely<FilesDB>, runtime) => {
    const processor = new Processor(db, storageOf(runtime), runtime, runtime.logger('files.processor'));
    processors.set(runtime, processor);
    return { db, storage: storageOf(runtime), signer: new UrlSigner(db), processor };
  },
  started: async ({ processor }) => processor.start(),
  stopped: async ({ processor }) => processor.stop(),
  consumers: [
    // The processing work queue: one durable group on file.uploaded, shared by every files node. It only
    // records the job (inside the event's transaction); the processor renders outside any transaction.
    consumer({
      name: 'process',
      event: fileEvents.uploaded,
      handle: async ({ payload: p, event: _env, trx, runtime }) => {
        if (!processable(p.contentType)) return;
        await trx.insertInto('jobs').values({ file_id: p.fileId, version: p.version, status: 'queued', error: null }).onConflict((oc) => oc.doNothing()).execute();
        setImmediate(() => processors.get(runtime)?.kick());
      },
    }),
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      // Erasure: the user's own files go, and their bytes with them (blobs and variants stay only
      // while another file shares the same bytes). Files they put in a course stay with the course.
      handle: async ({ payload: p, event: _env, trx, runtime }) => {
        const mine = trx.selectFrom('files').select('id').where('owner_id', '=', p.userId).where('course_id', 'is', null);
        const keys = new Set([
          ...(await trx.selectFrom('file_versions').select('blob_key').where('file_id', 'in', mine).execute()).map((r) => r.blob_key),
          ...(await trx.selectFrom('file_variants').select('blob_key').where('file_id', 'in', mine).execute()).map((r) => r.blob_key),
        ]);
        await trx.deleteFrom('files').where('owner_id', '=', p.userId).where('course_id', 'is', null).execute();
        if (keys.size) {
          const shared = [
            ...(await trx.selectFrom('file_versions').select('blob_key').where('blob_key', 'in', [...keys]).execute()),
            ...(await trx.selectFrom('file_variants').select('blob_key').where('blob_key', 'in', [...keys]).execute()),
          ];
          for (const r of shared) keys.delete(r.blob_key);
          // Before the commit, and a failure fails the whole erasure here: it is redelivered (and the
          // receipt below not sent) until the bytes are gone. Deleting a missing key is no error.
          const storage = storageOf(runtime);
          for (const key of keys) await storage.delete(key);
        }
        await addToOutbox(trx, erasureReceipts.files, { requestId: p.requestId, userId: p.userId, service: 'files' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async register({ input, caller, can, call, repo: { db, storage }, tx, logger }) {
      try {
        // Who may do this is settled before the transaction (no remote call inside one).
        const cur = input.fileId ? await load(db, input.fileId) : undefined;
        if (input.fileId && !cur) throw notFound();
        if (cur) {
          const a = await access(call, cur.f, caller, can('courses:read-all'));
          if (!a.read) throw notFound();
          if (!a.write) throw new DomainError('FORBIDDEN', 'You may not change this file');
        }
        const courseId = cur?.f.course_id ?? input.courseId ?? null;
        if (!cur && courseId) {
          const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
          // A course the caller may not even see does not exist for them: 404, like an unknown id.
          if (!r.exists || !(can('courses:read-all') || r.visible)) throw new DomainError('NOT_FOUND', 'No such course');
          if (!can('courses:read-all') && !coursePermissionsOf(r.role ?? undefined).has('course:edit')) throw new DomainError('FORBIDDEN', 'Only the course staff may attach files to it');
        }
        const head = Buffer.from(input.blob.head, 'base64');
        const contentType = await detectType(head, input.declaredType);
        if (IMAGE_TYPES.has(contentType)) {
          // A decompression bomb is refused from its header, before anything is kept.
          const dims = await dimensionsFromHead(head);
          if (dims && dims.width * dims.height > maxPixels()) {
            throw new DomainError('IMAGE_TOO_LARGE', `The image is ${dims.width} × ${dims.height} pixels; at most ${maxPixels()} pixels are accepted`, { ...dims, maxPixels: maxPixels() });
          }
        }
        const kindLimit = limitFor(contentType);
        if (input.blob.size > kindLimit) throw new DomainError('PAYLOAD_TOO_LARGE', `Files of this kind (${contentType}) may be at most ${kindLimit} bytes`, { maxBytes: kindLimit, contentType });
        const state = processable(contentType) ? 'processing' : 'ready';
        const blobKey = `blobs/${input.blob.sha256}`;
        const owner = cur?.f.owner_id ?? caller.userId;
        const id = cur?.f.id ?? randomUUID();
        const meta = await tx(async (trx, emit) => {
          const used = await trx
            .selectFrom('file_versions')
            .innerJoin('files', 'files.id', 'file_versions.file_id')
            .select(sql<string>`coalesce(sum(file_versions.size), 0)`.as('n'))
            .where('files.owner_id', '=', owner)
            .executeTakeFirst();
          if (Number(used?.n ?? 0) + input.blob.size > QUOTA()) throw new DomainError('QUOTA_EXCEEDED', 'The storage quota of this user is used up', { quotaBytes: QUOTA() });
          let version = 1;
          if (!cur) {
            await trx.insertInto('files').values({ id, owner_id: owner, course_id: courseId, lesson_id: input.lessonId ?? null, name: safeName(input.name), version, state, scan: 'not_scanned' }).execute();
          } else {
            // Versions are numbered under the row lock: two concurrent uploads get 2 and 3, not 2 twice.
            const locked = await trx.selectFrom('files').select('version').where('id', '=', id).forUpdate().executeTakeFirst();
            if (!locked) throw notFound();
            version = locked.version + 1;
            await trx.updateTable('files').set({ version, state, rejected_reason: null, name: safeName(input.name), updated_at: sql`now()` }).where('id', '=', id).execute();
          }
          await trx.insertInto('file_versions').values({ file_id: id, version, blob_key: blobKey, sha256: input.blob.sha256, size: input.blob.size, content_type: contentType, declared_type: input.declaredType ?? null }).execute();
          // The bytes reach their content address before the commit: a crash in between leaves an
          // unreferenced blob, never a row without bytes.
          await storage.move(input.blob.tmpKey, blobKey);
          await emit(fileEvents.uploaded, { fileId: id, version, ownerId: owner, courseId, contentType, size: input.blob.size, sha256: input.blob.sha256 }, id);
          const after = (await load(trx, id))!;
          return toMeta(after.f, after.versions, after.variants);
        });
        logger.info({ fileId: id, version: meta.version, size: meta.size, contentType }, 'file stored');
        return meta;
      } catch (err) {
        await storage.delete(input.blob.tmpKey).catch(() => {});
        throw err;
      }
    },
    async get({ input, caller, can, call, repo: { db } }) {
      const cur = await load(db, input.fileId);
      if (!cur || !(await access(call, cur.f, caller, can('courses:read-all'))).read) throw notFound();
      return toMeta(cur.f, cur.versions, cur.variants);
    },
    async delete({ input, caller, can, call, repo: { db }, tx }) {
      const cur = await load(db, input.fileId);
      if (!cur) throw notFound();
      const a = await access(call, cur.f, caller, can('courses:read-all'));
      if (!a.read) throw notFound();
      if (!a.write) throw new DomainError('FORBIDDEN', 'You may not delete this file');
      return tx(async (trx, emit) => {
        await trx.deleteFrom('files').where('id', '=', input.fileId).execute();
        await emit(fileEvents.deleted, { fileId: input.fileId, ownerId: cur.f.owner_id, by: caller.userId }, input.fileId);
        return { deleted: true as const };
      });
    },
    async signedUrl({ input, caller, can, call, repo: { db, signer } }) {
      const cur = await load(db, input.fileId);
      if (!cur || !(await access(call, cur.f, caller, can('courses:read-all'))).read) throw notFound();
      const version = input.version ?? cur.f.version;
      if (!cur.versions.some((v) => v.version === version)) throw notFound();
      const exp = Math.floor(Date.now() / 1000) + input.expiresInSeconds;
      const sig = await signer.sign(cur.f.id, version, exp);
      return { url: `/api/v1/files/${cur.f.id}/content?version=${version}&exp=${exp}&sig=${sig}`, expiresAt: new Date(exp * 1000).toISOString() };
    },
    async describe({ input, repo: { db } }) {
      const cur = await load(db, input.fileId);
      if (!cur) throw notFound();
      const v = cur.versions.find((x) => x.version === cur.f.version)!;
      return { ownerId: cur.f.owner_id, contentType: v.content_type, state: cur.f.state as 'processing' | 'ready' | 'rejected' };
    },
    async openForRead({ input, caller, can, call, repo: { db, signer } }) {
      const cur = await load(db, input.fileId);
      if (!cur) throw notFound();
      const version = input.version ?? cur.f.version;
      if (input.signature) {
        if (!(await signer.check(cur.f.id, version, input.signature.exp, input.signature.sig))) throw new DomainError('TOKEN_INVALID', 'The link has expired or is not valid');
      } else if (!caller || !(await access(call, cur.f, caller, can('courses:read-all'))).read) {
        throw caller ? notFound() : new DomainError('UNAUTHENTICATED', 'Sign in, or use a signed URL');
      }
      const v = cur.versions.find((x) => x.version === version);
      if (!v) throw notFound();
      if (cur.f.state === 'rejected' && version === cur.f.version) throw new DomainError('NOT_FOUND', 'This file was refused by processing', { reason: cur.f.rejected_reason });
      if (input.variant) {
        const r = cur.variants.find((x) => x.version === version && x.name === input.variant);
        if (!r) throw new DomainError('NOT_FOUND', cur.f.state === 'processing' ? 'Not processed yet' : 'No such rendition');
        return { blobKey: r.blob_key, size: r.size, contentType: r.content_type, name: `${cur.f.name}.${r.name}`, sha256: `${v.sha256}-${r.name}`, inline: true };
      }
      return { blobKey: v.blob_key, size: Number(v.size), contentType: v.content_type, name: cur.f.name, sha256: v.sha256, inline: inline(v.content_type) };
    },
    async privacyExport({ input, repo: { db } }) {
      const rows = await db.selectFrom('files').selectAll().where('owner_id', '=', input.userId).execute();
      return { data: { files: rows.map((f) => ({ id: f.id, name: f.name, courseId: f.course_id, version: f.version, createdAt: f.created_at?.toISOString() })) } };
    },
  },
});
