import { ConfigError, parseEnv } from '@lms/runtime';
import { describe, expect, it } from 'vitest';
import { clamavOf, filesEnv, limitFor, type FilesConfig } from '../src/config.js';

const parse = (env: Record<string, string>) => parseEnv([filesEnv], env) as FilesConfig;

describe('files configuration', () => {
  it('keeps the documented defaults', () => {
    const c = parse({});
    expect([
      c.FILES_MAX_BYTES,
      c.FILES_MAX_IMAGE_BYTES,
      c.FILES_MAX_PIXELS,
      c.FILES_QUOTA_BYTES,
      c.FILES_PROCESS_POLL_MS,
      c.FILES_STORAGE,
      c.S3_REGION,
    ]).toEqual([2 * 1024 ** 3, 50 * 1024 ** 2, 40_000_000, 1024 ** 3, 500, 'local', 'us-east-1']);
    expect(clamavOf(c)).toBeUndefined();
  });

  it('limits per kind, videos and other files within FILES_MAX_BYTES unless set', () => {
    const c = parse({ FILES_MAX_BYTES: '1000', FILES_MAX_IMAGE_BYTES: '10' });
    expect([limitFor(c, 'image/png'), limitFor(c, 'video/mp4'), limitFor(c, 'application/pdf')]).toEqual([10, 1000, 1000]);
    const d = parse({ FILES_MAX_BYTES: '1000', FILES_MAX_VIDEO_BYTES: '500', FILES_MAX_OTHER_BYTES: '7' });
    expect([limitFor(d, 'video/webm'), limitFor(d, 'text/plain')]).toEqual([500, 7]);
  });

  it('scans with clamd only when CLAMAV_HOST is set, on CLAMAV_PORT or 3310', () => {
    expect(clamavOf(parse({ CLAMAV_HOST: 'clamd' }))).toEqual({ host: 'clamd', port: 3310 });
    expect(clamavOf(parse({ CLAMAV_HOST: 'clamd', CLAMAV_PORT: '9' }))).toEqual({ host: 'clamd', port: 9 });
  });

  it('refuses a bad value at start, naming it, never showing a secret', () => {
    let err: unknown;
    try {
      parse({ FILES_STORAGE: 'ftp', FILES_QUOTA_BYTES: 'lots', FILES_URL_SECRET: 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['FILES_QUOTA_BYTES', 'FILES_STORAGE']);
  });
});
