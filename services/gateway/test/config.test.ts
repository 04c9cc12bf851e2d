import { envMeta, parseEnv } from '@lms/runtime';
import { filesService } from '@lms/files';
import { describe, expect, it } from 'vitest';
import { gatewayEnv } from '../src/config.js';

describe('gateway configuration', () => {
  it('reads the file storage variables and FILES_MAX_BYTES with the declaration of the files service (one meaning, one default)', () => {
    const files = filesService.env?.shape ?? {};
    const shared = ['FILES_MAX_BYTES', 'FILES_STORAGE', 'FILES_DIR', 'S3_BUCKET', 'S3_REGION', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];
    for (const name of shared) {
      const mine = gatewayEnv.shape[name as keyof typeof gatewayEnv.shape];
      const theirs = files[name];
      expect(mine, name).toBeDefined();
      expect(theirs, name).toBeDefined();
      if (!mine || !theirs) continue;
      expect(envMeta(mine), name).toEqual(envMeta(theirs));
      expect(mine.safeParse(undefined), name).toEqual(theirs.safeParse(undefined));
    }
    // Every storage variable the files service declares is one the gateway declares too.
    for (const name of Object.keys(files).filter((n) => n.startsWith('S3_') || n === 'FILES_STORAGE' || n === 'FILES_DIR')) expect(shared).toContain(name);
  });

  it('keeps the documented defaults', () => {
    const c = parseEnv([gatewayEnv], {});
    expect(c).toMatchObject({ HOST: '0.0.0.0', RATE_LIMIT_PER_MINUTE: 1200, RATE_LIMIT_AUTH_PER_MINUTE: 60, BODY_LIMIT_BYTES: 1_048_576, TRUST_PROXY: false });
    expect(c.LMS_REQUIRED_SERVICES).toEqual([
      'auth',
      'users',
      'courses',
      'enrollments',
      'files',
      'analytics',
      'audit',
      'notifications',
      'assessments',
      'attempts',
      'assignments',
      'grades',
      'credentials',
    ]);
    expect(parseEnv([gatewayEnv], { TRUST_PROXY: 'true', LMS_REQUIRED_SERVICES: 'auth, users' })).toMatchObject({
      TRUST_PROXY: true,
      LMS_REQUIRED_SERVICES: ['auth', 'users'],
    });
  });
});
