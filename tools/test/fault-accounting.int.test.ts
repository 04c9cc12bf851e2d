/**
 * The fault bench's accounting (tools/bench/faults-count.ts) on a database and streams written by hand: a clean
 * record counts nothing, and each kind of damage a fault can do — an event a consumer never applied, a state change
 * announced twice, a counter past its rows, an answered write that is not stored, an outbox row never published —
 * is counted as lost or duplicated. The bench's figures are only as good as this.
 */
import { randomUUID } from 'node:crypto';
import { migrateAll, openDatabase } from '@lms/runtime';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlog, countEffects } from '../bench/faults-count.ts';
import type { LoadRecord } from '../bench/faults-load.ts';
import { SERVICES } from '../services.ts';
import { dropStreams, NATS_URL, query, tempDatabase, uniqueName } from './support.ts';

let db: { url: string; drop(): Promise<void> };
let nc: NatsConnection;
const ns = uniqueName('acct');
const course = randomUUID();
const enrollments = [randomUUID(), randomUUID(), randomUUID()];
const users = [randomUUID(), randomUUID(), randomUUID()];
const noLoad: LoadRecord = { samples: [], enrolled: [], completed: [], enrolledDespiteError: 0 };

/** An event as a relay publishes it: the envelope as the body, its id as the message id. */
async function publish(subject: string, payload: Record<string, unknown>, id = randomUUID()): Promise<string> {
  const body = JSON.stringify({ id, subject, occurredAt: new Date().toISOString(), payload });
  await nc.jetstream().publish(subject.replace(/^lms\./, `${ns}.`), new TextEncoder().encode(body), { msgID: id });
  return id;
}
const created = (i: number) => ({ enrollmentId: enrollments[i], courseId: course, userId: users[i], promotedFromWaitlist: false });
const welcome = (i: number) => ({ userId: users[i], to: `l${i}@example.com`, template: 'enrollment_welcome', data: { enrollmentId: enrollments[i] } });
const applied = (consumer: string, eventId: string) =>
  query(db.url, `insert into analytics.processed_events (consumer, event_id) values ($1, $2)`, [consumer, eventId]);

beforeAll(async () => {
  db = await tempDatabase();
  const k = await openDatabase({ databaseUrl: db.url, dataDir: '' });
  await migrateAll(k, Object.values(SERVICES));
  await k.close();
  nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const domain of ['enrollment', 'notification'])
    await jsm.streams.add({ name: `${ns.toUpperCase()}_${domain.toUpperCase()}`, subjects: [`${ns}.${domain}.>`] });
  // The analytics projection's durable, named as the runtime names it (<service>-<group>__<subject>).
  await jsm.consumers.add(`${ns.toUpperCase()}_ENROLLMENT`, {
    durable_name: 'analytics-enrollments__lms_enrollment_created_v1',
    filter_subject: `${ns}.enrollment.created.v1`,
    ack_policy: AckPolicy.Explicit,
  });
  for (const [i, id] of enrollments.entries()) {
    await query(db.url, `insert into enrollments.enrollments (id, course_id, user_id, status, enrolled_at) values ($1, $2, $3, 'active', now())`, [
      id,
      course,
      users[i],
    ]);
    await applied('analytics-enrollments', await publish('lms.enrollment.created.v1', created(i)));
    await publish('lms.notification.requested.v1', welcome(i));
  }
  await query(db.url, `insert into enrollments.seats (course_id, capacity, taken) values ($1, 100, 3)`, [course]);
  await query(db.url, `insert into analytics.enrollments_by_course (course_id, enrolled) values ($1, 3)`, [course]);
});
afterAll(async () => {
  await nc?.close();
  await dropStreams(ns);
  await db?.drop();
});

describe('the fault bench counts effects from the database and the streams', () => {
  it('counts nothing lost or duplicated when every effect is there once', async () => {
    const load: LoadRecord = { ...noLoad, enrolled: enrollments.map((_, i) => ({ userId: users[i] ?? '', courseId: course })) };
    const fx = await countEffects(db.url, NATS_URL, ns, load);
    expect(fx).toMatchObject({ events: 6, pairs: 3, lost: 0, duplicated: 0, deadLetters: 0, details: [] });
  });

  it('counts an event a consumer never applied, and an answered enrolment that is not stored', async () => {
    await query(db.url, `delete from analytics.processed_events where event_id = (select event_id from analytics.processed_events limit 1)`);
    const fx = await countEffects(db.url, NATS_URL, ns, { ...noLoad, enrolled: [{ userId: randomUUID(), courseId: course }] });
    expect(fx.lost).toBe(2);
    expect(fx.details.join('\n')).toMatch(/lost: 1 consumer × event pairs never applied[\s\S]*lost: 1 answered enrolments not stored/);
  });

  it('counts an enrolment announced twice, projected twice and given two seats as duplicated', async () => {
    await applied('analytics-enrollments', await publish('lms.enrollment.created.v1', created(0)));
    await query(db.url, `update analytics.enrollments_by_course set enrolled = 4`);
    await query(db.url, `update enrollments.seats set taken = 4`);
    const fx = await countEffects(db.url, NATS_URL, ns, noLoad);
    expect(fx.duplicated).toBe(3);
    expect(fx.details.filter((d) => d.startsWith('duplicated'))).toEqual([
      'duplicated: 1 enrolments announced more than once',
      `duplicated: 1 seats taken in course ${course} beyond its enrolments`,
      `duplicated: 1 enrolments counted twice by analytics (course ${course})`,
    ]);
  });

  it('counts an outbox row never published as lost, and as work left for the drain', async () => {
    // Nothing pulls the durable here: its four events are still pending, and count as work in flight.
    expect(await backlog(db.url, NATS_URL, ns)).toBe(4);
    await query(db.url, `insert into courses.outbox (id, subject, payload) values ($1, 'lms.course.published.v1', '{}')`, [randomUUID()]);
    const fx = await countEffects(db.url, NATS_URL, ns, noLoad);
    expect(fx.details).toContain('lost: 1 rows never published from courses.outbox');
    expect(await backlog(db.url, NATS_URL, ns)).toBe(5);
  });
});
