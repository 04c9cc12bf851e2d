import fs from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileEvents } from '@lms/contracts';
import { mayRetry, PollingWorker, retryDelay, retryPolicies, type RetryPolicy, type ServiceContext } from '@lms/runtime';
import { clamavOf, type FilesConfig } from './config.js';
import type { FilesDB, FilesRepository, Job, NewVariant } from './files.repository.js';
import { IMAGE_TYPES, loadSharp, renditions, type Rendition } from './images.js';
import type { BlobStorage } from './storage.js';
import { configureFfmpeg, poster, probe, VIDEO_TYPES, webMp4 } from './video.js';
import { scan } from './clamav.js';

/** The bytes cannot be processed (not decodable, over a limit): the version is refused, not retried. */
class Rejection extends Error {}

/** The runtime's policy for background jobs; a file is tried three times in all (as documented), then refused. */
const FILE_JOBS: RetryPolicy = { ...retryPolicies.jobs, maxAttempts: 3 };
const LOCK_MS = 15 * 60_000;

/** Whether a new version needs the processor: media to render, or anything at all when ClamAV scans. */
export const processable = (config: FilesConfig, contentType: string) =>
  IMAGE_TYPES.has(contentType) || VIDEO_TYPES.has(contentType) || clamavOf(config) !== undefined;

/**
 * Runs processing jobs outside any transaction (renditions can take seconds to minutes): claims a due
 * job with SKIP LOCKED (many files nodes share the table), works, and finishes in one unit of work that
 * records the renditions, the state and the event. A node that dies mid-job leaves the job claimed until
 * its lock expires; another node then runs it again (renditions land under the same keys).
 */
export class Processor extends PollingWorker<Job> {
  private readonly repo: FilesRepository;
  private readonly config: FilesConfig;

  constructor(
    private readonly service: ServiceContext<FilesDB, FilesRepository, FilesConfig>,
    private readonly storage: BlobStorage,
  ) {
    super(service.runtime.logger('files.processor'), service.config.FILES_PROCESS_POLL_MS);
    this.repo = service.repo;
    this.config = service.config;
    configureFfmpeg(service.config);
  }

  protected async claim(): Promise<Job | undefined> {
    return this.service.uow(({ repo }) => repo.claimJob(LOCK_MS));
  }

  protected async run(job: Job): Promise<void> {
    const f = await this.repo.file(job.file_id);
    const v = await this.repo.version(job.file_id, job.version);
    if (!f || !v) return this.repo.deleteJob(job.file_id, job.version);
    try {
      // Scanned first: an infected upload is never rendered.
      const clam = clamavOf(this.config);
      let scanned: 'clean' | undefined;
      if (clam) {
        const verdict = await scan(await this.storage.get(v.blob_key), clam);
        if (!verdict.clean) {
          await this.repo.markInfected(f.id);
          throw new Rejection(`malware found: ${verdict.signature}`);
        }
        scanned = 'clean';
      }
      const made = IMAGE_TYPES.has(v.content_type)
        ? await this.image(v.blob_key)
        : VIDEO_TYPES.has(v.content_type)
          ? await this.video(f.id, v.blob_key, v.sha256)
          : { renditions: [] as Rendition[], media: undefined };
      const variants: NewVariant[] = [];
      for (const r of made.renditions) {
        if (r.storedAs) {
          variants.push({ name: r.name, blobKey: r.storedAs.key, contentType: r.contentType, width: r.width, height: r.height, size: r.storedAs.size });
          continue;
        }
        const key = `variants/${v.sha256}-${r.name}`;
        if ((await this.storage.size(key)) === undefined) await this.storage.put(key, Readable.from([r.data]));
        variants.push({ name: r.name, blobKey: key, contentType: r.contentType, width: r.width, height: r.height, size: r.data.length });
      }
      await this.service.uow(async ({ repo, emit }) => {
        await repo.markReady(f.id, v.version, variants, { scan: scanned, media: made.media });
        await repo.finishJob(f.id, v.version, 'done', null);
        await emit(fileEvents.processed, { fileId: f.id, version: v.version, ownerId: f.owner_id, variants: made.renditions.map((r) => r.name) }, f.id);
      });
      this.log.info({ fileId: f.id, version: v.version, variants: made.renditions.length }, 'file processed');
    } catch (err) {
      const reason = String((err as Error).message ?? err).slice(0, 300);
      if (!(err instanceof Rejection) && mayRetry(job.attempts, FILE_JOBS)) {
        await this.repo.retryJob(f.id, v.version, reason, retryDelay(job.attempts, FILE_JOBS));
        this.log.warn({ fileId: f.id, attempts: job.attempts, err: reason }, 'file processing failed; will retry');
        return;
      }
      // Refused: the version's bytes go (unless another file holds the same bytes), the reason stays.
      if (!(await this.repo.blobSharedWith(v.blob_key, f.id))) {
        // The refusal stands either way; bytes left behind are logged for the (future) sweep of unreferenced blobs.
        await this.storage
          .delete(v.blob_key)
          .catch((e: unknown) => this.log.warn({ fileId: f.id, err: String(e) }, 'could not delete the bytes of a refused file'));
      }
      await this.service.uow(async ({ repo, emit }) => {
        await repo.markRejected(f.id, v.version, reason);
        await repo.finishJob(f.id, v.version, 'failed', reason);
        await emit(fileEvents.rejected, { fileId: f.id, version: v.version, ownerId: f.owner_id, reason }, f.id);
      });
      this.log.info({ fileId: f.id, version: v.version, reason }, 'file rejected by processing');
    }
  }

  private async image(blobKey: string): Promise<{ renditions: Rendition[]; media?: undefined }> {
    try {
      return { renditions: await renditions(await this.storage.get(blobKey), this.config.FILES_MAX_PIXELS) };
    } catch (err) {
      throw new Rejection(`not an image we can read: ${String((err as Error).message ?? err)}`);
    }
  }

  /** Probe, poster frame (WebP), and an H.264/AAC MP4 for browsers, with progress on the file's row. */
  private async video(fileId: string, blobKey: string, sha256: string) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lms-video-'));
    try {
      const src = path.join(dir, 'source');
      await pipeline(await this.storage.get(blobKey), createWriteStream(src));
      const media = await probe(src).catch((err) => {
        throw new Rejection(String((err as Error).message));
      });
      const jpg = path.join(dir, 'poster.jpg');
      await poster(src, jpg, Math.min(1, media.durationSeconds / 2));
      const sharp = await loadSharp();
      const posterWebp = await sharp(jpg).webp({ quality: 80 }).toBuffer({ resolveWithObject: true });
      const mp4 = path.join(dir, 'web.mp4');
      let last = -1;
      await webMp4(src, mp4, media.durationSeconds, (percent) => {
        if (percent - last < 5) return;
        last = percent;
        // Progress is advisory: a failed update is logged, never fails the transcode.
        void this.repo.setProgress(fileId, percent).catch((err: unknown) => this.log.warn({ fileId, err: String(err) }, 'could not record progress'));
      });
      const rendered = await probe(mp4);
      const key = `variants/${sha256}-web.mp4`;
      const size = (await fs.stat(mp4)).size;
      if ((await this.storage.size(key)) === undefined) await this.storage.put(key, createReadStream(mp4));
      return {
        media,
        renditions: [
          { name: 'poster.webp', contentType: 'image/webp', width: posterWebp.info.width, height: posterWebp.info.height, data: posterWebp.data },
          {
            name: 'web.mp4',
            contentType: 'video/mp4',
            width: rendered.width ?? 0,
            height: rendered.height ?? 0,
            data: Buffer.alloc(0),
            storedAs: { key, size },
          },
        ] as Rendition[],
      };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}
