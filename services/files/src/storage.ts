import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { StorageEnv } from './config.js';

export interface Range {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Where file bytes live. Keys are made by the files code only (`tmp/<uuid>`, `blobs/<sha256>`), never from
 * user input. Two implementations pass the same test suite: local disk and S3.
 */
export interface BlobStorage {
  readonly kind: 'local' | 's3';
  /** Streams a body in; never holds it whole in memory. */
  put(key: string, body: Readable): Promise<void>;
  get(key: string, range?: Range): Promise<Readable>;
  size(key: string): Promise<number | undefined>;
  /** Moves a finished upload to its final key (same key twice: the second is dropped). */
  move(from: string, to: string): Promise<void>;
  delete(key: string): Promise<void>;
}

const KEY = /^(tmp|blobs|variants)\/[A-Za-z0-9._-]+$/;
function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`bad storage key ${JSON.stringify(key)}`);
  return key;
}

export class LocalStorage implements BlobStorage {
  readonly kind = 'local' as const;
  constructor(private readonly root: string) {}

  private file(key: string): string {
    return path.join(this.root, checkKey(key));
  }

  async put(key: string, body: Readable): Promise<void> {
    const file = this.file(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      await pipeline(body, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: Range): Promise<Readable> {
    const file = this.file(key);
    await fs.access(file);
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async size(key: string): Promise<number | undefined> {
    // Only "no such file" means absent: a disk that fails (EIO, EACCES) must not read as "not there yet".
    return fs.stat(this.file(key)).then(
      (s) => s.size,
      (err: unknown) => {
        if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
        throw err;
      },
    );
  }

  async move(from: string, to: string): Promise<void> {
    const target = this.file(to);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if ((await this.size(to)) !== undefined) return fs.rm(this.file(from), { force: true });
    await fs.rename(this.file(from), target);
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }
}

export interface S3Options {
  bucket: string;
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
}

export class S3Storage implements BlobStorage {
  readonly kind = 's3' as const;
  constructor(private readonly o: S3Options) {}

  /**
   * The AWS SDK, loaded on first use: ~20 MB of RSS and half a second of start that a node storing files on local
   * disk (and every node that only imports this module) never needs.
   */
  private client: Promise<{ s3: S3Client; sdk: typeof import('@aws-sdk/client-s3') }> | undefined;
  private sdk() {
    return (this.client ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      s3: new sdk.S3Client({
        region: this.o.region,
        endpoint: this.o.endpoint,
        forcePathStyle: this.o.forcePathStyle ?? Boolean(this.o.endpoint),
        credentials: this.o.accessKeyId ? { accessKeyId: this.o.accessKeyId, secretAccessKey: this.o.secretAccessKey ?? '' } : undefined,
      }),
    })));
  }

  private bucket: Promise<void> | undefined;
  /** Creates the bucket on first use if it does not exist (MinIO in compose starts empty). */
  private ensureBucket(): Promise<void> {
    return (this.bucket ??= this.sdk()
      .then(({ s3, sdk }) =>
        s3.send(new sdk.HeadBucketCommand({ Bucket: this.o.bucket })).then(
          () => undefined,
          () => s3.send(new sdk.CreateBucketCommand({ Bucket: this.o.bucket })).then(() => undefined),
        ),
      )
      .catch((err) => {
        this.bucket = undefined;
        throw err;
      }));
  }

  async put(key: string, body: Readable): Promise<void> {
    await this.ensureBucket();
    const { s3 } = await this.sdk();
    const { Upload } = await import('@aws-sdk/lib-storage');
    // Multipart in 8 MiB parts, 4 at a time: memory stays at ~32 MiB whatever the size.
    const upload = new Upload({ client: s3, params: { Bucket: this.o.bucket, Key: checkKey(key), Body: body }, partSize: 8 * 1024 * 1024, queueSize: 4 });
    await upload.done();
  }

  async get(key: string, range?: Range): Promise<Readable> {
    const { s3, sdk } = await this.sdk();
    const r = await s3.send(
      new sdk.GetObjectCommand({ Bucket: this.o.bucket, Key: checkKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
    );
    return r.Body as Readable;
  }

  async size(key: string): Promise<number | undefined> {
    const { s3, sdk } = await this.sdk();
    try {
      return (await s3.send(new sdk.HeadObjectCommand({ Bucket: this.o.bucket, Key: checkKey(key) }))).ContentLength;
    } catch (err) {
      // Only S3's 404 means absent: an unreachable or failing S3 is an outage, not "not there yet".
      const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const { s3, sdk } = await this.sdk();
    if ((await this.size(to)) === undefined) {
      await s3.send(new sdk.CopyObjectCommand({ Bucket: this.o.bucket, Key: checkKey(to), CopySource: `${this.o.bucket}/${checkKey(from)}` }));
    }
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    const { s3, sdk } = await this.sdk();
    await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.o.bucket, Key: checkKey(key) }));
  }
}

/**
 * FILES_STORAGE=local (default; FILES_DIR, or <data dir>/files) or s3 (S3_BUCKET, S3_REGION, S3_ENDPOINT, S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY), from the node's parsed configuration.
 */
export function storageFromEnv(dataDir: string, env: StorageEnv): BlobStorage {
  if (env.FILES_STORAGE === 's3') {
    if (!env.S3_BUCKET) throw new Error('FILES_STORAGE=s3 needs S3_BUCKET');
    return new S3Storage({
      bucket: env.S3_BUCKET,
      region: env.S3_REGION,
      endpoint: env.S3_ENDPOINT,
      accessKeyId: env.S3_ACCESS_KEY_ID,
      secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    });
  }
  const root = env.FILES_DIR ?? (dataDir.startsWith('memory:') ? path.join(os.tmpdir(), `lms-files-${process.pid}`) : path.join(dataDir, 'files'));
  return new LocalStorage(path.resolve(root));
}
