import { z } from 'zod';
import { domain, event, isoDate, mutation, query } from './core.js';

export const fileVersion = z.object({
  version: z.number().int(),
  size: z.number().int(),
  sha256: z.string(),
  contentType: z.string().meta({ description: 'Detected from the bytes, not taken from the client' }),
  declaredType: z.string().nullable().meta({ description: 'What the client said it was' }),
  createdAt: isoDate,
});

export const fileMeta = z
  .object({
    id: z.uuid(),
    ownerId: z.uuid(),
    courseId: z.uuid().nullable(),
    lessonId: z.uuid().nullable(),
    name: z.string().meta({ description: 'The original name, sanitised' }),
    contentType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    version: z.number().int(),
    state: z.enum(['processing', 'ready', 'rejected']),
    scan: z.enum(['not_scanned', 'clean', 'infected']),
    versions: z.array(fileVersion),
    /** Renditions of the current version (images: thumb, medium, large in WebP and AVIF), once processed. */
    variants: z.array(z.object({ name: z.string(), contentType: z.string(), width: z.number().int(), height: z.number().int(), size: z.number().int() })),
    rejectedReason: z.string().nullable(),
    /** Transcoding progress while `processing`, in percent. */
    progress: z.number().int().nullable(),
    /** What ffprobe found in a video. */
    media: z
      .object({
        durationSeconds: z.number(),
        width: z.number().int().nullable(),
        height: z.number().int().nullable(),
        videoCodec: z.string().nullable(),
        audioCodec: z.string().nullable(),
      })
      .nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'File' });
export type FileMeta = z.infer<typeof fileMeta>;

const fileId = z.uuid();

export const files = domain('files', {
  /** A file's metadata and versions: its owner, the staff and members of its course, admins. */
  get: query({
    input: z.object({ fileId }),
    output: fileMeta,
    permission: 'authenticated',
    rest: { method: 'GET', path: '/files/{fileId}' },
    summary: 'Get a file',
    errors: ['NOT_FOUND'],
  }),
  /** Delete a file and its versions (its owner, course staff who may edit, admins). */
  delete: mutation({
    input: z.object({ fileId }),
    output: z.object({ deleted: z.literal(true) }),
    permission: 'authenticated',
    rest: { method: 'DELETE', path: '/files/{fileId}' },
    summary: 'Delete a file',
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  /** A time-limited URL to the content that needs no bearer header (for `<video src>`, `<img src>`). */
  signedUrl: mutation({
    input: z.object({ fileId, expiresInSeconds: z.number().int().min(10).max(86_400).default(300), version: z.number().int().min(1).optional() }),
    output: z.object({ url: z.string(), expiresAt: isoDate }),
    permission: 'authenticated',
    rest: { method: 'POST', path: '/files/{fileId}/signed-url' },
    summary: 'Get a signed download URL',
    errors: ['NOT_FOUND'],
  }),
});

/** Service-to-service: the gateway streams bytes to storage, the files service owns what they mean. */
export const filesInternal = domain('files', {
  /** Records an upload the gateway has streamed into temporary storage (new file, or a new version). */
  register: mutation({
    input: z.object({
      fileId: z.uuid().optional(),
      courseId: z.uuid().optional(),
      lessonId: z.uuid().optional(),
      name: z.string().max(1000),
      declaredType: z.string().max(200).optional(),
      blob: z.object({
        tmpKey: z.string().regex(/^tmp\/[0-9a-f-]{36}$/),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        size: z.number().int().min(1),
        head: z.string().max(8000),
      }),
    }),
    output: fileMeta,
    permission: 'authenticated',
    summary: 'Register an upload',
    errors: ['NOT_FOUND', 'FORBIDDEN', 'QUOTA_EXCEEDED', 'PAYLOAD_TOO_LARGE'],
  }),
  /** Who owns a file and what it is (e.g. for the users service to accept it as an avatar). */
  describe: query({
    input: z.object({ fileId }),
    output: z.object({ ownerId: z.uuid(), contentType: z.string(), state: z.enum(['processing', 'ready', 'rejected']) }),
    permission: 'internal',
    summary: 'Describe a file',
    errors: ['NOT_FOUND'],
  }),
  /**
   * Lets others read files a user handed in somewhere (an assignment submission): the staff of `courseId` who may
   * grade (`course:grade`), and the named users (the other members of a group). Every file must be `ownerId`'s own
   * (NOT_FOUND otherwise, nothing granted). Only the assignments and attempts (a quiz's file question) services' NATS roles
   * may call it; never at the edge.
   */
  grantRead: mutation({
    input: z.object({
      fileIds: z.array(fileId).min(1).max(20),
      ownerId: z.uuid(),
      courseId: z.uuid().optional(),
      userIds: z.array(z.uuid()).max(500).default([]),
    }),
    output: z.object({ granted: z.literal(true) }),
    permission: 'internal',
    summary: 'Grant read of files',
    errors: ['NOT_FOUND'],
  }),
  /** Where a readable version's bytes are, for the gateway to stream them out; checks access or a signature. */
  openForRead: query({
    input: z.object({
      fileId,
      version: z.number().int().min(1).optional(),
      variant: z
        .string()
        .regex(/^[a-z0-9]+\.(webp|avif|mp4)$/)
        .optional(),
      signature: z.object({ exp: z.number().int(), sig: z.string().max(200) }).optional(),
    }),
    output: z.object({ blobKey: z.string(), size: z.number().int(), contentType: z.string(), name: z.string(), sha256: z.string(), inline: z.boolean() }),
    permission: 'public',
    summary: 'Open a file for reading',
    errors: ['NOT_FOUND', 'TOKEN_INVALID'],
  }),
});

/** The streaming operations: served by the gateway (not JSON procedures), documented in OpenAPI from here. */
/** Types a browser may show inline (served as themselves); anything else is served as application/octet-stream. */
export const inlineContentTypes = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'audio/mpeg',
  'audio/ogg',
  'audio/wav',
  'application/pdf',
  'text/plain',
] as const;
/** What a rendition (`/files/{fileId}/variants/{name}`) is served as. */
export const variantContentTypes = ['image/webp', 'image/avif', 'video/mp4'] as const;

export const fileStreams = [
  { method: 'POST', path: '/files', kind: 'upload', summary: 'Upload a file (raw body with X-Filename, or multipart/form-data)', status: 201 },
  { method: 'POST', path: '/files/{fileId}/versions', kind: 'upload', summary: 'Upload a new version of a file', status: 201 },
  { method: 'GET', path: '/files/{fileId}/content', kind: 'download', summary: 'Download a file (Range, ETag; or a signed URL)', status: 200 },
  { method: 'GET', path: '/files/{fileId}/variants/{name}', kind: 'download', summary: 'Download a rendition (e.g. thumb.webp, medium.avif)', status: 200 },
] as const;

const ref = { fileId: z.uuid(), version: z.number().int(), ownerId: z.uuid() };
export const fileEvents = {
  uploaded: event({
    subject: 'lms.file.uploaded.v1',
    stream: 'LMS_FILE',
    version: 1,
    summary: 'A file (or a new version) was stored',
    payload: z.object({ ...ref, courseId: z.uuid().nullable(), contentType: z.string(), size: z.number().int(), sha256: z.string() }),
  }),
  processed: event({
    subject: 'lms.file.processed.v1',
    stream: 'LMS_FILE',
    version: 1,
    summary: 'A file version was processed (renditions made)',
    payload: z.object({ ...ref, variants: z.array(z.string()) }),
  }),
  rejected: event({
    subject: 'lms.file.rejected.v1',
    stream: 'LMS_FILE',
    version: 1,
    summary: 'A file version was refused by processing (its bytes are removed)',
    payload: z.object({ ...ref, reason: z.string() }),
  }),
  deleted: event({
    subject: 'lms.file.deleted.v1',
    stream: 'LMS_FILE',
    version: 1,
    summary: 'A file was deleted',
    payload: z.object({ fileId: z.uuid(), ownerId: z.uuid(), by: z.uuid() }),
  }),
};
