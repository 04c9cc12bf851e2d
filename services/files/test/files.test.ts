import { Readable } from 'node:stream';
import { files, filesInternal, privacyExportContract } from '@lms/contracts';
import { depsOf } from '@lms/runtime';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesService, ingest } from '../src/index.js';
import type { FilesDeps } from '../src/files.service.js';

let node: TestNode;
let deps: FilesDeps;
const QUOTA = 64;

beforeAll(async () => {
  process.env.FILES_QUOTA_BYTES = String(QUOTA); // read once, when the node starts
  try {
    node = await testNode([filesService]);
  } finally {
    delete process.env.FILES_QUOTA_BYTES;
  }
  const d = depsOf<FilesDeps>(node.runtime, 'files');
  if (!d) throw new Error('files deps not registered');
  deps = d;
});
afterAll(() => node?.stop());

/** What the gateway does before `files.register`: the bytes streamed into temporary storage. */
async function staged(text: string) {
  const b = await ingest(deps.storage, Readable.from([Buffer.from(text)]), 1024);
  return { tmpKey: b.tmpKey, sha256: b.sha256, size: b.size, head: b.head.toString('base64') };
}

describe('files handlers (unit: one service, in-memory database, test verifier)', () => {
  it('records an upload (text needs no processing) that only its owner may read', async () => {
    const owner = node.as();
    const blob = await staged('plain words');
    const meta = await node.internal(owner.caller).call(filesInternal.register, { name: '../notes.txt', declaredType: 'text/plain', blob });
    expect(meta).toMatchObject({ name: 'notes.txt', contentType: 'text/plain', state: 'ready', version: 1, size: blob.size });
    expect(await deps.storage.size(blob.tmpKey)).toBeUndefined(); // moved to its content address
    expect(await deps.storage.size(`blobs/${blob.sha256}`)).toBe(blob.size);
    expect((await owner.call(files.get, { fileId: meta.id })).id).toBe(meta.id);
    expect(await node.as().fail(files.get, { fileId: meta.id })).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('refuses an upload past the quota: nothing recorded (the unit of work rolled back) and the staged bytes gone', async () => {
    const owner = node.as();
    const internal = node.internal(owner.caller);
    await internal.call(filesInternal.register, { name: 'a.txt', blob: await staged('x'.repeat(QUOTA - 10)) });
    const over = await staged('y'.repeat(20));
    expect(await internal.fail(filesInternal.register, { name: 'b.txt', blob: over })).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(await deps.storage.size(over.tmpKey)).toBeUndefined();
    const userId = owner.caller?.userId ?? '';
    const mine = (await node.internal().call(privacyExportContract('files').privacyExport, { userId })).data as { files: Array<{ name: string }> };
    expect(mine.files.map((f) => f.name)).toEqual(['a.txt']);
  });
});
