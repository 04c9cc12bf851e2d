import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'guarded-process.ts');

describe('the process guard', () => {
  it('logs what nobody caught, structured and without credentials, and the process goes on', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('still serving');
    const logged = lines.slice(0, -1).map((l) => JSON.parse(l) as { level: string; msg: string; origin: string; err: { message: string } });
    expect(logged.map((l) => l.origin).sort()).toEqual(['uncaughtException', 'uncaughtException', 'unhandledRejection']);
    expect(logged.map((l) => l.err.message).join('\n')).toContain('an error event without a listener');
    expect(r.stdout).not.toMatch(/s3cret-password|secret-token/);
  });
});
