import { declareEnv, env } from '@lms/runtime';
import { z } from 'zod';

/**
 * Where the bytes live. The gateway moves the bytes and reads the same variables: it imports this declaration through
 * `@lms/files/edge` (this module loads no image or video code).
 */
export const storageEnv = {
  FILES_STORAGE: z.enum(['local', 's3']).default('local').meta({ description: 'Where file bytes live: `local` disk or `s3`' }),
  FILES_DIR: z.string().optional().meta({ description: 'Directory of local file storage', defaultText: '`<LMS_DATA_DIR>/files`' }),
  S3_BUCKET: z.string().optional().meta({ description: 'S3 bucket of file storage (required with `FILES_STORAGE=s3`; created on first use)' }),
  S3_REGION: z.string().default('us-east-1').meta({ description: 'S3 region' }),
  S3_ENDPOINT: z.string().optional().meta({ description: 'S3 endpoint (MinIO, s3rver…); path-style addressing when set' }),
  S3_ACCESS_KEY_ID: z.string().optional().meta({ description: "S3 access key id (else the SDK's default credentials)" }),
  S3_SECRET_ACCESS_KEY: z.string().optional().meta({ description: 'S3 secret access key', secret: true }),
};
export type StorageEnv = z.output<z.ZodObject<typeof storageEnv>>;

/** Largest upload of any kind: the gateway cuts the stream past it (files and gateway read it). */
export const FILES_MAX_BYTES = env
  .int()
  .default(2 * 1024 ** 3)
  .meta({ description: 'Largest upload in bytes (the stream is cut past it; 413)' });

/** The files service's environment, parsed once when the node starts. */
export const filesEnv = declareEnv('files', {
  ...storageEnv,
  FILES_MAX_BYTES,
  FILES_MAX_IMAGE_BYTES: env
    .int()
    .default(50 * 1024 ** 2)
    .meta({ description: 'Largest image in bytes' }),
  FILES_MAX_VIDEO_BYTES: env.int().optional().meta({ description: 'Largest video in bytes', defaultText: '`FILES_MAX_BYTES`' }),
  FILES_MAX_OTHER_BYTES: env.int().optional().meta({ description: 'Largest file of any other kind in bytes', defaultText: '`FILES_MAX_BYTES`' }),
  FILES_MAX_PIXELS: env
    .int()
    .default(40_000_000)
    .meta({ description: 'Most pixels an image may have (refused at upload from its header, enforced again while decoding)' }),
  FILES_QUOTA_BYTES: env
    .int()
    .default(1024 ** 3)
    .meta({ description: 'Storage quota per user in bytes (every version counts)' }),
  FILES_URL_SECRET: z
    .string()
    .optional()
    .meta({ description: 'Key of signed download URLs (HMAC-SHA256); unset: a key generated and kept in the database', secret: true }),
  FILES_PROCESS_POLL_MS: env.int().min(1).default(500).meta({ description: 'How often the file processor looks for due jobs' }),
  CLAMAV_HOST: z.string().optional().meta({ description: 'clamd host: every new version is scanned before anything else; unset: files say `not_scanned`' }),
  CLAMAV_PORT: env.int().default(3310).meta({ description: 'clamd port' }),
  FFMPEG_PATH: z.string().optional().meta({ description: 'ffmpeg binary', defaultText: 'from `@ffmpeg-installer/ffmpeg`' }),
  FFPROBE_PATH: z.string().optional().meta({ description: 'ffprobe binary', defaultText: 'from `@ffprobe-installer/ffprobe`' }),
});
export type FilesConfig = z.output<typeof filesEnv>;

/** Size limits per kind, within FILES_MAX_BYTES. */
export function limitFor(config: FilesConfig, contentType: string): number {
  if (contentType.startsWith('image/')) return config.FILES_MAX_IMAGE_BYTES;
  if (contentType.startsWith('video/')) return config.FILES_MAX_VIDEO_BYTES ?? config.FILES_MAX_BYTES;
  return config.FILES_MAX_OTHER_BYTES ?? config.FILES_MAX_BYTES;
}

/** CLAMAV_HOST[:CLAMAV_PORT]: scanning on. Unset: files say `not_scanned`. */
export function clamavOf(config: Pick<FilesConfig, 'CLAMAV_HOST' | 'CLAMAV_PORT'>): { host: string; port: number } | undefined {
  return config.CLAMAV_HOST ? { host: config.CLAMAV_HOST, port: config.CLAMAV_PORT } : undefined;
}
