/**
 * A handler that returns a value breaking its output contract: the caller gets INTERNAL (nothing of the bad value),
 * and the error is logged with the action and what was wrong, so that someone finds out. No servers, no database:
 * a node with one service whose queries would go nowhere (it makes none), and a logger that keeps what it is given.
 */
import { domain, query } from '@lms/contracts';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { Errors, Loggers } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defined } from '../../../tools/test/support.ts';
import { defineService, startNode, toPublicError, type LmsNode, type ServiceModule } from '../src/index.js';

interface Line {
  module: string;
  level: string;
  args: unknown[];
}

/** A Moleculer logger that records every line. */
class CaptureLogger extends Loggers.Base<{ level?: 'info' }> {
  readonly lines: Line[] = [];
  override getLogHandler(bindings: { mod?: string }) {
    return (level: string, args: unknown[]) => void this.lines.push({ module: String(bindings?.mod ?? ''), level, args });
  }
}

const shape = domain('shape', {
  broken: query({ input: z.object({}), output: z.object({ id: z.uuid(), count: z.number().int() }), permission: 'public', summary: 'returns the wrong shape' }),
  fine: query({ input: z.object({}), output: z.object({ id: z.uuid(), count: z.number().int() }), permission: 'public', summary: 'returns the right shape' }),
});
/**
 * The module without a database: the node opens none (no schema), and the service gets a query builder that
 * compiles but never connects. For services whose handlers under test run no query.
 */
function withoutDatabase(mod: ServiceModule): ServiceModule {
  const nowhere = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return {
    ...mod,
    schema: '',
    build: (runtime) => mod.build({ ...runtime, db: { ...runtime.db, root: nowhere, forSchema: <DB>() => nowhere as Kysely<DB> } }),
  };
}

const shapeService = defineService({
  name: 'shape',
  contracts: shape,
  handlers: {
    // @ts-expect-error the handler breaks its contract on purpose: the runtime must catch it and say so
    broken: async () => ({ id: 'not-a-uuid', count: 'many', secret: 'internal detail' }),
    fine: async () => ({ id: '00000000-0000-4000-8000-000000000001', count: 1 }),
  },
});

/** Every `path` of the validation issues in a log line's fields. */
function pathsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(pathsIn);
  if (!value || typeof value !== 'object') return [];
  const o = value as Record<string, unknown>;
  return typeof o.path === 'string' && typeof o.message === 'string' ? [o.path] : Object.values(o).flatMap(pathsIn);
}

const logger = new CaptureLogger({ level: 'info' });
let node: LmsNode;
beforeAll(async () => {
  node = await startNode([withoutDatabase(shapeService)], { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined }, { logger });
});
afterAll(() => node?.stop());

describe('output validation', () => {
  it('answers INTERNAL to a handler that breaks its output contract, and logs it with the action and the issues', async () => {
    const err = await node.broker.call('shape.broken', {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Errors.MoleculerError);
    const pub = toPublicError(err);
    expect(pub).toMatchObject({ code: 'INTERNAL', status: 500 });
    expect(JSON.stringify(pub)).not.toContain('internal detail');

    const logged = logger.lines.filter((l) => l.level === 'error' && l.module === 'shape');
    expect(logged).toHaveLength(1);
    const [fields, message] = defined(logged[0], 'the logged contract breach').args as [{ action: string }, string];
    expect(message).toMatch(/breaks its contract/);
    expect(fields.action).toBe('shape.broken');
    expect(pathsIn(fields).sort()).toEqual(['count', 'id']); // each broken field named, wherever the issues sit in the line
  });

  it('logs nothing for a handler that keeps its contract', async () => {
    const before = logger.lines.filter((l) => l.level === 'error').length;
    expect(await node.broker.call('shape.fine', {})).toEqual({ id: '00000000-0000-4000-8000-000000000001', count: 1 });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(before);
  });
});
