export { filesService } from './files.service.js';
export { ingest, safeName } from './ingest.js';
export { LocalStorage, S3Storage, storageFromEnv, type BlobStorage } from './storage.js';
