import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { DomainError } from '@lms/contracts';
import type { BlobStorage } from './storage.js';

export interface Ingested {
  tmpKey: string;
  sha256: string;
  size: number;
  /** The first bytes, for type sniffing. */
  head: Buffer;
}

const HEAD_BYTES = 4100;

/**
 * Streams an upload into temporary storage while hashing it, counting it and keeping its first bytes.
 * Past `maxBytes` the stream is cut at once (413) and whatever was written is removed; so is anything
 * written when the client goes away mid-way. Memory use is one chunk at a time.
 */
export async function ingest(storage: BlobStorage, source: Readable, maxBytes: number): Promise<Ingested> {
  const tmpKey = `tmp/${randomUUID()}`;
  const hash = createHash('sha256');
  let size = 0;
  const head: Buffer[] = [];
  let headLen = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes} bytes`, { maxBytes }));
      hash.update(chunk);
      if (headLen < HEAD_BYTES) {
        head.push(chunk.subarray(0, HEAD_BYTES - headLen));
        headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
      }
      done(null, chunk);
    },
  });
  // The source may fail before storage has attached to the meter (a short malformed body fails at once):
  // the error must have a listener then, or it ends the process; storage.put sees the destroyed meter.
  meter.on('error', () => {});
  source.once('aborted', () => meter.destroy(new DomainError('BAD_REQUEST', 'The upload was interrupted')));
  source.on('error', (err) => meter.destroy(err));
  source.pipe(meter);
  try {
    await storage.put(tmpKey, meter);
  } catch (err) {
    source.unpipe(meter);
    source.resume();
    await storage.delete(tmpKey).catch(() => {});
    throw err instanceof DomainError ? err : new DomainError('BAD_REQUEST', 'The upload did not complete');
  }
  if (size === 0) {
    await storage.delete(tmpKey).catch(() => {});
    throw new DomainError('VALIDATION_FAILED', 'Invalid input: file: the file is empty', { issues: [{ path: 'file', message: 'empty', code: 'too_small' }] });
  }
  return { tmpKey, sha256: hash.digest('hex'), size, head: Buffer.concat(head) };
}

/**
 * Control (Cc) and format (Cf) characters: bidi overrides and isolates (U+202A–202E, U+2066–2069) that make
 * `résumé\u202egpj.exe` read as `résuméexe.jpg`, zero-width characters, U+FEFF, tag characters, soft hyphens;
 * also line and paragraph separators and lone surrogates (which no header or URL encoding can carry).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/**
 * A file name as users gave it, made safe to store and to put in a header: the last path segment only,
 * no control or format characters, no leading dots, at most 200 characters. Never used as a storage key.
 */
export function safeName(raw: string | undefined): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(/^[.\s]+/, '')
    .trim();
  // 200 characters, not UTF-16 units: a cut never leaves half a surrogate pair.
  return Array.from(clean).slice(0, 200).join('') || 'file';
}
