/**
 * Files through the gateway, on local disk and on a real S3-protocol server (s3rver), with one suite:
 * streaming uploads (raw and multipart), sha256, content types from the bytes, ranges, ETags, signed
 * URLs, versions, access control, and hostile inputs that must leave nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import S3rver from 's3rver';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http as req, tempDir, waitFor } from './support.ts';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const SECRET = 'files-test-url-secret';

for (const backend of ['local', 's3'] as const) {
  describe(`files on ${backend} storage`, () => {
    let node: LmsNode;
    let base: string;
    let dir: ReturnType<typeof tempDir>;
    let s3: S3rver | undefined;
    let s3Url = '';
    // Filled in beforeAll.
    const tokens = { admin: '', teacher: '', learner: '', outsider: '' };
    const ids = { ...tokens };

    /** What is left in temporary storage (must be nothing after any failed upload). */
    async function leftovers(): Promise<string[]> {
      if (backend === 'local') {
        const tmp = path.join(dir.dir, 'files', 'tmp');
        return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
      }
      const client = new S3Client({
        region: 'us-east-1',
        endpoint: s3Url,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      const r = await client.send(new ListObjectsV2Command({ Bucket: 'lms', Prefix: 'tmp/' }));
      return (r.Contents ?? []).map((o) => defined(o.Key));
    }

    /** A raw upload: the bytes as they are, octet-stream unless the test says otherwise. */
    const upload = (token: string, body: Buffer | string, headers: Record<string, string> = {}, url = '/api/v1/files') =>
      req(base, 'POST', url, body, token, { 'content-type': 'application/octet-stream', ...headers });

    async function start() {
      node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: path.join(dir.dir, 'data'), port: 0, databaseUrl: undefined });
      base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
    }
    /**
     * A node reads its configuration once, when it starts: a test that needs other settings restarts it with them
     * (`undefined` unsets a variable). The data directory, and so every account and token, stays.
     */
    async function restartWith(settings: Record<string, string | undefined>) {
      await node.stop();
      for (const [k, v] of Object.entries(settings)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await start();
    }

    beforeAll(async () => {
      dir = tempDir();
      const env: Record<string, string> = {
        FILES_DIR: path.join(dir.dir, 'files'),
        FILES_URL_SECRET: SECRET,
        FILES_MAX_BYTES: String(8 * 1024 * 1024),
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      };
      if (backend === 's3') {
        s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(dir.dir, 's3'), configureBuckets: [{ name: 'lms', configs: [] }] });
        const addr = (await s3.run()) as { port: number };
        s3Url = `http://127.0.0.1:${addr.port}`;
        Object.assign(env, { FILES_STORAGE: 's3', S3_BUCKET: 'lms', S3_ENDPOINT: s3Url, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
      }
      Object.assign(process.env, env);
      await start();
      for (const who of ['admin', 'teacher', 'learner', 'outsider'] as const) {
        const r = (
          await req(base, 'POST', '/api/v1/auth/register', { email: `${who}@files-${backend}.test`, password: 'files suite password', displayName: who })
        ).body;
        tokens[who] = r.accessToken;
        ids[who] = r.user.id;
      }
    }, 60_000);
    afterAll(async () => {
      await node?.stop();
      await new Promise<void>((r) => (s3 ? s3.close(() => r()) : r()));
      for (const k of [
        'FILES_DIR',
        'FILES_URL_SECRET',
        'FILES_MAX_BYTES',
        'FILES_STORAGE',
        'S3_BUCKET',
        'S3_ENDPOINT',
        'S3_ACCESS_KEY_ID',
        'S3_SECRET_ACCESS_KEY',
        'RATE_LIMIT_AUTH_PER_MINUTE',
      ])
        delete process.env[k];
      dir?.remove();
    });

    it('stores a raw upload under its sha256, with a safe name, and serves it back with ranges and ETags', async () => {
      const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));
      const r = await upload(tokens.learner, body, { 'x-filename': encodeURIComponent('../../etc/pass\u0007wd.txt'), 'content-type': 'text/plain' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body, JSON.stringify(r.body)).toMatchObject({
        name: 'passwd.txt',
        size: body.length,
        contentType: 'text/plain',
        version: 1,
        ownerId: ids.learner,
      });
      expect(r.body.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      // Absolute and Windows paths keep their last segment only.
      for (const [raw, safe] of [
        ['/etc/shadow', 'shadow'],
        ['C:\\Windows\\evil.exe', 'evil.exe'],
        ['...hidden', 'hidden'],
      ]) {
        expect((await upload(tokens.learner, 'x', { 'x-filename': encodeURIComponent(defined(raw)) })).body.name).toBe(safe);
      }
      const id = r.body.id;
      const full = await fetch(`${base}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect(full.status).toBe(200);
      expect(Buffer.from(await full.arrayBuffer()).equals(body)).toBe(true);
      expect(full.headers.get('etag')).toBe(`"${r.body.sha256}"`);
      expect(full.headers.get('content-disposition')).toBe(`inline; filename="passwd.txt"; filename*=UTF-8''passwd.txt`);
      const again = await fetch(`${base}/api/v1/files/${id}/content`, {
        headers: { authorization: `Bearer ${tokens.learner}`, 'if-none-match': `"${r.body.sha256}"` },
      });
      expect(again.status).toBe(304);
      const part = await fetch(`${base}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${tokens.learner}`, range: 'bytes=10-19' } });
      expect([part.status, part.headers.get('content-range'), await part.text()]).toEqual([206, `bytes 10-19/${body.length}`, 'abcdefghij']);
      const tail = await fetch(`${base}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${tokens.learner}`, range: 'bytes=-4' } });
      expect(await tail.text()).toBe('wxyz');
      const bad = await fetch(`${base}/api/v1/files/${id}/content`, {
        headers: { authorization: `Bearer ${tokens.learner}`, range: `bytes=${body.length + 5}-` },
      });
      expect([bad.status, bad.headers.get('content-range')]).toEqual([416, `bytes */${body.length}`]);
    });

    it('takes multipart uploads, and trusts the bytes over the declared type', async () => {
      const form = new FormData();
      form.append('file', new Blob([PNG], { type: 'text/plain' }), 'pixel.txt');
      const r = await fetch(`${base}/api/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${tokens.learner}` } });
      const meta = (await r.json()) as { contentType: string; versions: Array<{ declaredType: string }> };
      expect([r.status, meta.contentType, defined(meta.versions[0]).declaredType]).toEqual([201, 'image/png', 'text/plain']);
      // Text that claims to be a PNG is not served as an image: it downloads as bytes.
      const liar = await upload(tokens.learner, '<html><script>alert(1)</script></html>', { 'x-filename': 'x.png', 'content-type': 'image/png' });
      expect(liar.body.contentType).toBe('application/octet-stream');
      const d = await fetch(`${base}/api/v1/files/${liar.body.id}/content`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect([d.headers.get('content-type'), d.headers.get('content-disposition')?.startsWith('attachment'), d.headers.get('x-content-type-options')]).toEqual([
        'application/octet-stream',
        true,
        'nosniff',
      ]);
      // A GIF with a script after it (polyglot) is a GIF, served sandboxed.
      const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
      const poly = await upload(tokens.learner, Buffer.concat([gif, Buffer.from('<script>alert(1)</script>')]), { 'x-filename': 'poly.gif' });
      const p = await fetch(`${base}/api/v1/files/${poly.body.id}/content`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect([p.headers.get('content-type'), p.headers.get('content-security-policy')]).toEqual(['image/gif', "default-src 'none'; sandbox"]);
    });

    it('strips bidi controls and other format and control characters from names, however uploaded, and at download', async () => {
      // Bidi embeddings, overrides and isolates; zero-width and joiners; marks; BOM; soft hyphen; word joiner;
      // invisible operators; a tag character; C0 and C1 controls; line and paragraph separators.
      const invisible =
        '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\u061c\ufeff\u00ad\u2060\u2062\u{e0041}\u0001\u001b\u007f\u0085\u009b\u2028\u2029';
      const trick = 'résumé\u202egpj.exe'; // shows as "résuméexe.jpg"
      const raw = await upload(tokens.learner, 'not a picture', { 'x-filename': encodeURIComponent(trick) });
      expect([raw.status, raw.body.name]).toEqual([201, 'résumégpj.exe']);
      const all = await upload(tokens.learner, 'x', { 'x-filename': encodeURIComponent(`a${invisible}b${invisible}.txt`) });
      expect(all.body.name).toBe('ab.txt');

      const form = new FormData();
      form.append('file', new Blob(['multipart bytes'], { type: 'text/plain' }), `inv\u202eoice\u2066.pdf`);
      const multi = await fetch(`${base}/api/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${tokens.learner}` } });
      expect(((await multi.json()) as { name: string }).name).toBe('invoice.pdf');

      const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${tokens.learner}` };
      const body = Buffer.from('resumable bytes');
      const created = await fetch(`${base}/api/v1/files/uploads`, {
        method: 'POST',
        headers: { ...tus, 'upload-length': String(body.length), 'upload-metadata': `filename ${Buffer.from(trick).toString('base64')}` },
      });
      const location = new URL(defined(created.headers.get('location')), base).pathname;
      const done = await fetch(`${base}${location}`, {
        method: 'PATCH',
        headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: new Uint8Array(body),
      });
      expect(done.status).toBe(204);
      expect((await req(base, 'GET', `/api/v1/files/${done.headers.get('x-file-id')}`, undefined, tokens.learner)).body.name).toBe('résumégpj.exe');

      // A name stored before this cleaning loses its bidi controls in the download's Content-Disposition too.
      await node.runtime.db.root.updateTable('files.files').set({ name: trick }).where('id', '=', raw.body.id).execute();
      const d = await fetch(`${base}/api/v1/files/${raw.body.id}/content`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect(d.headers.get('content-disposition')?.split('; ').slice(1)).toEqual([
        'filename="r_sum_gpj.exe"',
        `filename*=UTF-8''${encodeURIComponent('résumégpj.exe')}`,
      ]);
    });

    it('refuses empty and oversize uploads and interrupted ones, leaving nothing behind', async () => {
      const before = (await req(base, 'GET', '/api/v1/me/export', undefined, tokens.outsider)).status; // nothing to do with files; keeps the token warm
      expect(before).toBeGreaterThan(0);
      const empty = await upload(tokens.outsider, '', { 'x-filename': 'empty.txt' });
      expect([empty.status, empty.body.error.code]).toEqual([422, 'VALIDATION_FAILED']);
      // 12 MiB against an 8 MiB limit, sent without a length: cut mid-stream.
      const big = await new Promise<number>((resolve) => {
        const r = http.request(
          `${base}/api/v1/files`,
          { method: 'POST', headers: { authorization: `Bearer ${tokens.outsider}`, 'transfer-encoding': 'chunked', 'x-filename': 'big.bin' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        r.on('error', () => resolve(-1));
        let sent = 0;
        const chunk = Buffer.alloc(256 * 1024, 7);
        const pump = () => {
          while (sent < 12 * 1024 * 1024) {
            sent += chunk.length;
            if (!r.write(chunk)) return void r.once('drain', pump);
          }
          r.end();
        };
        pump();
      });
      expect([413, -1]).toContain(big);
      // A client that goes away mid-upload.
      await new Promise<void>((resolve) => {
        const r = http.request(`${base}/api/v1/files`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens.outsider}`, 'content-length': String(4 * 1024 * 1024), 'x-filename': 'gone.bin' },
        });
        r.on('error', () => resolve());
        r.write(Buffer.alloc(1024 * 1024, 1), () => setTimeout(() => (r.destroy(), resolve()), 100));
      });
      await waitFor(async () => (await leftovers()).length === 0, 5_000);
      const mine = await req(base, 'POST', '/api/v1/me/export', {}, tokens.outsider);
      expect(mine.status).toBe(202);
      const done = await waitFor(async () => {
        const x = await req(base, 'GET', `/api/v1/privacy/requests/${mine.body.id}/download`, undefined, tokens.outsider);
        return x.status === 200 && x.body;
      }, 15_000);
      expect(done.data.services.files.files).toEqual([]); // no row for any refused upload
    });

    it('keeps versions, signs time-limited URLs, and shows course files to the course only', async () => {
      const v1 = await upload(tokens.learner, 'first version', { 'x-filename': 'notes.txt', 'content-type': 'text/plain' });
      const v2 = await upload(
        tokens.learner,
        'second version',
        { 'x-filename': 'notes.txt', 'content-type': 'text/plain' },
        `/api/v1/files/${v1.body.id}/versions`,
      );
      expect([v2.status, v2.body.version, v2.body.versions.length]).toEqual([201, 2, 2]);
      const old = await fetch(`${base}/api/v1/files/${v1.body.id}/content?version=1`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect(await old.text()).toBe('first version');

      const signed = await req(base, 'POST', `/api/v1/files/${v1.body.id}/signed-url`, { expiresInSeconds: 60 }, tokens.learner);
      const ok = await fetch(`${base}${signed.body.url}`);
      expect([ok.status, await ok.text()]).toEqual([200, 'second version']);
      // A different first character (the signature itself starts with 'A' once in 64 runs).
      const tampered = await fetch(`${base}${signed.body.url.replace(/sig=(.)/, (_: string, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`)}`);
      expect(tampered.status).toBe(401);
      const exp = Math.floor(Date.now() / 1000) - 1;
      const sig = createHmac('sha256', SECRET).update(`${v1.body.id}.2.${exp}`).digest('base64url');
      const expired = await fetch(`${base}/api/v1/files/${v1.body.id}/content?version=2&exp=${exp}&sig=${sig}`);
      expect([expired.status, ((await expired.json()) as { error: { code: string } }).error.code]).toEqual([401, 'TOKEN_INVALID']);

      // Others: not found, metadata or bytes.
      expect((await req(base, 'GET', `/api/v1/files/${v1.body.id}`, undefined, tokens.outsider)).status).toBe(404);
      expect((await fetch(`${base}/api/v1/files/${v1.body.id}/content`, { headers: { authorization: `Bearer ${tokens.outsider}` } })).status).toBe(404);
      expect((await fetch(`${base}/api/v1/files/${v1.body.id}/content`)).status).toBe(401);

      // A course file: staff attach it; enrolled learners read it; outsiders do not.
      await req(base, 'POST', `/api/v1/users/${ids.teacher}/roles`, { role: 'instructor' }, tokens.admin);
      const teacher = (await req(base, 'POST', '/api/v1/auth/login', { email: `teacher@files-${backend}.test`, password: 'files suite password' })).body
        .accessToken;
      const course = (await req(base, 'POST', '/api/v1/courses', { title: 'Files course', category: 'files' }, teacher)).body;
      // A draft the learner cannot see does not exist for them: 404, as for an unknown course.
      expect((await upload(tokens.learner, 'not mine to add', { 'x-filename': 'x.txt' }, `/api/v1/files?courseId=${course.id}`)).status).toBe(404);
      const handout = await upload(
        teacher,
        'course handout',
        { 'x-filename': 'handout.txt', 'content-type': 'text/plain' },
        `/api/v1/files?courseId=${course.id}`,
      );
      expect(handout.body.courseId).toBe(course.id);
      await req(base, 'POST', `/api/v1/courses/${course.id}/publish`, undefined, teacher);
      expect((await req(base, 'GET', `/api/v1/files/${handout.body.id}`, undefined, tokens.learner)).status).toBe(404);
      await req(base, 'POST', `/api/v1/courses/${course.id}/enrollments`, {}, tokens.learner);
      await waitFor(async () => (await req(base, 'GET', `/api/v1/files/${handout.body.id}`, undefined, tokens.learner)).status === 200, 10_000);
      expect((await req(base, 'DELETE', `/api/v1/files/${handout.body.id}`, undefined, tokens.learner)).status).toBe(403);
      expect((await req(base, 'DELETE', `/api/v1/files/${handout.body.id}`, undefined, teacher)).status).toBe(200);
      expect((await req(base, 'GET', `/api/v1/files/${handout.body.id}`, undefined, teacher)).status).toBe(404);
    });

    it('makes WebP/AVIF renditions of images with orientation applied and metadata stripped, and refuses decompression bombs', async () => {
      // 2000×1200 stored sideways (EXIF orientation 6): shown upright it is 1200 wide, 2000 high.
      const photo = await sharp({ create: { width: 2000, height: 1200, channels: 3, background: '#3366aa' } })
        .jpeg()
        .withMetadata({ orientation: 6, exif: { IFD0: { Copyright: 'secret location data' } } })
        .toBuffer();
      const up = await upload(tokens.learner, photo, { 'x-filename': 'photo.jpg', 'content-type': 'image/jpeg' });
      expect([up.status, up.body.state, up.body.contentType]).toEqual([201, 'processing', 'image/jpeg']);
      const ready = await waitFor(async () => {
        const m = (await req(base, 'GET', `/api/v1/files/${up.body.id}`, undefined, tokens.learner)).body;
        return m.state === 'ready' && m;
      }, 20_000);
      expect(ready.variants.map((v: { name: string }) => v.name).sort()).toEqual(['large.webp', 'medium.avif', 'medium.webp', 'thumb.avif', 'thumb.webp']);
      const thumb = await fetch(`${base}/api/v1/files/${up.body.id}/variants/thumb.webp`, { headers: { authorization: `Bearer ${tokens.learner}` } });
      expect(thumb.headers.get('content-type')).toBe('image/webp');
      const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
      expect([meta.width, meta.height, meta.exif, meta.orientation]).toEqual([160, 267, undefined, undefined]);
      expect((await fetch(`${base}/api/v1/files/${up.body.id}/variants/thumb.webp`, { headers: { authorization: `Bearer ${tokens.outsider}` } })).status).toBe(
        404,
      );
      // Only an image of one's own can be an avatar.
      expect((await req(base, 'PATCH', '/api/v1/me', { avatarFileId: up.body.id }, tokens.learner)).body.avatarFileId).toBe(up.body.id);
      const notMine = await req(base, 'PATCH', '/api/v1/me', { avatarFileId: up.body.id }, tokens.outsider);
      expect([notMine.status, notMine.body.error.details.issues[0].path]).toEqual([422, 'avatarFileId']);
      const text = await upload(tokens.learner, 'plain words', { 'x-filename': 'a.txt', 'content-type': 'text/plain' });
      expect((await req(base, 'PATCH', '/api/v1/me', { avatarFileId: text.body.id }, tokens.learner)).status).toBe(422);

      // A 1 KB PNG that claims 100,000 × 100,000 pixels: refused from its header, nothing kept.
      const bomb = Buffer.concat([PNG.subarray(0, 16), Buffer.from([0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]), PNG.subarray(24)]);
      const refused = await upload(tokens.outsider, bomb, { 'x-filename': 'bomb.png' });
      expect([refused.status, refused.body.error.code]).toEqual([422, 'IMAGE_TOO_LARGE']);
      // Bytes that start like a JPEG but are not one: accepted, then refused by processing, bytes removed.
      const broken = await upload(tokens.outsider, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 1)]), {
        'x-filename': 'broken.jpg',
      });
      expect(broken.status).toBe(201);
      const rejected = await waitFor(async () => {
        const m = (await req(base, 'GET', `/api/v1/files/${broken.body.id}`, undefined, tokens.outsider)).body;
        return m.state === 'rejected' && m;
      }, 20_000);
      expect(rejected.rejectedReason).toBeTruthy();
      expect((await fetch(`${base}/api/v1/files/${broken.body.id}/content`, { headers: { authorization: `Bearer ${tokens.outsider}` } })).status).toBe(404);
      await waitFor(async () => (await leftovers()).length === 0, 5_000);
    });

    it('probes a video, makes a poster and an H.264/AAC MP4 for browsers, and serves ranges of it', async () => {
      // A 2-second MPEG-4 Part 2 clip in Matroska: not something every browser plays.
      const clip = path.join(dir.dir, 'clip.mkv');
      const ffmpegPath = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
      execFileSync(ffmpegPath, [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc=duration=2:size=320x240:rate=25',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:duration=2',
        '-c:v',
        'mpeg4',
        '-c:a',
        'mp2',
        '-shortest',
        '-y',
        clip,
      ]);
      const up = await upload(tokens.learner, fs.readFileSync(clip), { 'x-filename': 'clip.mkv' });
      expect([up.status, up.body.contentType, up.body.state]).toEqual([201, 'video/matroska', 'processing']);
      const ready = await waitFor(
        async () => {
          const m = (await req(base, 'GET', `/api/v1/files/${up.body.id}`, undefined, tokens.learner)).body;
          if (m.state === 'rejected') throw new Error(m.rejectedReason);
          return m.state === 'ready' && m;
        },
        60_000,
        200,
      );
      expect(ready.media).toMatchObject({ width: 320, height: 240, videoCodec: 'mpeg4', audioCodec: 'mp2' });
      expect(ready.media.durationSeconds).toBeCloseTo(2, 0);
      expect(ready.variants.map((v: { name: string; contentType: string }) => `${v.name} ${v.contentType}`).sort()).toEqual([
        'poster.webp image/webp',
        'web.mp4 video/mp4',
      ]);
      const mp4 = await fetch(`${base}/api/v1/files/${up.body.id}/variants/web.mp4`, {
        headers: { authorization: `Bearer ${tokens.learner}`, range: 'bytes=0-11' },
      });
      const head = Buffer.from(await mp4.arrayBuffer());
      expect([mp4.status, mp4.headers.get('content-type'), head.subarray(4, 8).toString()]).toEqual([206, 'video/mp4', 'ftyp']);
    }, 90_000);

    it('scans with ClamAV when configured (a clamd protocol peer here), and limits sizes per kind', async () => {
      // ClamAV itself cannot run here (no signature download): a server speaking clamd's INSTREAM protocol stands in.
      const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
      const clamd = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          if (buf.subarray(buf.length - 4).equals(Buffer.alloc(4))) {
            const body = buf.subarray('zINSTREAM\0'.length).toString('latin1');
            sock.end(body.includes('EICAR-STANDARD-ANTIVIRUS-TEST-FILE') ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0');
          }
        });
      });
      await new Promise<void>((r) => clamd.listen(0, '127.0.0.1', r));
      await restartWith({ CLAMAV_HOST: '127.0.0.1', CLAMAV_PORT: String((clamd.address() as net.AddressInfo).port), FILES_MAX_IMAGE_BYTES: '100' });
      try {
        const bad = await upload(tokens.learner, EICAR, { 'x-filename': 'eicar.txt', 'content-type': 'text/plain' });
        const good = await upload(tokens.learner, 'harmless words', { 'x-filename': 'ok.txt', 'content-type': 'text/plain' });
        expect([bad.body.state, good.body.state]).toEqual(['processing', 'processing']);
        const infected = await waitFor(async () => {
          const m = (await req(base, 'GET', `/api/v1/files/${bad.body.id}`, undefined, tokens.learner)).body;
          return m.state === 'rejected' && m;
        }, 15_000);
        expect([infected.scan, infected.rejectedReason]).toEqual(['infected', 'malware found: Eicar-Test-Signature']);
        expect((await fetch(`${base}/api/v1/files/${bad.body.id}/content`, { headers: { authorization: `Bearer ${tokens.learner}` } })).status).toBe(404);
        const clean = await waitFor(async () => {
          const m = (await req(base, 'GET', `/api/v1/files/${good.body.id}`, undefined, tokens.learner)).body;
          return m.state === 'ready' && m;
        }, 15_000);
        expect(clean.scan).toBe('clean');
        const photo = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ff0000' } })
          .jpeg()
          .toBuffer();
        const big = await upload(tokens.learner, photo, { 'x-filename': 'big.jpg' });
        expect([big.status, big.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
        expect(await leftovers()).toEqual([]);
      } finally {
        await restartWith({ CLAMAV_HOST: undefined, CLAMAV_PORT: undefined, FILES_MAX_IMAGE_BYTES: undefined });
        clamd.close();
      }
    }, 60_000);

    it('resumes an interrupted upload (tus): only the rest is sent, and only its owner may touch it', async () => {
      const body = Buffer.alloc(3 * 1024 * 1024 + 123, 9);
      const tus = { 'tus-resumable': '1.0.0' };
      const auth = (t: string) => ({ authorization: `Bearer ${t}` });
      const created = await fetch(`${base}/api/v1/files/uploads`, {
        method: 'POST',
        headers: {
          ...tus,
          ...auth(tokens.learner),
          'upload-length': String(body.length),
          'upload-metadata': `filename ${Buffer.from('résumé.bin').toString('base64')}`,
        },
      });
      expect(created.status).toBe(201);
      const location = new URL(defined(created.headers.get('location')), base).pathname;
      const patch = (token: string, offset: number, part: Buffer) =>
        fetch(`${base}${location}`, {
          method: 'PATCH',
          headers: { ...tus, ...auth(token), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
          body: new Uint8Array(part),
        });
      expect((await patch(tokens.learner, 0, body.subarray(0, 1024 * 1024))).status).toBe(204);
      // The connection drops; the client asks where to resume.
      const head = await fetch(`${base}${location}`, { method: 'HEAD', headers: { ...tus, ...auth(tokens.learner) } });
      expect(head.headers.get('upload-offset')).toBe(String(1024 * 1024));
      expect((await fetch(`${base}${location}`, { method: 'HEAD', headers: { ...tus, ...auth(tokens.outsider) } })).status).toBe(404);
      expect((await patch(tokens.outsider, 1024 * 1024, body.subarray(1024 * 1024))).status).toBe(404);
      expect((await fetch(`${base}${location}`, { method: 'HEAD', headers: tus })).status).toBe(401);
      const last = await patch(tokens.learner, 1024 * 1024, body.subarray(1024 * 1024));
      expect(last.status).toBe(204);
      const fileId = defined(last.headers.get('x-file-id'));
      const meta = (await req(base, 'GET', `/api/v1/files/${fileId}`, undefined, tokens.learner)).body;
      expect([meta.name, meta.size, meta.sha256]).toEqual(['résumé.bin', body.length, createHash('sha256').update(body).digest('hex')]);
    });

    if (backend === 'local') {
      it('streams a 1 GiB upload with flat memory', async () => {
        await restartWith({ FILES_MAX_BYTES: String(2 * 1024 ** 3) });
        global.gc?.();
        const rss0 = process.memoryUsage().rss;
        let peak = rss0;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
        const chunk = Buffer.alloc(1024 * 1024, 42);
        let n = 0;
        const source = new Readable({
          read() {
            this.push(n++ < 1024 ? chunk : null);
          },
        });
        const started = performance.now();
        const status = await new Promise<number>((resolve, reject) => {
          const r = http.request(
            `${base}/api/v1/files`,
            { method: 'POST', headers: { authorization: `Bearer ${tokens.admin}`, 'content-length': String(1024 ** 3), 'x-filename': 'big.bin' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          r.on('error', reject);
          source.pipe(r);
        });
        clearInterval(timer);
        const seconds = (performance.now() - started) / 1000;
        const growthMiB = (peak - rss0) / 2 ** 20;
        console.log(`1 GiB upload: ${(1024 / seconds).toFixed(0)} MiB/s, RSS growth ${growthMiB.toFixed(0)} MiB`);
        expect(status).toBe(201);
        expect(growthMiB).toBeLessThan(64);
        await restartWith({ FILES_MAX_BYTES: String(8 * 1024 * 1024) });
      }, 120_000);
    }
  });
}
