import { inlineContentTypes } from '@lms/contracts';
import { fileTypeFromBuffer } from 'file-type';

/** Types a browser may show inline; anything else is served as an attachment of application/octet-stream. */
const INLINE = new Set<string>(inlineContentTypes);

/**
 * The content type, from the bytes: what file-type recognises wins over the client's claim (a lying
 * `Content-Type` is corrected, never trusted). Unrecognised bytes are text/plain if they are valid UTF-8
 * without NULs and the client said text/plain (or nothing), else application/octet-stream.
 */
export async function detectType(head: Buffer, declared: string | undefined): Promise<string> {
  const found = await fileTypeFromBuffer(head);
  if (found) return found.mime;
  const d = (declared ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const looksText = !head.includes(0) && Buffer.from(head.toString('utf8'), 'utf8').equals(head);
  if (looksText && (d === '' || d === 'text/plain' || d === 'application/octet-stream')) return 'text/plain';
  return 'application/octet-stream';
}

export const inline = (contentType: string) => INLINE.has(contentType);
