import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { courses, files, filesInternal } from '@lms/contracts';
import type { Caller } from '@lms/runtime';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { coursesService } from '../../courses/src/index.js';
import { filesService } from '../src/index.js';

// Uploads stream through the gateway into temporary storage (`tmp/<uuid>`), which then registers them: the test plays
// the gateway's part by writing the bytes into a local storage directory of its own.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-files-unit-'));
let node: TestNode;
beforeAll(async () => {
  process.env.FILES_DIR = dir;
  // courses: files attached to a course follow its roles.
  node = await testNode([filesService, coursesService]);
});
afterAll(async () => {
  await node?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  delete process.env.FILES_DIR;
});
afterEach(() => {
  vi.useRealTimers();
});

/** What the gateway registers after streaming `text` into temporary storage. */
function uploaded(text: string, extra: { courseId?: string; fileId?: string } = {}) {
  const bytes = Buffer.from(text);
  const tmpKey = `tmp/${randomUUID()}`;
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(dir, tmpKey), bytes);
  const blob = { tmpKey, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, head: bytes.subarray(0, 4096).toString('base64') };
  return { name: 'notes.txt', declaredType: 'text/plain', blob, ...extra };
}
const upload = (caller: Caller, text: string, extra: { courseId?: string; fileId?: string } = {}) =>
  node.internal(caller).call(filesInternal.register, uploaded(text, extra));
const refusedUpload = (caller: Caller, text: string, extra: { courseId?: string; fileId?: string } = {}) =>
  node.internal(caller).fail(filesInternal.register, uploaded(text, extra));

const person = (roles = ['student']): Caller => ({ userId: randomUUID(), roles });

describe('files handlers (unit: metadata procedures; uploads need the gateway)', () => {
  it('keeps a file private to its owner (404 for others), admins excepted; the owner may delete it', async () => {
    const owner = person();
    const meta = await upload(owner, 'hello world');
    expect(meta).toMatchObject({ ownerId: owner.userId, version: 1, size: 11 });
    expect(await node.as(owner).call(files.get, { fileId: meta.id })).toMatchObject({ id: meta.id });
    expect(await node.internal().call(filesInternal.describe, { fileId: meta.id })).toEqual({
      ownerId: owner.userId,
      contentType: 'text/plain',
      state: 'ready',
    });
    const stranger = node.as();
    expect(await stranger.fail(files.get, { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await stranger.fail(files.delete, { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await stranger.fail(files.signedUrl, { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect((await node.as({ roles: ['admin'] }).call(files.get, { fileId: meta.id })).id).toBe(meta.id);
    // New versions: by its owner only (a stranger does not see it).
    expect(await upload(owner, 'hello again', { fileId: meta.id })).toMatchObject({ id: meta.id, version: 2, size: 11 });
    expect(await refusedUpload(person(), 'not yours', { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await node.as(owner).call(files.delete, { fileId: meta.id })).toEqual({ deleted: true });
    expect(await node.as(owner).fail(files.get, { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('signs URLs that open the file until they expire (fake clock), and refuses tampered ones', async () => {
    const owner = person();
    const meta = await upload(owner, 'signed content');
    const t0 = Math.floor(Date.now() / 1000) * 1000 + 3_600_000; // an hour ahead, to the second
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const { url, expiresAt } = await node.as(owner).call(files.signedUrl, { fileId: meta.id, expiresInSeconds: 60 });
    expect(expiresAt).toBe(new Date(t0 + 60_000).toISOString());
    const q = new URL(url, 'http://x').searchParams;
    const signature = { exp: Number(q.get('exp')), sig: q.get('sig') ?? '' };
    const anyone = node.anonymous();
    expect(await anyone.call(filesInternal.openForRead, { fileId: meta.id, signature })).toMatchObject({ size: 14, contentType: 'text/plain', inline: true });
    expect(await anyone.fail(filesInternal.openForRead, { fileId: meta.id, signature: { ...signature, exp: signature.exp + 3600 } })).toMatchObject({
      code: 'TOKEN_INVALID',
    });
    expect(await anyone.fail(filesInternal.openForRead, { fileId: meta.id })).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    vi.setSystemTime(t0 + 61_000);
    expect(await anyone.fail(filesInternal.openForRead, { fileId: meta.id, signature })).toMatchObject({ code: 'TOKEN_INVALID' });
  });

  it('attaches files to a course only for its staff, and 404 for a course the caller cannot see', async () => {
    const instructor = person(['instructor']);
    const course = await node.as(instructor).call(courses.create, { title: 'With files', category: 'maths' });
    const meta = await upload(instructor, 'slides', { courseId: course.id });
    expect(meta.courseId).toBe(course.id);
    const learner = person();
    expect(await refusedUpload(learner, 'mine', { courseId: course.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await node.as(instructor).call(courses.publish, { courseId: course.id });
    expect(await refusedUpload(learner, 'mine', { courseId: course.id })).toMatchObject({ code: 'FORBIDDEN', status: 403 });
  });
});
