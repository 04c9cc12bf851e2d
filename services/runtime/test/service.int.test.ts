import { domain, mutation, query } from '@lms/contracts';
import { Errors } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineService, startNode, toPublicError, type CallMeta, type LmsNode } from '../src/index.js';

const probe = domain('probe', {
  echo: mutation({
    input: z.object({ n: z.number().int().min(1), tag: z.string().max(5) }),
    output: z.object({ doubled: z.number() }),
    permission: 'authenticated',
    summary: 'doubles n',
  }),
  broken: query({ input: z.object({}), output: z.object({ id: z.uuid() }), permission: 'public', summary: 'returns the wrong shape' }),
  crash: query({ input: z.object({}), output: z.object({}), permission: 'public', summary: 'throws a plain error' }),
  adminOnly: query({ input: z.object({}), output: z.object({ ok: z.boolean() }), permission: 'users:manage', summary: 'admins' }),
  internalOnly: query({ input: z.object({}), output: z.object({ ok: z.boolean() }), permission: 'internal', summary: 'services only' }),
});

const probeService = defineService({
  name: 'probe',
  contracts: probe,
  handlers: {
    echo: async ({ input }) => ({ doubled: input.n * 2 }),
    // @ts-expect-error the handler breaks its contract on purpose: the runtime must catch it
    broken: async () => ({ id: 42 }),
    crash: async () => {
      throw new Error('select * from secret_table failed');
    },
    adminOnly: async () => ({ ok: true }),
    internalOnly: async () => ({ ok: true }),
  },
});

let node: LmsNode;
const student: CallMeta = { caller: { userId: '00000000-0000-4000-8000-000000000001', roles: ['student'] }, edge: true };
const admin: CallMeta = { caller: { userId: '00000000-0000-4000-8000-000000000002', roles: ['admin'] }, edge: true };

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Errors.MoleculerError);
  return toPublicError(err);
}

beforeAll(async () => {
  node = await startNode([probeService], { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
});
afterAll(() => node?.stop());

describe('contract → action', () => {
  it('validates input and passes parsed values', async () => {
    expect(await node.broker.call('probe.echo', { n: 21, tag: 'a' }, { meta: student })).toEqual({ doubled: 42 });
  });

  it('rejects bad input with 422 VALIDATION_FAILED naming each field', async () => {
    const e = await failure(node.broker.call('probe.echo', { n: 'x', tag: 'toolong' }, { meta: student }));
    expect(e.status).toBe(422);
    expect(e.code).toBe('VALIDATION_FAILED');
    const issues = (e.details?.issues ?? []) as Array<{ path: string }>;
    expect(issues.map((i) => i.path).sort()).toEqual(['n', 'tag']);
  });

  it('catches a handler that returns the wrong shape', async () => {
    const e = await failure(node.broker.call('probe.broken', {}));
    expect(e).toMatchObject({ code: 'INTERNAL', status: 500 });
  });

  it('turns unexpected errors into INTERNAL without leaking the message', async () => {
    const e = await failure(node.broker.call('probe.crash', {}));
    expect(e).toEqual({ code: 'INTERNAL', status: 500, message: 'Internal error' });
  });

  it('checks permissions in the service, whoever calls', async () => {
    expect(await failure(node.broker.call('probe.echo', { n: 1, tag: 'a' }))).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(await failure(node.broker.call('probe.adminOnly', {}, { meta: student }))).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await node.broker.call('probe.adminOnly', {}, { meta: admin })).toEqual({ ok: true });
  });

  it('refuses internal procedures to calls from the edge', async () => {
    expect(await failure(node.broker.call('probe.internalOnly', {}, { meta: admin }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await node.broker.call('probe.internalOnly', {}, { meta: { edge: false } })).toEqual({ ok: true });
  });
});
