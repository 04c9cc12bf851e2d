import type { Readable } from 'node:stream';

/**
 * sharp (libvips, ~8 MB of RSS and its threads) loads when the first image is measured or processed, not when the
 * files module is imported: the gateway and nodes that never see an image do not pay for it.
 */
let sharpLib: Promise<(typeof import('sharp'))['default']> | undefined;
export const loadSharp = () => (sharpLib ??= import('sharp').then((m) => m.default));

export const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif', 'image/tiff']);

/** Width and height from the first bytes, where the format puts them there (PNG, GIF, WebP…); else undefined. */
export async function dimensionsFromHead(head: Buffer): Promise<{ width: number; height: number } | undefined> {
  // PNG: the IHDR chunk is always first, so its size is known from 24 bytes, whatever sharp can decode.
  if (head.length >= 24 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  }
  try {
    const sharp = await loadSharp();
    const m = await sharp(head, { failOn: 'none' }).metadata();
    return m.width && m.height ? { width: m.width, height: m.height } : undefined;
  } catch {
    return undefined;
  }
}

export const RENDITIONS = [
  { name: 'thumb', width: 160, formats: ['webp', 'avif'] },
  { name: 'medium', width: 640, formats: ['webp', 'avif'] },
  { name: 'large', width: 1600, formats: ['webp'] },
] as const;

export interface Rendition {
  name: string;
  contentType: string;
  width: number;
  height: number;
  data: Buffer;
  /** Already in storage under this key (large renditions are streamed there, never held in memory). */
  storedAs?: { key: string; size: number };
}

/**
 * Renditions of an image: EXIF orientation applied, metadata stripped (sharp writes none unless asked),
 * never enlarged, with the pixel limit (FILES_MAX_PIXELS: a small file that decodes to gigabytes is refused)
 * enforced while decoding.
 */
export async function renditions(source: Readable, maxPixels: number): Promise<Rendition[]> {
  const sharp = await loadSharp();
  const base = sharp({ limitInputPixels: maxPixels, failOn: 'error' }).rotate();
  source.pipe(base);
  const out: Rendition[] = [];
  for (const r of RENDITIONS) {
    for (const format of r.formats) {
      const img = base.clone().resize({ width: r.width, withoutEnlargement: true });
      const { data, info } = await (format === 'webp' ? img.webp({ quality: 80 }) : img.avif({ quality: 50, effort: 2 })).toBuffer({ resolveWithObject: true });
      out.push({ name: `${r.name}.${format}`, contentType: `image/${format}`, width: info.width, height: info.height, data });
    }
  }
  return out;
}
