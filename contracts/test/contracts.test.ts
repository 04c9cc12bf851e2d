import { describe, expect, expectTypeOf, it } from 'vitest';
import { allEvents, allProcedures, catalogue, type courses, errorCodes, internalCatalogue, permissionsOf, type AppRouter } from '../src/index.js';
import { domain, idempotentByItself, mutation } from '../src/core.js';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { z } from 'zod';

describe('the contract catalogue', () => {
  it('names each procedure after its domain and key', () => {
    for (const [domainName, procs] of Object.entries({ ...catalogue })) {
      for (const [key, c] of Object.entries(procs)) expect(c.action).toBe(`${domainName}.${key}`);
    }
    for (const c of Object.values(internalCatalogue.users)) expect(c.permission).toBe('internal');
  });

  it('gives every public procedure one REST route, none shared', () => {
    const routes = allProcedures().map((c) => `${c.rest?.method} ${c.rest?.path}`);
    expect(new Set(routes).size).toBe(routes.length);
    for (const c of allProcedures()) {
      expect(c.rest, c.action).toBeDefined();
      if (!c.rest) continue;
      if (c.kind === 'query') expect(c.rest.method, c.action).toBe('GET');
      const inputKeys = c.input instanceof z.ZodObject ? Object.keys(c.input.shape) : [];
      for (const p of c.rest.path.matchAll(/\{(\w+)\}/g)) expect(inputKeys, c.action).toContain(p[1]);
    }
  });

  it('opts a call out of Idempotency-Key records only when it carries its idempotentBy field', () => {
    const save = catalogue.attempts.saveAnswer;
    expect(save.idempotentBy).toBe('seq');
    expect(idempotentByItself(save, { attemptId: 'a', slot: 1, seq: 3 })).toBe(true);
    expect(idempotentByItself(save, { attemptId: 'a', slot: 1 })).toBe(false);
    expect(idempotentByItself(catalogue.attempts.submit, { attemptId: 'a', seq: 3 })).toBe(false);
    // A field the input does not have is refused when the domain is named.
    const bad = mutation({ input: z.object({ id: z.string() }), output: z.object({}), permission: 'authenticated', summary: 'x', idempotentBy: 'seq' });
    expect(() => domain('bench', { bad })).toThrow(/idempotentBy names seq/);
  });

  it('names events in the past tense, versioned, on their domain stream', () => {
    for (const e of allEvents()) {
      expect(e.subject).toMatch(/^lms\.[a-z]+\.[a-z_]+ed\.v\d+$/);
      expect(e.subject.endsWith(`.v${e.version}`)).toBe(true);
      expect(e.stream).toBe(`LMS_${e.subject.split('.')[1]?.toUpperCase()}`);
    }
  });

  it('maps every error code to an HTTP error status', () => {
    for (const status of Object.values(errorCodes)) expect(status).toBeGreaterThanOrEqual(400);
  });

  it('grants admins every permission a procedure asks for', () => {
    const admin = permissionsOf(['admin']);
    for (const c of allProcedures()) {
      if (!['public', 'authenticated', 'internal'].includes(c.permission)) expect(admin.has(c.permission as never), c.action).toBe(true);
    }
    expect(permissionsOf(['student']).size).toBe(0);
  });

  it('derives the router types from the contracts', () => {
    type In = inferRouterInputs<AppRouter>;
    type Out = inferRouterOutputs<AppRouter>;
    expectTypeOf<In['courses']['get']>().toEqualTypeOf<{ courseId: string }>();
    expectTypeOf<Out['courses']['list']['nextCursor']>().toEqualTypeOf<string | null>();
    expectTypeOf<Out['courses']['get']>().toEqualTypeOf<import('zod').output<typeof courses.get.output>>();
  });
});
