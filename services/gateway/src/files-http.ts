import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { filesInternal, type AnyProcedure, type ErrorCode } from '@lms/contracts';
import type { z } from 'zod';
import { ingest, safeName, storageFromEnv, type BlobStorage } from '@lms/files/edge';
import { DomainError, RETRY_AFTER_S, toPublicError, type CallMeta, type Caller, type Runtime } from '@lms/runtime';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import busboy from 'busboy';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { GatewayConfig } from './config.js';
import type { EdgeAuth } from './edge-auth.js';
import { pathParam, sendError, sendJson, type GatewayRequest } from './http.js';

type Ingested = Awaited<ReturnType<typeof ingest>>;

/**
 * The byte-moving half of the files API, at the edge: uploads stream from the socket through a hash into
 * storage (never whole in memory), then the files service records them; downloads stream out of storage
 * with ranges and ETags once the files service has said who may read what.
 */
export function fileRoutes(runtime: Runtime, config: GatewayConfig, edgeAuth: EdgeAuth, clientOf: (req: GatewayRequest) => CallMeta['client']) {
  let storage: BlobStorage | undefined;
  const store = () => (storage ??= storageFromEnv(runtime.config.dataDir, config));
  const maxBytes = () => config.FILES_MAX_BYTES;
  const { broker } = runtime;
  /** A call of a files procedure on behalf of the uploader (their token in `meta`), typed by its contract. */
  const callFiles = <C extends AnyProcedure>(c: C, input: z.input<C['input']>, meta: CallMeta) =>
    broker.call<z.output<C['output']>, object>(c.action, input as object, { meta });
  const log = runtime.logger('gateway.files');

  const fail = (req: GatewayRequest, res: ServerResponse, err: unknown) => {
    const pub = toPublicError(err);
    if (pub.status >= 500) log.error({ requestId: req.$requestId, err: String(err) }, 'file request failed');
    // A refused upload may still be arriving: answer, then close the connection instead of reading it all.
    if (!req.complete) res.setHeader('Connection', 'close');
    sendError(req, res, pub);
    if (!req.complete) res.once('finish', () => req.destroy());
  };

  /** The upload itself: multipart/form-data (the first file part) or a raw body named by X-Filename. */
  async function receive(req: GatewayRequest): Promise<{ name: string; declaredType?: string; blob: Ingested }> {
    const type = String(req.headers['content-type'] ?? '');
    if (Number(req.headers['content-length'] ?? 0) > maxBytes())
      throw new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes()} bytes`, { maxBytes: maxBytes() });
    // Bytes come raw or as multipart; a JSON or form body is a client encoding the file as text (a generated client
    // JSON-encodes a Uint8Array as {"0":104,…}): refuse it rather than store the encoding.
    if (/^application\/(json|x-www-form-urlencoded)\b|^[\w.-]+\/[\w.-]+\+json\b/i.test(type.trim())) {
      throw new DomainError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the bytes as application/octet-stream (or their own type) or multipart/form-data, not JSON or a form',
      );
    }
    // Bytes are stored as they are sent: a compressed body would be stored compressed.
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    if (encoding !== 'identity' && encoding !== '') throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'Send the file without Content-Encoding');
    if (/^multipart\/form-data\b/i.test(type)) return receiveMultipart(req);
    const header = req.headers['x-filename'];
    let name = typeof header === 'string' ? header : '';
    try {
      name = decodeURIComponent(name);
    } catch {
      /* keep as sent */
    }
    return { name, declaredType: type || undefined, blob: await ingest(store(), req, maxBytes()) };
  }

  /**
   * The first file part of a multipart body. The upload counts only once the whole form has been read: a
   * form that breaks anywhere (no closing boundary, a client that goes away) is a 400 and its blob is removed.
   */
  function receiveMultipart(req: GatewayRequest): Promise<{ name: string; declaredType?: string; blob: Ingested }> {
    let bb: ReturnType<typeof busboy>;
    try {
      bb = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fields: 20, fieldSize: 4096 } });
    } catch {
      return Promise.reject(new DomainError('BAD_REQUEST', 'multipart/form-data needs a boundary parameter'));
    }
    return new Promise((resolve, reject) => {
      let file: { name: string; declaredType?: string; blob: Promise<Ingested> } | undefined;
      let broken = false;
      const settle = async () => {
        const blob = file
          ? await file.blob.then(
              (b) => b,
              (err: unknown) => {
                if (broken) return undefined;
                throw err;
              },
            )
          : undefined;
        if (broken) {
          if (blob)
            await store()
              .delete(blob.tmpKey)
              .catch(() => {});
          throw new DomainError('BAD_REQUEST', 'The multipart body is malformed or incomplete');
        }
        if (!file || !blob)
          throw new DomainError('VALIDATION_FAILED', 'Invalid input: file: no file part', {
            issues: [{ path: 'file', message: 'missing', code: 'invalid_type' }],
          });
        return { name: file.name, declaredType: file.declaredType, blob };
      };
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        settle().then(resolve, reject);
      };
      bb.on('file', (_field, stream, info) => {
        if (file) return void stream.resume();
        const blob = ingest(store(), stream, maxBytes());
        blob.catch(() => {}); // read in settle()
        file = { name: info.filename ?? '', declaredType: info.mimeType, blob };
      });
      bb.on('error', () => {
        broken = true;
        req.unpipe(bb);
        req.resume();
        done();
      });
      bb.on('close', done);
      // A client that goes away mid-form: the parser will never finish on its own.
      req.once('close', () => {
        if (!req.complete && !settled) bb.destroy(new Error('The upload was interrupted'));
      });
      req.pipe(bb);
    });
  }

  async function upload(req: GatewayRequest, res: ServerResponse, fileId?: string) {
    try {
      const caller = await edgeAuth.callerOf(req);
      if (!caller) throw new DomainError('UNAUTHENTICATED', 'Sign in to do this');
      const token = edgeAuth.tokenOf(req);
      const q = new URL(req.url ?? '/', 'http://local').searchParams;
      const { name, declaredType, blob } = await receive(req);
      const meta = await callFiles(
        filesInternal.register,
        {
          fileId,
          courseId: q.get('courseId') ?? undefined,
          lessonId: q.get('lessonId') ?? undefined,
          name,
          declaredType,
          blob: { tmpKey: blob.tmpKey, sha256: blob.sha256, size: blob.size, head: blob.head.toString('base64') },
        },
        { token, requestId: req.$requestId, edge: false, client: clientOf(req) },
      ).catch(async (err: unknown) => {
        await store()
          .delete(blob.tmpKey)
          .catch(() => {});
        throw err;
      });
      sendJson(res, 201, meta, { Location: `/api/v1/files/${meta.id}` });
    } catch (err) {
      fail(req, res, err);
    }
  }

  async function download(req: GatewayRequest, res: ServerResponse) {
    try {
      const fileId = pathParam(req, 'fileId');
      const q = new URL(req.url ?? '/', 'http://local').searchParams;
      const signed = q.has('sig');
      const caller = signed ? undefined : await edgeAuth.callerOf(req);
      const token = caller ? edgeAuth.tokenOf(req) : undefined;
      const version = q.get('version') ? Number(q.get('version')) : undefined;
      const variant = pathParam(req, 'name') || undefined;
      const f = await callFiles(
        filesInternal.openForRead,
        { fileId, version, variant, signature: signed ? { exp: Number(q.get('exp')), sig: q.get('sig') ?? '' } : undefined },
        { token, requestId: req.$requestId, edge: false },
      );
      const etag = `"${f.sha256}"`;
      // Cleaned again on the way out: a name stored before bidi and format characters were stripped loses them here.
      const name = safeName(f.name);
      const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
      const headers: Record<string, string> = {
        ETag: etag,
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'private, max-age=0, must-revalidate',
        // Only types a browser renders harmlessly are shown inline; the rest download as bytes.
        'Content-Type': f.inline ? f.contentType : 'application/octet-stream',
        'Content-Disposition': `${f.inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        'Content-Security-Policy': "default-src 'none'; sandbox",
      };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers).end();
        return;
      }
      let range: { start: number; end: number } | undefined;
      const r = req.headers.range;
      if (r) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(r.trim());
        const start = m ? (m[1] === '' ? Math.max(0, f.size - Number(m[2])) : Number(m[1])) : NaN;
        const end = m ? (m[1] === '' || m[2] === '' ? f.size - 1 : Math.min(Number(m[2]), f.size - 1)) : NaN;
        if (!m || (m[1] === '' && m[2] === '') || !(start <= end) || start >= f.size) {
          res.writeHead(416, { 'Content-Range': `bytes */${f.size}` }).end();
          return;
        }
        range = { start, end };
      }
      const body = await store().get(f.blobKey, range);
      res.writeHead(range ? 206 : 200, {
        ...headers,
        'Content-Length': String(range ? range.end - range.start + 1 : f.size),
        ...(range && { 'Content-Range': `bytes ${range.start}-${range.end}/${f.size}` }),
      });
      if (req.method === 'HEAD') return res.end();
      await pipeline(body, res).catch(() => {});
    } catch (err) {
      fail(req, res, err);
    }
  }

  /**
   * Resumable uploads (the tus protocol, @tus/server): parts land in FILES_TUS_DIR (shared by the gateways in
   * a mesh); when the last part arrives the whole file goes through the same ingest and register as any upload.
   * Every request carries the bearer token, and an upload answers only the user who started it.
   */
  const tusDir = path.resolve(
    config.FILES_TUS_DIR ??
      (runtime.config.dataDir.startsWith('memory:') ? path.join(os.tmpdir(), `lms-tus-${process.pid}`, 'tus') : path.join(runtime.config.dataDir, 'tus')),
  );
  const tusStore = new FileStore({ directory: tusDir });
  const shim = (r: Request) => ({ headers: { authorization: r.headers.get('authorization') ?? undefined } });
  // The gateway's request id, for tus's hooks and answers (set in `resumable`).
  const tusRequest = new AsyncLocalStorage<string>();
  const requestIdIn = (_r?: Request) => tusRequest.getStore() ?? randomUUID();
  const errorBody = (code: string, message: string) => JSON.stringify({ error: { code, message, requestId: requestIdIn() } });
  /** What tus answers when a hook throws it (its hook contract); also what `onResponseError` returns. */
  interface TusRefusal {
    status_code: number;
    body: string;
  }
  const deny = (_r: Request, status: number, code: string, message: string): TusRefusal => ({ status_code: status, body: errorBody(code, message) });
  /** tus's own refusals (offset conflicts, wrong content type, unknown upload) in the public error model. */
  const isTusError = (err: unknown): err is { status_code: number; body: string } => typeof err === 'object' && err !== null && 'status_code' in err;
  /**
   * The signed-in user a tus request comes from. A missing or bad token is 401; an outage of what checks tokens
   * (the auth service unreachable) is its own answer (503), never "sign in".
   */
  const uploader = async (req: Request): Promise<Caller> => {
    let caller: Caller | undefined;
    try {
      caller = await edgeAuth.callerOf(shim(req));
    } catch (err) {
      const pub = toPublicError(err);
      if (pub.status !== 401) throw deny(req, pub.status, pub.code, pub.message);
    }
    if (!caller) throw deny(req, 401, 'UNAUTHENTICATED', 'Sign in to upload');
    return caller;
  };
  const TUS_CODES: Record<number, ErrorCode> = {
    400: 'BAD_REQUEST',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    409: 'CONFLICT',
    410: 'NOT_FOUND',
    413: 'PAYLOAD_TOO_LARGE',
    415: 'UNSUPPORTED_MEDIA_TYPE',
  };
  const tus = new TusServer({
    path: '/api/v1/files/uploads',
    datastore: tusStore,
    maxSize: () => maxBytes(),
    onResponseError(req, err) {
      if ('status_code' in err) {
        if (err.body.startsWith('{')) return err; // ours, from deny()
        const code = TUS_CODES[err.status_code];
        if (code) return deny(req, err.status_code, code, err.body.trim() || code);
      }
      // Anything else broke mid-request (a client gone, a stream cut): the upload did not happen.
      log.warn(
        { requestId: requestIdIn(req), err: 'status_code' in err ? `${err.status_code} ${err.body.trim()}` : String(err) },
        'resumable upload request failed',
      );
      return deny(req, 400, 'BAD_REQUEST', 'The upload request failed; check its offset and retry');
    },
    respectForwardedHeaders: config.TRUST_PROXY,
    async onIncomingRequest(req, uploadId) {
      const caller = await uploader(req);
      if (uploadId && req.method !== 'POST') {
        // Only an upload that does not exist (or no longer does) is let through to tus, which answers 404/410 itself.
        const upload = await tusStore.getUpload(uploadId).catch((err: unknown) => {
          if (isTusError(err) && (err.status_code === 404 || err.status_code === 410)) return undefined;
          throw err;
        });
        if (upload && upload.metadata?.owner !== caller.userId) throw deny(req, 404, 'NOT_FOUND', 'No such upload');
      }
    },
    async onUploadCreate(req, upload) {
      const caller = await uploader(req);
      // The owner is the caller, whatever the client put in the metadata.
      return { metadata: { ...(upload.metadata ?? {}), owner: caller.userId } };
    },
    async onUploadFinish(req, upload) {
      // Checked in onIncomingRequest; the files service verifies it again.
      const token = edgeAuth.tokenOf(shim(req));
      const file = path.join(tusDir, upload.id);
      try {
        const blob = await ingest(store(), createReadStream(file), maxBytes());
        const meta = await callFiles(
          filesInternal.register,
          {
            name: upload.metadata?.filename ?? '',
            declaredType: upload.metadata?.filetype ?? undefined,
            courseId: upload.metadata?.courseId ?? undefined,
            blob: { tmpKey: blob.tmpKey, sha256: blob.sha256, size: blob.size, head: blob.head.toString('base64') },
          },
          { token, edge: false },
        ).catch(async (err: unknown) => {
          await store()
            .delete(blob.tmpKey)
            .catch(() => {});
          throw err;
        });
        return { status_code: 204, headers: { 'X-File-Id': meta.id, 'Access-Control-Expose-Headers': 'X-File-Id, Upload-Offset, Location' } };
      } catch (err) {
        const pub = toPublicError(err);
        throw deny(req, pub.status, pub.code, pub.message);
      } finally {
        await fs.rm(file, { force: true });
        await fs.rm(`${file}.json`, { force: true });
      }
    },
  });
  // Every refusal tus writes itself (missing Tus-Resumable, invalid headers, unknown upload) in the error model too.
  const tusWrite = tus.write.bind(tus);
  tus.write = (context, headers, status, body = '') => {
    if (status < 400) return tusWrite(context, headers, status, body);
    headers.set('Content-Type', 'application/json; charset=utf-8');
    if (status === 503) headers.set('Retry-After', String(RETRY_AFTER_S)); // as on every other 503
    return tusWrite(context, headers, status, body.startsWith('{') ? body : errorBody(TUS_CODES[status] ?? 'BAD_REQUEST', body.trim() || 'Bad request'));
  };
  const resumable = (req: GatewayRequest, res: ServerResponse) => {
    // moleculer-web strips the route prefix; tus matches on the full path.
    req.url = req.originalUrl ?? req.url;
    void tusRequest.run(req.$requestId, () => tus.handle(req, res)).catch((err) => fail(req, res, err));
  };

  return {
    path: '/api/v1/files',
    mappingPolicy: 'restrict',
    bodyParsers: false,
    aliases: {
      'POST /': (req: GatewayRequest, res: ServerResponse) => upload(req, res),
      'POST /:fileId/versions': (req: GatewayRequest, res: ServerResponse) => upload(req, res, pathParam(req, 'fileId')),
      'GET /:fileId/content': download,
      'GET /:fileId/variants/:name': download,
      'POST /uploads': resumable,
      'HEAD /uploads/:id': resumable,
      'PATCH /uploads/:id': resumable,
      'DELETE /uploads/:id': resumable,
      'OPTIONS /uploads': resumable,
      'OPTIONS /uploads/:id': resumable,
    },
  };
}

export type { IncomingMessage };
