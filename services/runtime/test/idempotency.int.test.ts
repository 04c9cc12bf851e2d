/**
 * Idempotency-Key in the runtime, on the real servers: two mesh nodes running one service on one PostgreSQL over NATS,
 * and a third node calling them as the gateway does (the key in `ctx.meta`). The service's mutation inserts a row per
 * run (no unique key, so a second run shows as a second row) and answers a value fresh per run (so a replay shows).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { Errors } from 'moleculer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, toPublicError, type CallMeta, type LmsNode, type RuntimeSettings } from '../src/index.js';
import { keyedRequest } from '../src/idempotency.js';
import { TestVerifier } from '../src/testing.js';
import { defined, dropStreams, NATS_URL, tempDatabase, uniqueName, waitFor } from '../../../tools/test/support.ts';
import { scripts, tallyService } from './fixtures/tally.js';

describe('Idempotency-Key on mutations (mesh: two nodes of a service, one caller)', () => {
  let pg: Awaited<ReturnType<typeof tempDatabase>>;
  let namespace: string;
  let a: LmsNode;
  let b: LmsNode;
  let caller: LmsNode;
  const ann = TestVerifier.tokenFor({ userId: randomUUID(), roles: ['learner'] });
  const bob = TestVerifier.tokenFor({ userId: randomUUID(), roles: ['learner'] });
  const idempotency = { ttlS: 86_400, waitMs: 1_000, leaseMs: 3_000 };

  const start = (services: Parameters<typeof startNode>[0], nodeId: string, overrides: Partial<RuntimeSettings> = {}) =>
    startNode(
      services,
      { mode: 'mesh', databaseUrl: pg.url, natsUrl: NATS_URL, namespace, port: 0, migrateOnStart: true, nodeId, idempotency, ...overrides },
      {},
      { verifier: () => new TestVerifier() },
    );
  type Input = { label: string; holdMs?: number; refuse?: boolean };
  type Output = { label: string; run: string };
  /** A call as the gateway makes it: the caller's token and the request's key in meta. */
  const add = (input: Input, key: string | undefined, opts: { token?: string; timeout?: number; retries?: number } = {}) =>
    caller.broker.call<Output, Input>('tally.add', input, {
      meta: { token: opts.token ?? ann, edge: true, idempotencyKey: key } satisfies CallMeta,
      timeout: opts.timeout,
      retries: opts.retries,
    });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('the call succeeded; the test expected it to fail');
      },
      (e: unknown) => toPublicError(e),
    );
  const runs = async (label: string) =>
    (await sql<{ run: string; node: string }>`select run, node from tally.runs where label = ${label}`.execute(a.runtime.db.root)).rows;
  const row = async (key: string, token = ann) => {
    const userId = defined(await new TestVerifier().verify(token), 'the caller').userId;
    const { id } = keyedRequest('tally.add', userId, key, {});
    return (
      await sql<{ id: string; state: string; owner: string; response: Buffer | null }>`select * from tally.idempotency_keys where id = ${id}`.execute(
        a.runtime.db.root,
      )
    ).rows[0];
  };

  beforeAll(async () => {
    pg = await tempDatabase();
    namespace = uniqueName('i');
    a = await start([tallyService], `${namespace}-a`);
    b = await start([tallyService], `${namespace}-b`);
    caller = await start([], `${namespace}-caller`);
    await caller.broker.waitForServices(['tally']);
    // Both nodes known to the caller and to each other (a takeover reads the registry).
    await waitFor(async () => caller.broker.registry.getServiceList({ onlyAvailable: true }).filter((s) => s.name === 'tally').length === 2);
  }, 60_000);
  afterAll(async () => {
    for (const n of [caller, b, a]) await n?.stop();
    await dropStreams(namespace);
    await pg?.drop();
  });

  it('answers a repeat with the first response and applies it once; the same key with another body is 422; keys are per caller', async () => {
    const key = randomUUID();
    const label = uniqueName('once');
    const first = await add({ label }, key);
    // Repeats land on either node (NATS queue groups balance them): the key is the service's, not the node's.
    for (let i = 0; i < 4; i++) expect(await add({ label }, key)).toEqual(first);
    // The answering node tells the caller it replayed (in meta, merged back into the caller's: the gateway's header).
    const meta: CallMeta = { token: ann, edge: true, idempotencyKey: key };
    await caller.broker.call('tally.add', { label }, { meta });
    expect(meta.idempotentReplay).toBe(true);
    expect(await runs(label)).toHaveLength(1);

    expect(await failure(add({ label: `${label}-other` }, key))).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    expect(await runs(`${label}-other`)).toHaveLength(0);

    // Another caller's same key is another request.
    const bobs = await add({ label }, key, { token: bob });
    expect(bobs.run).not.toBe(first.run);
    expect(await runs(label)).toHaveLength(2);

    // Without a key, nothing is remembered: every call runs.
    await add({ label }, undefined);
    expect(await runs(label)).toHaveLength(3);
  });

  it('replays a domain error as it was answered the first time, without running again', async () => {
    const key = randomUUID();
    const label = uniqueName('refused');
    const first = await failure(add({ label, refuse: true }, key));
    expect(first).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await failure(add({ label, refuse: true }, key))).toEqual(first);
    expect(await runs(label)).toHaveLength(1);
  });

  it('releases the key after an infrastructure failure: a repeat runs afresh', async () => {
    const key = randomUUID();
    const label = uniqueName('outage');
    scripts.set(label, { failOnce: true });
    expect(await failure(add({ label }, key, { retries: 0 }))).toMatchObject({ code: 'INTERNAL', status: 500 });
    expect(await runs(label)).toHaveLength(0);
    const second = await add({ label }, key);
    expect(await add({ label }, key)).toEqual(second);
    expect(await runs(label)).toHaveLength(1);
  });

  it('makes a concurrent repeat wait for the first request and answer its response', async () => {
    const key = randomUUID();
    const label = uniqueName('concurrent');
    const [x, y, z2] = await Promise.all([add({ label, holdMs: 400 }, key), add({ label, holdMs: 400 }, key), add({ label, holdMs: 400 }, key)]);
    expect(y).toEqual(x);
    expect(z2).toEqual(x);
    expect(await runs(label)).toHaveLength(1);
  });

  it("carries the key through the broker's own retries: a call that timed out while it ran is applied once", async () => {
    const key = randomUUID();
    const label = uniqueName('timeout');
    // Each attempt gives up after 300 ms; the first run takes 700 ms after its commit. Retried attempts find it
    // running (they wait) or done (they replay).
    const out = await add({ label, holdMs: 700 }, key, { timeout: 300, retries: 6 });
    expect(await runs(label)).toEqual([{ run: out.run, node: expect.any(String) }]);
    // Without the key carried, each retry would have run again.
    const label2 = uniqueName('timeout-nokey');
    await failure(add({ label: label2, holdMs: 700 }, undefined, { timeout: 300, retries: 2 }));
    await waitFor(async () => (await runs(label2)).length === 3, 5_000);
  });

  it('takes over at once the claim of a node that is gone; answers IDEMPOTENCY_RESPONSE_LOST for one that took effect', async () => {
    const userId = defined(await new TestVerifier().verify(ann), 'the caller').userId;
    // What `kill -9` leaves behind: a claim whose owner is in no registry.
    const claimOfDeadNode = async (key: string, label: string, state: 'pending' | 'applied') => {
      const req = keyedRequest('tally.add', userId, key, { label, holdMs: 0, refuse: false });
      await sql`insert into tally.idempotency_keys (id, fingerprint, state, owner, owner_instance)
                values (${req.id}, ${req.fingerprint}, ${state}, 'node-killed-9', ${randomUUID()})`.execute(a.runtime.db.root);
    };
    const pending = randomUUID();
    const label = uniqueName('orphan');
    await claimOfDeadNode(pending, label, 'pending');
    const t0 = performance.now();
    const out = await add({ label }, pending);
    expect(performance.now() - t0).toBeLessThan(1_000); // no waiting on a node that is gone
    expect(await add({ label }, pending)).toEqual(out);
    expect(await runs(label)).toHaveLength(1);

    const applied = randomUUID();
    const label2 = uniqueName('lost');
    await claimOfDeadNode(applied, label2, 'applied');
    expect(await failure(add({ label: label2 }, applied))).toMatchObject({ code: 'IDEMPOTENCY_RESPONSE_LOST', status: 409, details: { applied: true } });
    expect(await runs(label2)).toHaveLength(0);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE while a live attempt holds the key; past its lease a repeat takes it over, and the first can no longer apply', async () => {
    const key = randomUUID();
    const label = uniqueName('fenced');
    let release = () => {};
    let started = () => {};
    const running = new Promise<void>((r) => (started = r));
    scripts.set(label, { gate: new Promise<void>((r) => (release = r)), started });
    // The first attempt stalls before its unit of work, past the lease (3 s), on a live node.
    const first = add({ label }, key, { timeout: 15_000, retries: 0 });
    await running;
    // A repeat (on either node) waits for it (1 s), then is told to come back.
    expect(await failure(add({ label }, key, { retries: 0 }))).toMatchObject({
      code: 'IDEMPOTENCY_KEY_IN_USE',
      status: 409,
      details: { retryAfterSeconds: 1 },
    });
    // Once the lease has run out, a repeat takes the key over and runs.
    const second = await waitFor(() => add({ label }, key, { timeout: 15_000, retries: 0 }), 10_000, 100);
    expect((await runs(label)).map((r) => r.run)).toEqual([second.run]);
    // The stale attempt wakes up: its unit of work is refused (rolled back), and it answers what the new one answered.
    release();
    expect(await first).toEqual(second);
    expect(await runs(label)).toHaveLength(1);
  });

  it('ends a claim as soon as the database answers again, so that repeats on other nodes need not wait out its lease', async () => {
    const key = randomUUID();
    const label = uniqueName('away');
    let release = () => {};
    let started = () => {};
    const running = new Promise<void>((r) => (started = r));
    scripts.set(label, { gate: new Promise<void>((r) => (release = r)), started });
    const first = failure(add({ label }, key, { timeout: 15_000, retries: 0 }));
    await running;
    // The table goes away under the running request, as the database does in an outage: its unit of work fails, and so
    // does the release of its claim…
    await sql`alter table tally.idempotency_keys rename to idempotency_keys_away`.execute(a.runtime.db.root);
    release();
    expect(await first).toMatchObject({ code: 'INTERNAL', status: 500 });
    // …and comes back: the release is retried, and the claim is gone long before its lease (3 s) would have freed it.
    await sql`alter table tally.idempotency_keys_away rename to idempotency_keys`.execute(a.runtime.db.root);
    const back = performance.now();
    await waitFor(async () => (await row(key)) === undefined, 2_000, 25);
    expect(performance.now() - back).toBeLessThan(1_000);
    const out = await add({ label }, key);
    expect((await runs(label)).map((r) => r.run)).toEqual([out.run]);
  });

  it('keeps nothing readable without the key, and prunes keys past their time', async () => {
    const key = randomUUID();
    const label = uniqueName('sealed');
    const out = await add({ label }, key);
    const stored = defined(await row(key), 'the stored key');
    expect(stored.id).not.toContain(key);
    expect(stored.state).toBe('done');
    expect(defined(stored.response, 'the sealed response').toString('latin1')).not.toContain(out.run);

    // Past LMS_IDEMPOTENCY_TTL_S the key counts as absent (the request runs again), and pruning deletes it.
    await sql`update tally.idempotency_keys set created_at = now() - interval '25 hours' where id = ${stored.id}`.execute(a.runtime.db.root);
    const again = await add({ label }, key);
    expect(again.run).not.toBe(out.run);
    await sql`update tally.idempotency_keys set created_at = now() - interval '25 hours' where id = ${stored.id}`.execute(a.runtime.db.root);
    const before = Number(defined((await sql<{ n: number }>`select count(*)::int as n from tally.idempotency_keys`.execute(a.runtime.db.root)).rows[0]).n);
    await pruneOn(a);
    const after = Number(defined((await sql<{ n: number }>`select count(*)::int as n from tally.idempotency_keys`.execute(a.runtime.db.root)).rows[0]).n);
    expect(before - after).toBe(1);
    expect(await row(key)).toBeUndefined();
  });

  /**
   * A third node of the service in its own OS process (fixtures/tally-process.ts), which stalls the runs of labels
   * starting with `prefix` (`stall`: before their unit of work; `after`: after it, before answering) and prints `marker
   * <label>`: sends new requests until one lands there and stalls, then kills the process with -9. Returns that request.
   */
  async function killedWhileStalled(suffix: string, prefix: 'stall' | 'after', marker: string): Promise<{ key: string; label: string; nodeId: string }> {
    const nodeId = `${namespace}-${suffix}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.resolve('services/runtime/test/fixtures/tally-process.ts'), pg.url, namespace, NATS_URL, nodeId],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor(async () => out.includes('ready'), 30_000);
      await waitFor(async () => caller.broker.registry.nodes.get(nodeId)?.available === true);
      // Calls are balanced over three nodes: send new requests until one lands on the doomed node and stalls there.
      let stalled: { key: string; label: string } | undefined;
      for (let i = 0; i < 30 && !stalled; i++) {
        const attempt = { key: randomUUID(), label: uniqueName(prefix) };
        void add({ label: attempt.label }, attempt.key, { timeout: 20_000, retries: 0 }).catch(() => {});
        await waitFor(async () => out.includes(`${marker} ${attempt.label}`) || (await runs(attempt.label)).length > 0, 5_000, 20);
        if (out.includes(`${marker} ${attempt.label}`)) stalled = attempt;
      }
      return { ...defined(stalled, `a request stalled (${marker}) on the doomed node`), nodeId };
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }

  it('takes over the claim of a node killed with -9 within about a second, while the registry still lists it', async () => {
    const { key, label, nodeId } = await killedWhileStalled('doomed', 'stall', 'stalled');
    // The repeat (the retry the gateway would send): the registry still lists the dead node (heartbeats time out in
    // MOLECULER_HEARTBEAT_TIMEOUT), so the repeat waits, asks the owner, hears nothing, and takes the key over.
    expect(a.broker.registry.nodes.get(nodeId)?.available).toBe(true);
    const t0 = performance.now();
    const out2 = await add({ label }, key, { retries: 0 });
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect((await runs(label)).map((r) => r.run)).toEqual([out2.run]);
    expect(await add({ label }, key)).toEqual(out2);
  });

  it('never leaves an effect without its response: a node killed after its unit of work and before it answered applied nothing', async () => {
    // The unit's transaction is held open until the response is stored in it (idempotency.ts, Hold): the kill rolls
    // the effect back with it, and the repeat runs afresh instead of answering IDEMPOTENCY_RESPONSE_LOST.
    const { key, label } = await killedWhileStalled('doomed-after', 'after', 'unit done');
    const out2 = await add({ label }, key, { retries: 0 });
    expect((await runs(label)).map((r) => r.run)).toEqual([out2.run]);
    expect(await add({ label }, key)).toEqual(out2);
  });

  it('stores the response of a handler whose unit of work committed before it returned (released early)', async () => {
    const key = randomUUID();
    const label = uniqueName('released');
    const first = await add({ label }, key);
    expect(await add({ label }, key)).toEqual(first);
    expect((await runs(label)).map((r) => r.run)).toEqual([first.run]);
  });

  it('refuses a malformed key before anything runs', async () => {
    const label = uniqueName('bad');
    expect(await failure(add({ label }, 'has space'))).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(await runs(label)).toHaveLength(0);
  });
});

/** Runs the node's pruning of the tally service now (what its timer does every ten minutes). */
async function pruneOn(node: LmsNode): Promise<void> {
  await node.broker.call('tally.idempotency.prune', {}).catch((err: unknown) => {
    if (err instanceof Errors.MoleculerError) throw new Error(`prune failed: ${err.message}`);
    throw err;
  });
}
