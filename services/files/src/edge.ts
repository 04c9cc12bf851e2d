/**
 * What the gateway needs from files to move bytes at the edge: streaming an upload into storage and reading it
 * back. Import it as `@lms/files/edge`: it loads no image or video library (sharp, ffmpeg), which the
 * files service's processor alone uses.
 */
export { ingest, safeName } from './ingest.js';
export { LocalStorage, S3Storage, storageFromEnv, type BlobStorage } from './storage.js';
export { FILES_MAX_BYTES, storageEnv, type StorageEnv } from './config.js';
