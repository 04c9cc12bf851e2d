import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  coursePermissionsOf,
  coursesInternal,
  DomainError,
  fileEvents,
  files,
  filesInternal,
  erasureReceipts,
  privacyExportContract,
  userEvents,
  type EventContract,
  type FileMeta,
} from '@lms/contracts';
import { consumer, defineService, type Call, type Caller, type ConsumerDefinition, type ServiceContext } from '@lms/runtime';
import type { Kysely } from 'kysely';
import * as m0 from './migrations/20261124240000_files.js';
import * as m1 from './migrations/20261124250000_variants.js';
import * as m2 from './migrations/20261124260000_jobs.js';
import * as m3 from './migrations/20261202100000_grants.js';
import { filesEnv, limitFor, type FilesConfig } from './config.js';
import { FilesRepository, type FileRow, type FilesDB, type LoadedFile } from './files.repository.js';
import { dimensionsFromHead, IMAGE_TYPES } from './images.js';
import { processable, Processor } from './processor.js';
import { safeName } from './ingest.js';
import { storageFromEnv, type BlobStorage } from './storage.js';
import { detectType, inline } from './types.js';

export type { FilesDB } from './files.repository.js';

const notFound = () => new DomainError('NOT_FOUND', 'No such file');

/** The version a file's row points at (always recorded with it). */
function currentVersion({ f, versions }: LoadedFile) {
  const v = versions.find((x) => x.version === f.version);
  if (!v) throw new Error(`file ${f.id} has no row for its version ${f.version}`);
  return v;
}

function toMeta(file: LoadedFile): FileMeta {
  const { f, versions, variants } = file;
  const current = currentVersion(file);
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
    versions: versions.map((v) => ({
      version: v.version,
      size: Number(v.size),
      sha256: v.sha256,
      contentType: v.content_type,
      declaredType: v.declared_type,
      createdAt: v.created_at.toISOString(),
    })),
    variants: variants
      .filter((v) => v.version === f.version)
      .map((v) => ({ name: v.name, contentType: v.content_type, width: v.width, height: v.height, size: v.size })),
    rejectedReason: f.rejected_reason ?? null,
    progress: f.progress ?? null,
    media: (f.media as FileMeta['media']) ?? null,
    createdAt: f.created_at.toISOString(),
    updatedAt: f.updated_at.toISOString(),
  };
}

/**
 * Who may read a file: its owner, admins, anyone with a role in its course (staff and enrolled learners), and those
 * it was granted to (`files.grantRead`): the named users, and the staff who may grade (`course:grade`) in a granted
 * course. Who may change it: its owner, admins, and course staff who may edit the course (a grant never lets one change).
 */
async function access(call: Call, repo: FilesRepository, f: FileRow, caller: Caller, admin: boolean): Promise<{ read: boolean; write: boolean }> {
  if (admin || f.owner_id === caller.userId) return { read: true, write: true };
  if (f.course_id) {
    const r = await call(coursesInternal.roleOf, { courseId: f.course_id, userId: caller.userId });
    const perms = coursePermissionsOf(r.role ?? undefined);
    if (r.role !== null) return { read: true, write: perms.has('course:edit') };
  }
  if (await repo.userGranted(f.id, caller.userId)) return { read: true, write: false };
  for (const courseId of await repo.grantedCourses(f.id)) {
    const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
    if (coursePermissionsOf(r.role ?? undefined).has('course:grade')) return { read: true, write: false };
  }
  return { read: false, write: false };
}

/** Download URLs are signed with HMAC-SHA256 over file, version and expiry (FILES_URL_SECRET, or a key kept in the database). */
class UrlSigner {
  private key: Promise<Buffer> | undefined;
  constructor(
    private readonly repo: FilesRepository,
    private readonly configured: string | undefined,
  ) {}
  private secret(): Promise<Buffer> {
    return (this.key ??= (async () => {
      if (this.configured) return Buffer.from(this.configured);
      return Buffer.from(await this.repo.urlKey(randomBytes(32).toString('base64')), 'base64');
    })().catch((err: unknown) => {
      this.key = undefined; // a database outage is not remembered: the next request asks again
      throw err;
    }));
  }
  async sign(fileId: string, version: number, exp: number): Promise<string> {
    return createHmac('sha256', await this.secret())
      .update(`${fileId}.${version}.${exp}`)
      .digest('base64url');
  }
  async check(fileId: string, version: number, exp: number, sig: string): Promise<boolean> {
    if (exp * 1000 < Date.now()) return false;
    const want = Buffer.from(await this.sign(fileId, version, exp));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** What the files service's handlers, consumers and processor share, built once per node. */
export interface FilesDeps {
  config: FilesConfig;
  storage: BlobStorage;
  signer: UrlSigner;
  processor: Processor;
}

function filesDeps(s: ServiceContext<FilesDB, FilesRepository, FilesConfig>): FilesDeps {
  const storage = storageFromEnv(s.runtime.config.dataDir, s.config);
  return { config: s.config, storage, signer: new UrlSigner(s.repo, s.config.FILES_URL_SECRET), processor: new Processor(s, storage) };
}

/** A consumer of this service: its repository and deps typed. */
const filesConsumer = <E extends EventContract>(def: ConsumerDefinition<E, FilesDB, FilesRepository, FilesDeps>) => consumer(def);

/** Files: metadata, versions, access and signed URLs; the bytes live in BlobStorage (local disk or S3). */
export const filesService = defineService({
  name: 'files',
  env: filesEnv,
  contracts: { ...files, ...filesInternal, ...privacyExportContract('files') },
  migrations: { '20261124240000_files': m0, '20261124250000_variants': m1, '20261124260000_jobs': m2, '20261202100000_grants': m3 },
  repository: (db: Kysely<FilesDB>) => new FilesRepository(db),
  deps: filesDeps,
  started: async ({ processor }) => processor.start(),
  stopped: async ({ processor }) => processor.stop(),
  consumers: [
    // The processing work queue: one durable group on file.uploaded, shared by every files node. It only
    // records the job (inside the event's transaction); the processor renders outside any transaction.
    filesConsumer({
      name: 'process',
      event: fileEvents.uploaded,
      handle: async ({ payload: p, repo, deps, afterCommit }) => {
        if (!processable(deps.config, p.contentType)) return;
        await repo.queueJob(p.fileId, p.version);
        // Once the event's transaction has committed (the job is visible then); never if it rolls back.
        afterCommit(() => deps.processor.kick());
      },
    }),
    filesConsumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      // Erasure: the user's own files go, and their bytes with them (blobs and variants stay only
      // while another file shares the same bytes). Files they put in a course stay with the course.
      handle: async ({ payload: p, repo, emit, deps }) => {
        const unshared = await repo.deleteOwnFiles(p.userId);
        // What others granted them to read (group members' hand-ins) is no longer theirs to read.
        await repo.deleteGrantsTo(p.userId);
        // Before the commit, and a failure fails the whole erasure here: it is redelivered (and the
        // receipt below not sent) until the bytes are gone. Deleting a missing key is no error.
        for (const key of unshared) await deps.storage.delete(key);
        await emit(erasureReceipts.files, { requestId: p.requestId, userId: p.userId, service: 'files' }, p.userId);
      },
    }),
  ],
  handlers: {
    async register({ input, caller, can, call, repo, uow, deps: { config, storage }, logger }) {
      try {
        // Who may do this is settled before the transaction (no remote call inside one).
        const cur = input.fileId ? await repo.load(input.fileId) : undefined;
        if (input.fileId && !cur) throw notFound();
        if (cur) {
          const a = await access(call, repo, cur.f, caller, can('courses:read-all'));
          if (!a.read) throw notFound();
          if (!a.write) throw new DomainError('FORBIDDEN', 'You may not change this file');
        }
        const courseId = cur?.f.course_id ?? input.courseId ?? null;
        if (!cur && courseId) {
          const r = await call(coursesInternal.roleOf, { courseId, userId: caller.userId });
          // A course the caller may not even see does not exist for them: 404, like an unknown id.
          if (!r.exists || !(can('courses:read-all') || r.visible)) throw new DomainError('NOT_FOUND', 'No such course');
          if (!can('courses:read-all') && !coursePermissionsOf(r.role ?? undefined).has('course:edit'))
            throw new DomainError('FORBIDDEN', 'Only the course staff may attach files to it');
        }
        const head = Buffer.from(input.blob.head, 'base64');
        const contentType = await detectType(head, input.declaredType);
        if (IMAGE_TYPES.has(contentType)) {
          // A decompression bomb is refused from its header, before anything is kept.
          const dims = await dimensionsFromHead(head);
          const maxPixels = config.FILES_MAX_PIXELS;
          if (dims && dims.width * dims.height > maxPixels) {
            throw new DomainError('IMAGE_TOO_LARGE', `The image is ${dims.width} × ${dims.height} pixels; at most ${maxPixels} pixels are accepted`, {
              ...dims,
              maxPixels,
            });
          }
        }
        const kindLimit = limitFor(config, contentType);
        if (input.blob.size > kindLimit)
          throw new DomainError('PAYLOAD_TOO_LARGE', `Files of this kind (${contentType}) may be at most ${kindLimit} bytes`, {
            maxBytes: kindLimit,
            contentType,
          });
        const state = processable(config, contentType) ? 'processing' : 'ready';
        const blobKey = `blobs/${input.blob.sha256}`;
        const owner = cur?.f.owner_id ?? caller.userId;
        const id = cur?.f.id ?? randomUUID();
        const meta = await uow(async ({ repo, emit }) => {
          const quota = config.FILES_QUOTA_BYTES;
          if ((await repo.bytesUsedBy(owner)) + input.blob.size > quota)
            throw new DomainError('QUOTA_EXCEEDED', 'The storage quota of this user is used up', { quotaBytes: quota });
          let version = 1;
          if (!cur) {
            await repo.insertFile({ id, ownerId: owner, courseId, lessonId: input.lessonId ?? null, name: safeName(input.name), state });
          } else {
            // Versions are numbered under the row lock: two concurrent uploads get 2 and 3, not 2 twice.
            const locked = await repo.lockVersion(id);
            if (locked === undefined) throw notFound();
            version = locked + 1;
            await repo.setCurrentVersion(id, version, state, safeName(input.name));
          }
          await repo.insertVersion({
            fileId: id,
            version,
            blobKey,
            sha256: input.blob.sha256,
            size: input.blob.size,
            contentType,
            declaredType: input.declaredType ?? null,
          });
          // The bytes reach their content address before the commit: a crash in between leaves an
          // unreferenced blob, never a row without bytes.
          await storage.move(input.blob.tmpKey, blobKey);
          await emit(fileEvents.uploaded, { fileId: id, version, ownerId: owner, courseId, contentType, size: input.blob.size, sha256: input.blob.sha256 }, id);
          const after = await repo.load(id);
          if (!after) throw notFound();
          return toMeta(after);
        });
        logger.info({ fileId: id, version: meta.version, size: meta.size, contentType }, 'file stored');
        return meta;
      } catch (err) {
        // Best effort: the refusal is what the client must hear; a temporary blob left behind is only logged.
        await storage
          .delete(input.blob.tmpKey)
          .catch((e: unknown) => logger.warn({ tmpKey: input.blob.tmpKey, err: String(e) }, 'could not delete a refused upload'));
        throw err;
      }
    },
    async get({ input, caller, can, call, repo }) {
      const cur = await repo.load(input.fileId);
      if (!cur || !(await access(call, repo, cur.f, caller, can('courses:read-all'))).read) throw notFound();
      return toMeta(cur);
    },
    async delete({ input, caller, can, call, repo, uow }) {
      const cur = await repo.load(input.fileId);
      if (!cur) throw notFound();
      const a = await access(call, repo, cur.f, caller, can('courses:read-all'));
      if (!a.read) throw notFound();
      if (!a.write) throw new DomainError('FORBIDDEN', 'You may not delete this file');
      return uow(async ({ repo, emit }) => {
        await repo.deleteFile(input.fileId);
        await emit(fileEvents.deleted, { fileId: input.fileId, ownerId: cur.f.owner_id, by: caller.userId }, input.fileId);
        return { deleted: true as const };
      });
    },
    async signedUrl({ input, caller, can, call, repo, deps: { signer } }) {
      const cur = await repo.load(input.fileId);
      if (!cur || !(await access(call, repo, cur.f, caller, can('courses:read-all'))).read) throw notFound();
      const version = input.version ?? cur.f.version;
      if (!cur.versions.some((v) => v.version === version)) throw notFound();
      const exp = Math.floor(Date.now() / 1000) + input.expiresInSeconds;
      const sig = await signer.sign(cur.f.id, version, exp);
      return { url: `/api/v1/files/${cur.f.id}/content?version=${version}&exp=${exp}&sig=${sig}`, expiresAt: new Date(exp * 1000).toISOString() };
    },
    async grantRead({ input, repo }) {
      const fileIds = [...new Set(input.fileIds)];
      for (const id of fileIds) if ((await repo.file(id))?.owner_id !== input.ownerId) throw notFound();
      const userIds = [...new Set(input.userIds)].filter((u) => u !== input.ownerId);
      await repo.grantRead(fileIds, input.courseId, userIds);
      return { granted: true as const };
    },
    async describe({ input, repo }) {
      const cur = await repo.load(input.fileId);
      if (!cur) throw notFound();
      const v = currentVersion(cur);
      return { ownerId: cur.f.owner_id, contentType: v.content_type, state: cur.f.state as 'processing' | 'ready' | 'rejected' };
    },
    async openForRead({ input, caller, can, call, repo, deps: { signer } }) {
      const cur = await repo.load(input.fileId);
      if (!cur) throw notFound();
      const version = input.version ?? cur.f.version;
      if (input.signature) {
        if (!(await signer.check(cur.f.id, version, input.signature.exp, input.signature.sig)))
          throw new DomainError('TOKEN_INVALID', 'The link has expired or is not valid');
      } else if (!caller || !(await access(call, repo, cur.f, caller, can('courses:read-all'))).read) {
        throw caller ? notFound() : new DomainError('UNAUTHENTICATED', 'Sign in, or use a signed URL');
      }
      const v = cur.versions.find((x) => x.version === version);
      if (!v) throw notFound();
      if (cur.f.state === 'rejected' && version === cur.f.version)
        throw new DomainError('NOT_FOUND', 'This file was refused by processing', { reason: cur.f.rejected_reason });
      if (input.variant) {
        const r = cur.variants.find((x) => x.version === version && x.name === input.variant);
        if (!r) throw new DomainError('NOT_FOUND', cur.f.state === 'processing' ? 'Not processed yet' : 'No such rendition');
        return {
          blobKey: r.blob_key,
          size: r.size,
          contentType: r.content_type,
          name: `${cur.f.name}.${r.name}`,
          sha256: `${v.sha256}-${r.name}`,
          inline: true,
        };
      }
      return { blobKey: v.blob_key, size: Number(v.size), contentType: v.content_type, name: cur.f.name, sha256: v.sha256, inline: inline(v.content_type) };
    },
    async privacyExport({ input, repo }) {
      const rows = await repo.ownedBy(input.userId);
      return {
        data: { files: rows.map((f) => ({ id: f.id, name: f.name, courseId: f.course_id, version: f.version, createdAt: f.created_at.toISOString() })) },
      };
    },
  },
});
