import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** FFMPEG_PATH/FFPROBE_PATH from the files service's configuration; unset: the binaries shipped through npm. */
let paths: { FFMPEG_PATH?: string; FFPROBE_PATH?: string } = {};
export function configureFfmpeg(p: { FFMPEG_PATH?: string; FFPROBE_PATH?: string }): void {
  paths = p;
}

/** fluent-ffmpeg and the binaries' locations, loaded with the first video rather than with the module. */
let ffmpegLib: Promise<typeof import('fluent-ffmpeg')> | undefined;
function loadFfmpeg() {
  return (ffmpegLib ??= import('fluent-ffmpeg').then(({ default: ffmpeg }: { default: typeof import('fluent-ffmpeg') }) => {
    // Binaries shipped through the npm registry (no system ffmpeg needed); FFMPEG_PATH/FFPROBE_PATH override.
    ffmpeg.setFfmpegPath(paths.FFMPEG_PATH ?? (require('@ffmpeg-installer/ffmpeg') as { path: string }).path);
    ffmpeg.setFfprobePath(paths.FFPROBE_PATH ?? (require('@ffprobe-installer/ffprobe') as { path: string }).path);
    return ffmpeg;
  }));
}

export const VIDEO_TYPES = new Set([
  'video/mp4',
  'video/webm',
  'video/quicktime',
  'video/matroska',
  'video/x-matroska',
  'video/x-msvideo',
  'video/mpeg',
  'video/ogg',
]);

export interface Probe {
  durationSeconds: number;
  width: number | null;
  height: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
}

export async function probe(file: string): Promise<Probe> {
  const ffmpeg = await loadFfmpeg();
  return new Promise((resolve, reject) =>
    ffmpeg.ffprobe(file, (err, data) => {
      if (err) return reject(new Error('not a video ffprobe can read'));
      const v = data.streams.find((s) => s.codec_type === 'video');
      const a = data.streams.find((s) => s.codec_type === 'audio');
      if (!v) return reject(new Error('no video stream'));
      resolve({
        durationSeconds: Number(data.format.duration ?? 0),
        width: v.width ?? null,
        height: v.height ?? null,
        videoCodec: v.codec_name ?? null,
        audioCodec: a?.codec_name ?? null,
      });
    }),
  );
}

/** One frame as a JPEG, a second in (or mid-way through a shorter video). */
export async function poster(file: string, out: string, atSeconds: number): Promise<void> {
  const ffmpeg = await loadFfmpeg();
  return new Promise((resolve, reject) =>
    ffmpeg(file)
      .seekInput(atSeconds)
      .frames(1)
      .outputOptions(['-q:v 3'])
      .output(out)
      .on('end', () => resolve())
      .on('error', reject)
      .run(),
  );
}

/** An H.264/AAC MP4 any browser plays, at most 1280 px wide, `faststart` for streaming; reports percent done. */
export async function webMp4(file: string, out: string, durationSeconds: number, onProgress: (percent: number) => void): Promise<void> {
  const ffmpeg = await loadFfmpeg();
  return new Promise((resolve, reject) =>
    ffmpeg(file)
      .videoCodec('libx264')
      .audioCodec('aac')
      .outputOptions(['-preset veryfast', '-crf 23', '-pix_fmt yuv420p', '-movflags +faststart', "-vf scale='min(1280,iw)':-2"])
      .format('mp4')
      .output(out)
      .on('progress', (p: { timemark?: string; percent?: number }) => {
        const t = p.timemark?.split(':').map(Number);
        const [h = 0, m = 0, s = 0] = t?.length === 3 ? t : [];
        const done = h * 3600 + m * 60 + s;
        if (durationSeconds > 0) onProgress(Math.min(99, Math.round((done / durationSeconds) * 100)));
      })
      .on('end', () => resolve())
      .on('error', reject)
      .run(),
  );
}
