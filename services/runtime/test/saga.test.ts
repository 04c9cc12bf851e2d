/**
 * The saga engine over an in-memory store whose units of work run one at a time (as row locks make them):
 * each step's effects happen once even with two runners on one saga, refusals and exhausted retries compensate
 * the steps passed (latest first), and the crash hook sees every committed step.
 */
import type { Emit, Logger } from '@lms/runtime';
import { describe, expect, it } from 'vitest';
import { SagaRefusal, SagaRunner, type SagaDefinition, type SagaState, type SagaStore } from '../src/saga.js';

interface Types {
  step: 'a' | 'b' | 'c';
  data: { log?: string[]; held?: boolean };
  subject: { id: string };
  repo: Memory;
  code: string;
}

/** The "database": sagas and the effects steps leave; `uow` serialises units of work like row locks would. */
class Memory {
  sagas = new Map<string, SagaState<Types>>();
  effects: string[] = [];
  private tail: Promise<unknown> = Promise.resolve();

  uow<R>(fn: (w: { repo: Memory; emit: Emit }) => Promise<R>): Promise<R> {
    const emit: Emit = (event) => {
      this.effects.push(`event ${event.subject}`);
      return Promise.resolve('id');
    };
    const run = this.tail.then(() => fn({ repo: this, emit }));
    this.tail = run.catch(() => undefined);
    return run;
  }

  start(id: string): void {
    this.sagas.set(id, { id, subjectId: `subject-${id}`, step: 'a', status: 'running', attempts: 0, nextRunAt: new Date(0), data: {} });
  }
}

const store = (m: Memory): SagaStore<Types> => ({
  get: (id) => Promise.resolve(m.sagas.get(id)),
  lockAt: (id, step) => {
    const s = m.sagas.get(id);
    return Promise.resolve(s && s.step === step && s.status === 'running' ? s : undefined);
  },
  advance: (id, step, data, status) => {
    const s = m.sagas.get(id);
    if (s) m.sagas.set(id, { ...s, step, data, status, attempts: 0, nextRunAt: new Date(0) });
    return Promise.resolve();
  },
  retryLater: (id, attempts) => {
    const s = m.sagas.get(id);
    if (s) m.sagas.set(id, { ...s, attempts, nextRunAt: new Date(0) }); // due again at once: the test drives it
    return Promise.resolve();
  },
  due: () => Promise.resolve([...m.sagas.values()].filter((s) => s.status === 'running').map((s) => s.id)),
});

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const tick = () => new Promise((r) => setTimeout(r, 5));

function definition(behaviour: { bPrepare?: () => Promise<void> } = {}): SagaDefinition<Types> {
  return {
    name: 'test',
    store,
    subject: (_repo, id) => Promise.resolve({ id }),
    exhaustedCode: 'SERVICE_UNAVAILABLE',
    steps: [
      {
        name: 'a',
        commit: async ({ repo }) => {
          await tick(); // a slow step: the other runner is waiting for the lock meanwhile
          repo.effects.push('a');
          return { data: { held: true } };
        },
        compensate: ({ repo, data }) => {
          repo.effects.push(`undo a (held: ${String(data.held)})`);
          return Promise.resolve({ held: false });
        },
      },
      {
        name: 'b',
        prepare: async () => {
          await behaviour.bPrepare?.();
          return { log: ['b prepared'] };
        },
        commit: ({ repo }) => {
          repo.effects.push('b');
          return Promise.resolve();
        },
        compensate: ({ repo }) => {
          repo.effects.push('undo b');
          return Promise.resolve();
        },
      },
      {
        name: 'c',
        commit: async ({ repo, emit }) => {
          repo.effects.push('c');
          await emit({ subject: 'lms.test.done.v1' } as never, {} as never);
        },
      },
    ],
    failed: ({ repo, failure }) => {
      repo.effects.push(`failed ${failure.code} at ${failure.step}: ${failure.message}`);
      return Promise.resolve();
    },
  };
}

function runner(m: Memory, def: SagaDefinition<Types>, extra: { maxAttempts?: number; committed?: string[] } = {}) {
  return new SagaRunner(def, {
    repo: m,
    uow: (fn) => m.uow(fn),
    logger: quiet,
    pollMs: 60_000,
    retry: { baseMs: 1, maxMs: 1, maxAttempts: extra.maxAttempts ?? 5 },
    onStepCommitted: (step) => extra.committed?.push(step),
  });
}

describe('saga engine', () => {
  it('applies each step once when two runners drive the same saga', async () => {
    const m = new Memory();
    m.start('s1');
    const committed: string[] = [];
    await Promise.all([runner(m, definition(), { committed }).run('s1'), runner(m, definition()).run('s1')]);
    expect(m.effects).toEqual(['a', 'b', 'c', 'event lms.test.done.v1']);
    expect(m.sagas.get('s1')).toMatchObject({ step: 'done', status: 'done', data: { held: true, log: ['b prepared'] } });
    expect(committed).toEqual(['a', 'b', 'c']);
  });

  it('compensates the steps passed, latest first, when a step refuses', async () => {
    const m = new Memory();
    m.start('s2');
    await runner(m, definition({ bPrepare: () => Promise.reject(new SagaRefusal('PAYMENT_DECLINED', 'declined')) })).run('s2');
    expect(m.effects).toEqual(['a', 'undo a (held: true)', 'failed PAYMENT_DECLINED at b: declined']);
    expect(m.sagas.get('s2')).toMatchObject({ step: 'b', status: 'failed', data: { held: false } });
  });

  it('retries a failing step, then fails the saga with the exhausted code once the attempts run out', async () => {
    const m = new Memory();
    m.start('s3');
    let tries = 0;
    const r = runner(m, definition({ bPrepare: () => Promise.reject(new Error(`hiccup ${++tries}`)) }), { maxAttempts: 3 });
    for (let i = 0; i < 3; i++) await r.run('s3'); // each run stops at the retry the sweep would pick up
    expect(tries).toBe(3);
    expect(m.effects).toEqual(['a', 'undo a (held: true)', 'failed SERVICE_UNAVAILABLE at b: step b kept failing: Error: hiccup 3']);
  });

  it('goes on after a failed attempt that is retried', async () => {
    const m = new Memory();
    m.start('s4');
    let tries = 0;
    const r = runner(m, definition({ bPrepare: () => (++tries < 2 ? Promise.reject(new Error('once')) : Promise.resolve()) }));
    await r.run('s4');
    expect(m.sagas.get('s4')).toMatchObject({ step: 'b', status: 'running', attempts: 1 });
    await r.run('s4');
    expect(m.sagas.get('s4')).toMatchObject({ step: 'done', status: 'done' });
    expect(m.effects).toEqual(['a', 'b', 'c', 'event lms.test.done.v1']);
  });

  it('spends no attempt on a database outage: the saga waits at its step and goes on once it is back', async () => {
    const m = new Memory();
    m.start('s5');
    let outage = true;
    const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const r = runner(m, definition({ bPrepare: () => (outage ? Promise.reject(lost) : Promise.resolve()) }), { maxAttempts: 2 });
    for (let i = 0; i < 5; i++) await r.run('s5'); // more runs than attempts: an outage counted as failures would fail it
    expect(m.sagas.get('s5')).toMatchObject({ step: 'b', status: 'running', attempts: 0 });
    outage = false;
    await r.run('s5');
    expect(m.sagas.get('s5')).toMatchObject({ step: 'done', status: 'done' });
    expect(m.effects).toEqual(['a', 'b', 'c', 'event lms.test.done.v1']);
  });
});
