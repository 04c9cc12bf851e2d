/**
 * Assessments at scale (issue 14), one LMS process (gateway, auth, users, courses, enrollments, assessments, attempts,
 * grades) beside the same SQL run straight through pg from this process:
 *   - autosave: PUT /api/v1/attempts/{id}/answers/{slot} at a fixed rate (open loop), each save with a rising `seq`;
 *   - deadline rush: N learners submit a 20-question quiz within one window (default 60 s), more of them towards its
 *     end; how long after the window's end the last attempt was graded;
 *   - the server's deadline: N attempts at a quiz with a 30 s time limit are left open; how long after its deadline
 *     each one was submitted and graded by the attempts service;
 *   - the gradebook grid (gradebook.ts: 2,000 learners × 50 items).
 * Learners, their course membership and their answers before the rush are seeded straight into PostgreSQL and their
 * access tokens signed with the auth service's key (a login per learner would be the setup's whole cost); the course,
 * questions and quizzes are authored, and every attempt started, through the gateway.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { importJWK, SignJWT } from 'jose';
import pg from 'pg';
import { args, benchStack, cpuTimes, f, freePort, memOf, root, SECONDS, start, table } from './common.ts';
import { gradebookBench } from './gradebook.ts';
import { percentile } from './load.ts';
import { http as req, waitFor } from '../test/support.ts';

const QUESTIONS = 20;
const CHOICES = ['a', 'b', 'c', 'd'];

interface Sample {
  ms: number[];
  errors: number;
  seconds: number;
  statuses: Map<number, number>;
}

/** `cpu`: CPU seconds (user + system) the LMS process spent during the run: per operation, a figure the machine's load moves less. */
const row = (name: string, s: Sample, memory: string, cpu?: number) => {
  const sorted = [...s.ms].sort((a, b) => a - b);
  const errors = s.errors ? `${s.errors} (${[...s.statuses].map(([status, n]) => `${n}× ${status || 'no answer'}`).join(', ')})` : 0;
  return [
    name,
    s.ms.length,
    f(s.ms.length / s.seconds, 1),
    f(percentile(sorted, 50), 2),
    f(percentile(sorted, 95), 2),
    f(percentile(sorted, 99), 2),
    errors,
    cpu === undefined ? '–' : f((cpu * 1000) / Math.max(1, s.ms.length + s.errors), 2),
    memory,
  ];
};
const HEAD = ['run', 'ops', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'LMS CPU ms/op', 'RSS MiB (peak)'];

/** One JSON request over a keep-alive agent; answers the status. */
function send(agent: http.Agent, base: URL, method: string, path: string, token: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method,
        agent,
        headers: { authorization: `Bearer ${token}`, ...(payload && { 'content-type': 'application/json' }) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    r.on('error', reject);
    r.end(payload);
  });
}

/**
 * Open loop: operation i starts at `dueMs[i]` after the start whatever the earlier ones are doing; its latency counts
 * from when it was due, so a generator or server that falls behind cannot hide the queueing.
 */
async function schedule(dueMs: number[], op: (i: number) => Promise<number>): Promise<Sample> {
  const s: Sample = { ms: [], errors: 0, seconds: 0, statuses: new Map() };
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (const [i, at] of dueMs.entries()) {
    const due = t0 + at;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const from = Math.min(due, performance.now());
    inflight.push(
      op(i).then(
        (status) => {
          if (status === 200) s.ms.push(performance.now() - from);
          else {
            s.errors++;
            s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
          }
        },
        () => {
          s.errors++;
          s.statuses.set(0, (s.statuses.get(0) ?? 0) + 1);
        },
      ),
    );
  }
  await Promise.all(inflight);
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** The rush's schedule: `n` submits within `seconds`, their density rising linearly towards the end (a deadline). */
const rushSchedule = (n: number, seconds: number) => Array.from({ length: n }, (_, i) => seconds * 1000 * Math.sqrt((i + 0.5) / n));

/** Bare SQL: what the attempts service does for one submit (lock, read the questions, score them in one UPDATE, close, two outbox rows). */
async function bareSubmit(db: pg.Pool, attemptId: string): Promise<void> {
  const c = await db.connect();
  try {
    await c.query('begin');
    const a = (await c.query('select * from attempts.attempts where id = $1 for update', [attemptId])).rows[0] as
      { quiz_id: string; user_id: string } | undefined;
    if (!a) throw new Error('no attempt');
    const qs = (
      await c.query<{ slot: number; body: { choices: Array<{ id: string; fraction: number }> }; response: { choiceId: string } | null; points: number }>(
        'select * from attempts.questions where attempt_id = $1 order by slot',
        [attemptId],
      )
    ).rows;
    let points = 0;
    const scored = qs.map((q) => {
      const fraction = q.body.choices.find((ch) => ch.id === q.response?.choiceId)?.fraction ?? 0;
      points += fraction * q.points;
      return { slot: q.slot, fraction, feedback: [] as string[] };
    });
    await c.query(
      `update attempts.questions q set fraction = v.fraction, feedback = v.feedback
         from jsonb_to_recordset($2::jsonb) as v(slot int, fraction double precision, feedback jsonb)
        where q.attempt_id = $1 and q.slot = v.slot`,
      [attemptId, JSON.stringify(scored)],
    );
    await c.query(`update attempts.attempts set state = 'graded', points = $2, submitted_at = now(), graded_at = now() where id = $1 returning *`, [
      attemptId,
      points,
    ]);
    await c.query(`select * from attempts.attempts where quiz_id = $1 and user_id = $2 and state = 'graded' and not preview order by number`, [
      a.quiz_id,
      a.user_id,
    ]);
    await c.query(`insert into bench_outbox (subject, payload) values ('submitted', $1), ('graded', $1)`, [JSON.stringify({ attemptId, points })]);
    await c.query('commit');
  } catch (err) {
    await c.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Bare SQL: one autosave, the statement the attempts service runs (share-lock the open attempt, write the answer if its seq is newer). */
async function bareSave(db: pg.Pool, attemptId: string, userId: string, slot: number, choiceId: string, seq: number): Promise<void> {
  const r = await db.query<{ open: boolean }>(
    `with open as (
       select id from attempts.attempts where id = $1 and user_id = $2 and state = 'in_progress' and (deadline is null or deadline > now()) for share
     ), saved as (
       update attempts.questions q set response = $4::jsonb, seq = $5, saved_at = now()
        where q.attempt_id in (select id from open) and q.slot = $3 and q.seq < $5 returning q.seq, q.saved_at
     )
     select exists (select 1 from open) as open, (select seq from saved) as applied_seq, cur.seq, cur.saved_at
       from (select 1) one left join attempts.questions cur on cur.attempt_id = $1 and cur.slot = $3`,
    [attemptId, userId, slot, JSON.stringify({ type: 'single', choiceId }), seq],
  );
  if (!r.rows[0]?.open) throw new Error('closed');
}

export async function assessmentsBench(): Promise<string> {
  const learners = Number(args.takers);
  const rushSeconds = Number(args.rush);
  const saveRate = Number(args['save-rate']);
  const phases = new Set((args.phases ?? '').split(','));
  const { pg: dbInfo, env, teardown } = await benchStack('auth,users,courses,enrollments,assessments,attempts,grades');
  const db = new pg.Pool({ connectionString: dbInfo.url, max: 10 });
  const out: string[] = [];
  try {
    const port = await freePort();
    const lms = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,enrollments,assessments,attempts,grades'], {
      ...env,
      PORT: String(port),
      NODE_ID: 'bench-assessments',
    });
    const base = `http://127.0.0.1:${port}`;
    const baseUrl = new URL(base);
    await waitFor(async () => (await req(base, 'GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200 || undefined, 90_000, 250);
    const ok = async (method: string, path: string, token: string, body?: unknown, status = 200) => {
      const r = await req(base, method, `/api/v1${path}`, body, token);
      if (r.status !== status) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body as Record<string, unknown>;
    };

    // Authoring through the gateway: a public course with one lesson, 20 single-choice questions, two quizzes.
    const teacher = String(
      (await ok('POST', '/auth/register', '', { email: 'bench-teacher@example.com', password: 'load test password', displayName: 'Teacher' }, 201)).accessToken,
    );
    const courseId = String((await ok('POST', '/courses', teacher, { title: 'Assessments bench', category: 'bench', visibility: 'public' }, 201)).id);
    const moduleId = String((await ok('POST', `/courses/${courseId}/modules`, teacher, { title: 'Week 1' }, 201)).id);
    await ok('POST', `/modules/${moduleId}/lessons`, teacher, { title: 'Read me', content: { type: 'markdown', body: '# Numbers' } }, 201);
    const bankId = String((await ok('POST', `/courses/${courseId}/question-banks`, teacher, { name: 'Bank' }, 201)).id);
    const slots: Array<{ from: 'fixed'; questionId: string; points: number }> = [];
    for (let i = 0; i < QUESTIONS; i++) {
      const q = await ok(
        'POST',
        `/question-banks/${bankId}/questions`,
        teacher,
        {
          title: `Q${i + 1}`,
          prompt: `What is ${i} + 1?`,
          body: {
            type: 'single',
            choices: CHOICES.map((id, j) => ({ id, text: String(i + j), fraction: j === 1 ? 1 : 0, feedback: j === 1 ? 'Right' : 'No' })),
          },
        },
        201,
      );
      slots.push({ from: 'fixed', questionId: String(q.id), points: 1 });
    }
    const quiz = async (title: string, timeLimitS: number | null) => {
      const id = String(
        (
          await ok(
            'POST',
            `/courses/${courseId}/quizzes`,
            teacher,
            { title, settings: { timeLimitS, attemptsAllowed: null }, sections: [{ title: '', slots }] },
            201,
          )
        ).id,
      );
      await ok('POST', `/quizzes/${id}/publish`, teacher);
      return id;
    };
    const rushQuiz = await quiz('Rush quiz', null);
    const timedQuiz = await quiz('Timed quiz (30 s)', 30);
    await ok('POST', `/courses/${courseId}/publish`, teacher);

    // Learners straight into PostgreSQL: users, course membership; tokens signed with auth's current key.
    const users = Array.from({ length: learners }, (_, i) => ({ id: randomUUID(), email: `bench-learner-${i}@example.com` }));
    await db.query(
      `insert into users.users (id, email, display_name, roles) select u.id, u.email, 'Learner', array['student'] from jsonb_to_recordset($1::jsonb) as u(id uuid, email text)`,
      [JSON.stringify(users)],
    );
    await db.query(
      `insert into courses.course_members (course_id, user_id, role) select $2, u.id, 'learner' from jsonb_to_recordset($1::jsonb) as u(id uuid)`,
      [JSON.stringify(users), courseId],
    );
    await db.query(
      'create table public.bench_outbox (id bigserial primary key, subject text not null, payload jsonb not null, created_at timestamptz not null default now())',
    );
    const k = (
      await db.query<{ kid: string; private_jwk: Record<string, unknown> }>('select kid, private_jwk from auth.signing_keys order by created_at desc limit 1')
    ).rows[0];
    if (!k) throw new Error('auth has no signing key');
    const key = await importJWK(k.private_jwk, 'EdDSA');
    const tokens = await Promise.all(
      users.map((u) =>
        new SignJWT({ email: u.email, roles: ['student'], sid: randomUUID(), amr: ['pwd'] })
          .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: 'JWT' })
          .setSubject(u.id)
          .setIssuer('lms')
          .setAudience('lms-api')
          .setIssuedAt()
          .setJti(randomUUID())
          .setExpirationTime('2h')
          .sign(key),
      ),
    );

    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    /** Starts an attempt per learner at `quizId` through the gateway, 16 at a time; answers their ids and the latencies. */
    const startAll = async (quizId: string) => {
      const ids: string[] = new Array<string>(learners);
      const ms: number[] = [];
      const t0 = performance.now();
      await pool(users, 16, async (_u, i) => {
        const t = performance.now();
        const r = await fetch(`${base}/api/v1/quizzes/${quizId}/attempts`, { method: 'POST', headers: { authorization: `Bearer ${tokens[i]}` } });
        const body = (await r.json()) as { id?: string };
        if (r.status !== 201 || !body.id) throw new Error(`start answered ${r.status}: ${JSON.stringify(body)}`);
        ids[i] = body.id;
        ms.push(performance.now() - t);
      });
      return { ids, sample: { ms, errors: 0, seconds: (performance.now() - t0) / 1000, statuses: new Map() } satisfies Sample };
    };
    const mem = () => {
      const m = memOf(lms.pid);
      return `${f(m.rss, 0)} (${f(m.peak, 0)})`;
    };

    // ---------------------------------------------------------------- starts, then autosave
    const rush = await startAll(rushQuiz);
    const startMem = mem();
    const attemptIds = rush.ids;
    let seq = 0;
    const saveOp = (i: number) => ({ a: i % learners, slot: 1 + (Math.floor(i / learners) % QUESTIONS), choice: CHOICES[i % 4] ?? 'a', seq: ++seq });
    const saveDue = Array.from({ length: Math.round(saveRate * SECONDS) }, (_, i) => (i * 1000) / saveRate);
    if (phases.has('autosave')) {
      // Warm-up: a second of saves through both paths (JIT, pools, the attempt shapes' cache).
      await schedule(saveDue.slice(0, saveRate), async (i) => {
        const o = saveOp(i);
        await bareSave(db, attemptIds[o.a] ?? '', users[o.a]?.id ?? '', o.slot, o.choice, o.seq);
        return 200;
      });
      await schedule(saveDue.slice(0, saveRate), async (i) => {
        const o = saveOp(i + learners * 7);
        const s = await send(agent, baseUrl, 'PUT', `/api/v1/attempts/${attemptIds[o.a]}/answers/${o.slot}`, tokens[o.a] ?? '', {
          response: { type: 'single', choiceId: o.choice },
          seq: o.seq,
        });
        return s;
      });
      const bareSaves = await schedule(saveDue, async (i) => {
        const o = saveOp(i);
        await bareSave(db, attemptIds[o.a] ?? '', users[o.a]?.id ?? '', o.slot, o.choice, o.seq);
        return 200;
      });
      const saveCpu0 = cpuTimes({ lms: lms.pid }).lms ?? 0;
      const lmsSaves = await schedule(saveDue, async (i) => {
        const o = saveOp(i);
        const s = await send(agent, baseUrl, 'PUT', `/api/v1/attempts/${attemptIds[o.a]}/answers/${o.slot}`, tokens[o.a] ?? '', {
          response: { type: 'single', choiceId: o.choice },
          seq: o.seq,
        });
        return s;
      });
      const saveCpu = (cpuTimes({ lms: lms.pid }).lms ?? 0) - saveCpu0;
      const saveMem = mem();
      out.push(
        table(`Autosave at a fixed ${saveRate} saves/s, ${SECONDS} s, over ${learners} open attempts (target p95 < 20 ms)`, HEAD, [
          row('bare SQL (pg: the same one statement: share-lock the open attempt, write the answer if its seq is newer)', bareSaves, '–'),
          row('LMS PUT /api/v1/attempts/{id}/answers/{slot} (with seq)', lmsSaves, saveMem, saveCpu),
        ]),
      );
    }

    // ---------------------------------------------------------------- the deadline rush
    if (phases.has('rush')) {
      // Every unanswered question answered (at random, a quarter right) as autosave would have left it.
      await db.query(
        `update attempts.questions q set response = jsonb_build_object('type', 'single', 'choiceId', (array['a','b','c','d'])[1 + floor(random() * 4)::int]), seq = 1, saved_at = now()
           from attempts.attempts a where a.id = q.attempt_id and a.quiz_id = $1 and q.response = 'null'::jsonb`,
        [rushQuiz],
      );
      const due = rushSchedule(learners, rushSeconds);
      // Baseline first, on the same attempts, which are then opened again for the LMS.
      const bareRush = await schedule(due, async (i) => {
        await bareSubmit(db, attemptIds[i] ?? '');
        return 200;
      });
      await db.query(`update attempts.attempts set state = 'in_progress', points = null, submitted_at = null, graded_at = null where quiz_id = $1`, [rushQuiz]);
      await db.query(
        `update attempts.questions q set fraction = null, feedback = 'null'::jsonb from attempts.attempts a where a.id = q.attempt_id and a.quiz_id = $1`,
        [rushQuiz],
      );
      const rushStarted = Date.now();
      const rushCpu0 = cpuTimes({ lms: lms.pid }).lms ?? 0;
      const lmsRush = await schedule(due, async (i) => send(agent, baseUrl, 'POST', `/api/v1/attempts/${attemptIds[i]}/submit`, tokens[i] ?? ''));
      const rushCpu = (cpuTimes({ lms: lms.pid }).lms ?? 0) - rushCpu0;
      const rushMem = mem();
      const windowEnd = rushStarted + rushSeconds * 1000;
      const graded = (
        await db.query<{ n: string; last: Date | null }>(
          `select count(*) as n, max(graded_at) as last from attempts.attempts where quiz_id = $1 and state = 'graded'`,
          [rushQuiz],
        )
      ).rows[0];
      const lastAfter = graded?.last ? (graded.last.getTime() - windowEnd) / 1000 : NaN;
      out.push(
        table(
          `Deadline rush: ${learners} learners submit a ${QUESTIONS}-question quiz within ${rushSeconds} s, rising towards the end (target p95 < 100 ms)`,
          HEAD,
          [
            row('bare SQL (pg: lock, read, one scoring UPDATE, close, two outbox rows)', bareRush, '–'),
            row('LMS POST /api/v1/attempts/{id}/submit', lmsRush, rushMem, rushCpu),
          ],
        ),
      );
      out.push(
        `${graded?.n ?? 0} of ${learners} rush attempts graded; the last ${f(lastAfter, 2)} s after the window closed (target: every attempt graded within 2 s of its deadline).` +
          ` Starting the ${learners} attempts (16 at a time, not a target): ${f(rush.sample.ms.length / rush.sample.seconds, 0)}/s, p95 ${f(
            percentile(
              [...rush.sample.ms].sort((a, b) => a - b),
              95,
            ),
            1,
          )} ms; RSS after the starts ${startMem} MiB.\n`,
      );
    }

    // ---------------------------------------------------------------- the server's deadline
    if (phases.has('deadline')) {
      const timed = await startAll(timedQuiz);
      await db.query(
        `update attempts.questions q set response = jsonb_build_object('type', 'single', 'choiceId', (array['a','b','c','d'])[1 + floor(random() * 4)::int]), seq = 1, saved_at = now()
           from attempts.attempts a where a.id = q.attempt_id and a.quiz_id = $1 and a.deadline > now()`,
        [timedQuiz],
      );
      await waitFor(
        async () =>
          Number(
            (await db.query<{ n: string }>(`select count(*) as n from attempts.attempts where quiz_id = $1 and state = 'in_progress'`, [timedQuiz])).rows[0]?.n,
          ) === 0 || undefined,
        180_000,
        500,
      );
      const deadlineMem = mem();
      const late = (
        await db.query<{ ms: number; state: string; auto: boolean }>(
          `select extract(epoch from (graded_at - deadline)) * 1000 as ms, state, auto from attempts.attempts where quiz_id = $1 order by 1`,
          [timedQuiz],
        )
      ).rows;
      const lateMs = late.map((r) => Number(r.ms)).sort((a, b) => a - b);
      const deadlines = (
        await db.query<{ first: Date; last: Date }>(`select min(deadline) as first, max(deadline) as last from attempts.attempts where quiz_id = $1`, [
          timedQuiz,
        ])
      ).rows[0];
      // Bare SQL: the same closing transactions back to back, two at a time (as the attempts service's worker runs).
      // Opened again without a deadline, so that the LMS's worker leaves them to the baseline.
      await db.query(
        `update attempts.attempts set state = 'in_progress', deadline = null, points = null, submitted_at = null, graded_at = null where quiz_id = $1`,
        [timedQuiz],
      );
      const bareT0 = performance.now();
      await pool(timed.ids, 2, async (id) => bareSubmit(db, id));
      const bareSeconds = (performance.now() - bareT0) / 1000;
      out.push(
        table(
          `The server's deadline: ${learners} attempts at a quiz with a 30 s time limit left open (deadlines ${f(((deadlines?.last.getTime() ?? 0) - (deadlines?.first.getTime() ?? 0)) / 1000, 1)} s apart, first to last); graded after the deadline`,
          ['run', 'attempts', 'p50 s', 'p95 s', 'p99 s', 'max s', 'over 2 s', 'RSS MiB (peak)'],
          [
            [
              'LMS attempts deadline worker (timer per deadline + 500 ms poll)',
              lateMs.length,
              f(percentile(lateMs, 50) / 1000, 2),
              f(percentile(lateMs, 95) / 1000, 2),
              f(percentile(lateMs, 99) / 1000, 2),
              f((lateMs.at(-1) ?? NaN) / 1000, 2),
              lateMs.filter((x) => x > 2000).length,
              deadlineMem,
            ],
            [`bare SQL: the same ${learners} closing transactions back to back, 2 at a time`, timed.ids.length, '–', '–', '–', f(bareSeconds, 2), '–', '–'],
          ],
        ),
      );
      out.push(
        `Bare SQL closes ${f(timed.ids.length / bareSeconds, 0)} attempts/s on 2 connections. ${late.filter((r) => r.auto).length} of ${late.length} LMS attempts were marked submitted by the server (auto).\n`,
      );
    }
    agent.destroy();
  } finally {
    await db.end().catch(() => undefined);
    await teardown();
  }
  if (phases.has('grid')) out.push(await gradebookBench());
  return out.join('\n');
}

const BEGIN = '<!-- assessments bench: begin (written by pnpm bench --only assessments) -->';
const END = '<!-- assessments bench: end -->';

/** Replaces the generated block of the "Assessments (issue 14)" section of docs/benchmarks.md (the prose around it stays). */
export function writeAssessmentsSection(part: string, when: string, machine: string, load: string): void {
  const file = path.join(root, 'docs/benchmarks.md');
  const doc = fs.readFileSync(file, 'utf8');
  const command = `pnpm bench --only assessments --takers ${args.takers} --rush ${args.rush} --save-rate ${args['save-rate']} --seconds ${args.seconds}`;
  const block = `${BEGIN}\nLatest \`${command}\` (${when}, ${machine}; load average before the run ${load}).\n\n${part}${END}`;
  const next = doc.includes(BEGIN)
    ? doc.slice(0, doc.indexOf(BEGIN)) + block + doc.slice(doc.indexOf(END) + END.length)
    : `${doc.trimEnd()}\n\n## Assessments (issue 14)\n\n${block}\n`;
  fs.writeFileSync(file, next);
}
