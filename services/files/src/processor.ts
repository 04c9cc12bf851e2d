import fs from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileEvents } from '@lms/contracts';
import { addToOutbox, dueRows, PollingWorker, type Logger, type Runtime } from '@lms/runtime';
import { sql, type Kysely } from 'kysely';
import type { FilesDB } from './files.service.js';
import { IMAGE_TYPES, loadSharp, renditions, type Rendition } from './images.js';
import type { BlobStorage } from './storage.js';
import { poster, probe, VIDEO_TYPES, webMp4 } from './video.js';
import { clamavConfigured, scan } from './clamav.js';

/** The bytes cannot be processed (not decodable, over a limit): the version is refused, not retried. */
class Rejection extends Error {}

const MAX_ATTEMPTS = 3;
const LOCK_MS = 15 * 60_000;

/** Whether a new version needs the processor: media to render, or anything at all when ClamAV scans. */
export const processable = (contentType: string) => IMAGE_TYPES.has(contentType) || VIDEO_TYPES.has(contentType) || clamavConfigured() !== undefined;

/**
 * Runs processing jobs outside any transaction (renditions can take seconds to minutes): claims a due
 * job with SKIP LOCKED (many files nodes share the table), works, and finishes in one transaction that
 * records the renditions, the state and the event. A node that dies mid-job leaves the job claimed until
 * its lock expires; another node then runs it again (renditions land under the same keys).
 */
export class Processor extends PollingWorker<{ file_id: string; version: number; attempts: number }> {
  constructor(
    private readonly db: Kysely<FilesDB>,
    private readonly storage: BlobStorage,
    private readonly runtime: Runtime,
    log: Logger,
  ) {
    super(log, Number(process.env.FILES_PROCESS_POLL_MS ?? 500));
  }

  protected async claim() {
    return this.db.transaction().execute(async (trx) => {
      const due = await dueRows(trx.selectFrom('jobs').selectAll(), ['queued', 'running']).limit(1).executeTakeFirst();
      if (!due) return undefined;
      await trx
        .updateTable('jobs')
        .set({ status: 'running', attempts: due.attempts + 1, run_after: sql`now() + ${`${LOCK_MS} milliseconds`}::interval` })
        .where('file_id', '=', due.file_id)
        .where('version', '=', due.version)
        .execute();
      return { ...due, attempts: due.attempts + 1 };
    });
  }

  protected async run(job: { file_id: string; version: number; attempts: number }): Promise<void> {
    const f = await this.db.selectFrom('files').selectAll().where('id', '=', job.file_id).executeTakeFirst();
    const v = await this.db.selectFrom('file_versions').selectAll().where('file_id', '=', job.file_id).where('version', '=', job.version).executeTakeFirst();
    if (!f || !v) return void (await this.db.deleteFrom('jobs').where('file_id', '=', job.file_id).where('version', '=', job.version).execute());
    try {
      // Scanned first: an infected upload is never rendered.
      const clam = clamavConfigured();
      let scanned: 'clean' | undefined;
      if (clam) {
        const verdict = await scan(await this.storage.get(v.blob_key), clam);
        if (!verdict.clean) {
          await this.db.updateTable('files').set({ scan: 'infected' }).where('id', '=', f.id).execute();
          throw new Rejection(`malware found: ${verdict.signature}`);
        }
        scanned = 'clean';
      }
      const made = IMAGE_TYPES.has(v.content_type)
        ? await this.image(v.blob_key)
        : VIDEO_TYPES.has(v.content_type)
          ? await this.video(f.id, v.blob_key, v.sha256)
          : { renditions: [] as Rendition[], media: undefined };
      const keys: string[] = [];
      for (const r of made.renditions) {
        if (r.storedAs) {
          keys.push(r.storedAs.key);
          continue;
        }
        const key = `variants/${v.sha256}-${r.name}`;
        if ((await this.storage.size(key)) === undefined) await this.storage.put(key, Readable.from([r.data]));
        keys.push(key);
      }
      await this.db.transaction().execute(async (trx) => {
        for (const [i, r] of made.renditions.entries()) {
          await trx
            .insertInto('file_variants')
            .values({ file_id: f.id, version: v.version, name: r.name, blob_key: keys[i]!, content_type: r.contentType, width: r.width, height: r.height, size: r.storedAs?.size ?? r.data.length })
            .onConflict((oc) => oc.columns(['file_id', 'version', 'name']).doNothing())
            .execute();
        }
        await trx
          .updateTable('files')
          .set({ state: 'ready', progress: null, ...(scanned && { scan: scanned }), ...(made.media && { media: JSON.stringify(made.media) }), updated_at: sql`now()` })
          .where('id', '=', f.id)
          .where('version', '=', v.version)
          .execute();
        await trx.updateTable('jobs').set({ status: 'done', error: null }).where('file_id', '=', f.id).where('version', '=', v.version).execute();
        await addToOutbox(trx, fileEvents.processed, { fileId: f.id, version: v.version, ownerId: f.owner_id, variants: made.renditions.map((r) => r.name) }, { key: f.id });
      });
      this.log.info({ fileId: f.id, version: v.version, variants: made.renditions.length }, 'file processed');
    } catch (err) {
      const reason = String((err as Error).message ?? err).slice(0, 300);
      if (!(err instanceof Rejection) && job.attempts < MAX_ATTEMPTS) {
        await this.db.updateTable('jobs').set({ status: 'queued', error: reason, run_after: sql`now() + ${`${1000 * 2 ** job.attempts} milliseconds`}::interval` }).where('file_id', '=', f.id).where('version', '=', v.version).execute();
        this.log.warn({ fileId: f.id, attempts: job.attempts, err: reason }, 'file processing failed; will retry');
        return;
      }
      // Refused: the version's bytes go (unless another file holds the same bytes), the reason stays.
      const shared = await this.db.selectFrom('file_versions').select('file_id').where('blob_key', '=', v.blob_key).where('file_id', '!=', f.id).executeTakeFirst();
      if (!shared) await this.storage.delete(v.blob_key).catch(() => {});
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('files').set({ state: 'rejected', rejected_reason: reason, progress: null, updated_at: sql`now()` }).where('id', '=', f.id).where('version', '=', v.version).execute();
        await trx.updateTable('jobs').set({ status: 'failed', error: reason }).where('file_id', '=', f.id).where('version', '=', v.version).execute();
        await addToOutbox(trx, fileEvents.rejected, { fileId: f.id, version: v.version, ownerId: f.owner_id, reason }, { key: f.id });
      });
      this.log.info({ fileId: f.id, version: v.version, reason }, 'file rejected by processing');
    } finally {
      for (const r of this.runtime.relays) r.kick();
    }
  }

  private async image(blobKey: string): Promise<{ renditions: Rendition[]; media?: undefined }> {
    try {
      return { renditions: await renditions(await this.storage.get(blobKey)) };
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
        void this.db.updateTable('files').set({ progress: percent }).where('id', '=', fileId).execute();
      });
      const rendered = await probe(mp4);
      const key = `variants/${sha256}-web.mp4`;
      const size = (await fs.stat(mp4)).size;
      if ((await this.storage.size(key)) === undefined) await this.storage.put(key, createReadStream(mp4));
      return {
        media,
        renditions: [
          { name: 'poster.webp', contentType: 'image/webp', width: posterWebp.info.width, height: posterWebp.info.height, data: posterWebp.data },
          { name: 'web.mp4', contentType: 'video/mp4', width: rendered.width ?? 0, height: rendered.height ?? 0, data: Buffer.alloc(0), storedAs: { key, size } },
        ] as Rendition[],
      };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}
