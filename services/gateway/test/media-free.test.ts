/**
 * The gateway streams file bytes but never decodes images or video: loading it must not load sharp or ffmpeg
 * (hundreds of MB of native code and their RSS on every gateway node). It reaches files through
 * `@lms/files/edge`, not the service's main entry.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

/** Every module URL a fresh Node process resolves while importing `entry` (as `m`) and running `then`. */
function loadedBy(entry: string, then = ''): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
    const m = await import(${JSON.stringify(pathToFileURL(path.join(root, entry)).href)});
    ${then}
    console.log(JSON.stringify(seen));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as string[];
}

const media = /\/(sharp|fluent-ffmpeg|@ffmpeg-installer|@ffprobe-installer)\//;

describe('the gateway module', () => {
  it('loads no image or video library', () => {
    const loaded = loadedBy('services/gateway/src/index.ts');
    expect(loaded.some((u) => u.includes('/services/files/src/ingest.ts'))).toBe(true);
    expect(loaded.filter((u) => media.test(u))).toEqual([]);
  });

  it('nor does the files service until it meets an image (so the check above can fail)', () => {
    expect(loadedBy('services/files/src/index.ts').filter((u) => media.test(u))).toEqual([]);
    expect(loadedBy('services/files/src/images.ts', 'await m.loadSharp();').some((u) => media.test(u))).toBe(true);
  });
});
