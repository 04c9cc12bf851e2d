/**
 * The fault bench's accounting, from the database and the streams (never from what clients were told alone):
 * every event in the namespace's streams against every consumer that should have applied it, the state changes
 * against the events that announce them, projections and counters against the rows they count, and the writes
 * clients were told succeeded against the rows that hold them.
 */
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { WORK_QUEUES } from '../test/support.ts';
import type { LoadRecord } from './faults-load.ts';

export interface Effects {
  /** Stream messages read, and consumer × event pairs checked against processed_events. */
  events: number;
  pairs: number;
  /** Lost: pairs never applied (dead-lettered ones too: in this bench every event is valid, so a dead letter is a fault's casualty until an operator replays it), state changes without their event, answered writes not stored, outbox rows never published. */
  lost: number;
  /** Duplicated: an effect announced or counted twice (two events for one state change, a counter past its rows, one message id stored twice). */
  duplicated: number;
  deadLetters: number;
  /** What the lost and duplicated effects were, for the report. */
  details: string[];
}

interface Envelope {
  id: string;
  subject: string;
  payload: Record<string, unknown>;
}

/** Every message of a stream, in order (an ordered consumer from the first sequence). */
async function readStream(nc: NatsConnection, stream: string): Promise<Array<{ subject: string; env: Envelope }>> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: Array<{ subject: string; env: Envelope }> = [];
  if (info.state.messages === 0) return out;
  const consumer = await nc.jetstream().consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({ subject: m.subject, env: JSON.parse(new TextDecoder().decode(m.data)) as Envelope });
    if (m.info.streamSequence >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}

/** Rows still waiting to leave: outboxes, due background work, sagas not settled. Zero when the mesh is idle. */
export async function backlog(databaseUrl: string, natsUrl: string, ns: string): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  let n = 0;
  try {
    const tables = new Set((await c.query<{ t: string }>(`select table_schema || '.' || table_name as t from information_schema.tables`)).rows.map((r) => r.t));
    const counts = [
      ...[...tables].filter((t) => t.endsWith('.outbox')).map((t) => `select count(*)::int as n from ${t}`),
      ...WORK_QUEUES.filter((q) => tables.has(q.table)).map((q) => `select count(*)::int as n from ${q.table} where ${q.where}`),
      `select count(*)::int as n from enrollments.sagas where status = 'running'`,
    ];
    n += (await c.query<{ n: number }>(counts.join(' union all '))).rows.reduce((s, r) => s + r.n, 0);
  } finally {
    await c.end();
  }
  const nc = await connect({ servers: natsUrl, reconnect: false });
  try {
    const jsm = await nc.jetstreamManager();
    for (const stream of await jsm.streams.names().next()) {
      if (!stream.startsWith(`${ns.toUpperCase()}_`)) continue;
      for (const ci of await jsm.consumers.list(stream).next()) if (ci.config.durable_name) n += ci.num_pending + ci.num_ack_pending;
    }
  } finally {
    await nc.close();
  }
  return n;
}

export async function countEffects(databaseUrl: string, natsUrl: string, ns: string, load: LoadRecord): Promise<Effects> {
  const fx: Effects = { events: 0, pairs: 0, lost: 0, duplicated: 0, deadLetters: 0, details: [] };
  const lost = (n: number, what: string) => {
    if (n > 0) fx.details.push(`lost: ${n} ${what}`);
    fx.lost += n;
  };
  const dup = (n: number, what: string) => {
    if (n > 0) fx.details.push(`duplicated: ${n} ${what}`);
    fx.duplicated += n;
  };
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const nc = await connect({ servers: natsUrl, reconnect: false });
  try {
    const q = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await db.query<R>(text, params)).rows;
    const jsm = await nc.jetstreamManager();
    const prefix = `${ns.toUpperCase()}_`;
    const streams = (await jsm.streams.names().next()).filter((s) => s.startsWith(prefix));
    const dlq = `${prefix}DLQ`;

    // Dead letters: (consumer, event id) pairs that a consumer gave up on, for an operator to replay.
    const deadLettered = new Set<string>();
    if (streams.includes(dlq)) {
      for (const m of await readStream(nc, dlq)) deadLettered.add(`${m.subject.slice(`${ns}.dlq.`.length)}|${m.env.id}`);
    }
    fx.deadLetters = deadLettered.size;
    if (fx.deadLetters) fx.details.push(`dead-lettered: ${fx.deadLetters} consumer × event pairs (counted as lost until replayed)`);

    const bySubject = new Map<string, Envelope[]>();
    const seenIds = new Map<string, number>();
    const applied = new Map<string, Set<string>>();
    const appliedOf = async (schema: string) => {
      let set = applied.get(schema);
      if (!set) {
        const rows = await q<{ k: string }>(`select consumer || '|' || event_id as k from ${schema}.processed_events`);
        set = new Set(rows.map((r) => r.k));
        applied.set(schema, set);
      }
      return set;
    };
    for (const stream of streams.filter((s) => s !== dlq)) {
      const messages = await readStream(nc, stream);
      fx.events += messages.length;
      for (const m of messages) {
        seenIds.set(m.env.id, (seenIds.get(m.env.id) ?? 0) + 1);
        const list = bySubject.get(m.env.subject) ?? [];
        list.push(m.env);
        bySubject.set(m.env.subject, list);
      }
      // Every durable consumer of the stream must have applied every message its filter selects, exactly once
      // (processed_events is keyed by consumer and event id, so "once" is the other checks' job).
      let missing = 0;
      for (const ci of await jsm.consumers.list(stream).next()) {
        // The services' durables are named <service>-<group>__<subject>; anything else (this bench's readers) is not theirs.
        if (!ci.config.durable_name?.includes('__')) continue;
        const consumer = ci.name.split('__')[0] ?? ci.name;
        const schema = consumer.split('-')[0] ?? consumer;
        const done = await appliedOf(schema);
        for (const m of messages) {
          if (m.subject !== ci.config.filter_subject) continue;
          fx.pairs++;
          const k = `${consumer}|${m.env.id}`;
          if (!done.has(k)) missing++;
        }
      }
      lost(missing, `consumer × event pairs never applied in ${stream}`);
    }
    dup([...seenIds.values()].filter((n) => n > 1).length, 'message ids stored twice in a stream (deduplication missed)');

    const outbox = (await q<{ t: string }>(`select table_schema || '.' || table_name as t from information_schema.tables where table_name = 'outbox'`)).map(
      (r) => r.t,
    );
    for (const t of outbox) lost(Number((await q<{ n: number }>(`select count(*)::int as n from ${t}`))[0]?.n ?? 0), `rows never published from ${t}`);

    // Each state change against the event that announces it: none is lost, two are a double effect.
    const countBy = (subject: string, key: (p: Record<string, unknown>) => string) => {
      const m = new Map<string, number>();
      for (const e of bySubject.get(subject) ?? []) m.set(key(e.payload), (m.get(key(e.payload)) ?? 0) + 1);
      return m;
    };
    const compare = (rows: string[], events: Map<string, number>, what: string) => {
      const stored = new Set(rows);
      lost(rows.filter((k) => !events.has(k)).length, `${what} without their event`);
      dup([...events.values()].filter((n) => n > 1).length, `${what} announced more than once`);
      dup([...events.keys()].filter((k) => !stored.has(k)).length, `${what} announced but not stored`);
    };
    const live = await q<{ id: string; course_id: string; user_id: string; status: string }>(
      `select id, course_id, user_id, status from enrollments.enrollments where status in ('active', 'completed')`,
    );
    compare(
      live.map((r) => r.id),
      countBy('lms.enrollment.created.v1', (p) => String(p.enrollmentId)),
      'enrolments',
    );
    const welcome = new Map<string, number>();
    for (const e of bySubject.get('lms.notification.requested.v1') ?? []) {
      const data = e.payload.data as Record<string, unknown> | undefined;
      if (e.payload.template === 'enrollment_welcome' && data) welcome.set(String(data.enrollmentId), (welcome.get(String(data.enrollmentId)) ?? 0) + 1);
    }
    compare(
      live.map((r) => r.id),
      welcome,
      'enrolment welcome mails',
    );
    const modules = await q<{ k: string }>(`select enrollment_id || '|' || module_id as k from enrollments.module_completions`);
    compare(
      modules.map((r) => r.k),
      countBy('lms.enrollment.module_completed.v1', (p) => `${String(p.enrollmentId)}|${String(p.moduleId)}`),
      'module completions',
    );
    const completedCourses = live.filter((r) => r.status === 'completed').map((r) => r.id);
    compare(
      completedCourses,
      countBy('lms.enrollment.course_completed.v1', (p) => String(p.enrollmentId)),
      'course completions',
    );

    // Counters against the rows they count: a seat taken twice, or an enrolment projected twice, shows here.
    for (const r of await q<{ course_id: string; taken: number; held: number }>(
      `select s.course_id, s.taken, (select count(*)::int from enrollments.enrollments e where e.course_id = s.course_id and e.status in ('active', 'completed')) as held
         from enrollments.seats s where s.capacity is not null`,
    )) {
      if (r.taken > r.held) dup(r.taken - r.held, `seats taken in course ${r.course_id} beyond its enrolments`);
      if (r.taken < r.held) lost(r.held - r.taken, `seats not counted in course ${r.course_id}`);
    }
    const projected = new Map(
      (await q<{ course_id: string; enrolled: number }>(`select course_id, enrolled from analytics.enrollments_by_course`)).map((r) => [
        r.course_id,
        r.enrolled,
      ]),
    );
    const heldBy = new Map<string, number>();
    for (const r of live) heldBy.set(r.course_id, (heldBy.get(r.course_id) ?? 0) + 1);
    for (const [course, held] of heldBy) {
      const n = projected.get(course) ?? 0;
      if (n > held) dup(n - held, `enrolments counted twice by analytics (course ${course})`);
      if (n < held) lost(held - n, `enrolments analytics never counted (course ${course})`);
    }

    // What clients were told succeeded must be in the database.
    const liveKeys = new Set(
      (await q<{ k: string }>(`select course_id || '|' || user_id as k from enrollments.enrollments where status <> 'dropped' and status <> 'failed'`)).map(
        (r) => r.k,
      ),
    );
    lost(load.enrolled.filter((e) => !liveKeys.has(`${e.courseId}|${e.userId}`)).length, 'answered enrolments not stored');
    const progress = new Set(
      (
        await q<{ k: string }>(
          `select e.user_id || '|' || p.lesson_id as k from enrollments.lesson_progress p join enrollments.enrollments e on e.id = p.enrollment_id`,
        )
      ).map((r) => r.k),
    );
    lost(load.completed.filter((c) => !progress.has(`${c.userId}|${c.lessonId}`)).length, 'answered lesson completions not stored');
  } finally {
    await db.end();
    await nc.close();
  }
  return fx;
}
