/**
 * The learning core in embedded mode: content hierarchy and ordering, the publishing workflow with
 * versions learners see, sanitised Markdown, the catalogue, enrolment, progress, sequential unlocks,
 * prerequisites, completion, dashboard and roster.
 */
import { createEnrollmentsService, freePayments, type PaymentProvider } from '@lms/enrollments';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http, waitFor } from './support.ts';

let node: LmsNode;
let base: string;
const pw = 'learning core password';
let teacher: string;
let learner: string;
let learnerId: string;
let other: string;
/** The payment provider the enrollments service of this node uses (injected; the payment tests swap it). */
let payments: PaymentProvider = freePayments;
const usePaymentProvider = (p: PaymentProvider) => {
  payments = p;
};

beforeAll(async () => {
  process.env.RATE_LIMIT_AUTH_PER_MINUTE = '1000';
  // Read when the node starts: payments that hang time out fast (free and failing ones answer at once).
  process.env.ENROLLMENT_PAYMENT_TIMEOUT_MS = '200';
  const enrollments = createEnrollmentsService({ payments: { charge: (req) => payments.charge(req) } });
  node = await startNode(Object.values({ ...SERVICES, enrollments }), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  const reg = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: email.split('@')[0] })).body;
  const admin = await reg('admin@learn.test');
  const t = await reg('teacher@learn.test');
  await http(base, 'POST', `/api/v1/users/${t.user.id}/roles`, { role: 'instructor' }, admin.accessToken);
  teacher = (await http(base, 'POST', '/api/v1/auth/login', { email: 'teacher@learn.test', password: pw })).body.accessToken;
  const l = await reg('learner@learn.test');
  learner = l.accessToken;
  learnerId = l.user.id;
  other = (await reg('other@learn.test')).accessToken;
});
afterAll(async () => {
  delete process.env.RATE_LIMIT_AUTH_PER_MINUTE;
  delete process.env.ENROLLMENT_PAYMENT_TIMEOUT_MS;
  await node?.stop();
});

const as = (token: string) => ({
  get: (url: string) => http(base, 'GET', `/api/v1${url}`, undefined, token),
  post: (url: string, body: unknown = {}) => http(base, 'POST', `/api/v1${url}`, body, token),
  patch: (url: string, body: unknown) => http(base, 'PATCH', `/api/v1${url}`, body, token),
  del: (url: string) => http(base, 'DELETE', `/api/v1${url}`, undefined, token),
});

async function buildCourse(title: string, extra: Record<string, unknown> = {}) {
  const t = as(teacher);
  const c = (await t.post('/courses', { title, category: 'science', summary: `${title} summary`, tags: ['Physics'], level: 'beginner', ...extra })).body;
  const m1 = (await t.post(`/courses/${c.id}/modules`, { title: 'Basics' })).body;
  const m2 = (await t.post(`/courses/${c.id}/modules`, { title: 'Advanced' })).body;
  const l1 = (
    await t.post(`/modules/${m1.id}/lessons`, {
      title: 'Intro',
      content: {
        type: 'markdown',
        body: '# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **bold** <img src=x onerror=alert(1)> [ok](https://example.org)',
      },
    })
  ).body;
  const l2 = (await t.post(`/modules/${m1.id}/lessons`, { title: 'Reading', content: { type: 'link', url: 'https://example.org/read' } })).body;
  const l3 = (await t.post(`/modules/${m2.id}/lessons`, { title: 'Deep dive', content: { type: 'markdown', body: 'deep' } })).body;
  return { c, m1, m2, l1, l2, l3 };
}

describe('content and publishing', () => {
  it('keeps learners on the published version while instructors edit the working copy', async () => {
    const t = as(teacher);
    const { c, m1, l1, l2 } = await buildCourse('Mechanics');
    expect(l1.html).toContain('<h1>Hi</h1>');
    expect(l1.html).toContain('<strong>bold</strong>');
    expect(l1.html).not.toMatch(/<script|href="javascript|onerror/);
    expect(l1.html).toContain('<a href="https://example.org" rel="noopener noreferrer nofollow" target="_blank">ok</a>');
    // Draft: invisible to learners, in the catalogue or by id.
    expect((await as(learner).get(`/courses/${c.id}/content`)).status).toBe(404);
    expect((await t.post(`/courses/${c.id}/submit-for-review`)).body.status).toBe('in_review');
    const pub = await t.post(`/courses/${c.id}/publish`);
    expect(pub.body).toMatchObject({ status: 'published', version: 1, hasUnpublishedChanges: false });

    await t.patch(`/lessons/${l1.id}`, { title: 'Intro (new)' });
    await t.post(`/modules/${m1.id}/lessons`, { title: 'Unpublished', content: { type: 'markdown', body: 'soon' } });
    const seen = (await as(learner).get(`/courses/${c.id}/content`)).body;
    expect(seen.version).toBe(1);
    expect(seen.course.hasUnpublishedChanges).toBe(false); // learners learn nothing of unpublished edits
    expect(seen.modules[0].lessons.map((l: { title: string }) => l.title)).toEqual(['Intro', 'Reading']);
    expect((await as(learner).get(`/courses/${c.id}/content?version=draft`)).status).toBe(403);
    const draft = (await t.get(`/courses/${c.id}/content?version=draft`)).body;
    expect(draft.modules[0].lessons.map((l: { title: string }) => l.title)).toEqual(['Intro (new)', 'Reading', 'Unpublished']);
    expect(draft.course.hasUnpublishedChanges).toBe(true);

    // Reorder moves one row: Reading first, then into the other module.
    const moved = await t.post(`/courses/${c.id}/reorder`, { lessonId: l2.id, after: null });
    expect(moved.status).toBe(200);
    const again = (await t.get(`/courses/${c.id}/content?version=draft`)).body;
    expect(again.modules[0].lessons.map((l: { title: string }) => l.title)).toEqual(['Reading', 'Intro (new)', 'Unpublished']);

    expect((await t.post(`/courses/${c.id}/publish`)).body.version).toBe(2);
    expect((await as(learner).get(`/courses/${c.id}/content`)).body.modules[0].lessons).toHaveLength(3);
  });

  it('refuses module requirements that form a cycle, when written and at publish', async () => {
    const t = as(teacher);
    const { c, m1, m2 } = await buildCourse('Cyclic');
    const m3 = (await t.post(`/courses/${c.id}/modules`, { title: 'Expert', requires: [m2.id] })).body;
    expect((await t.patch(`/modules/${m2.id}`, { requires: [m1.id] })).status).toBe(200);
    // Basics → Expert → Advanced → Basics: never completable.
    const r = await t.patch(`/modules/${m1.id}`, { requires: [m3.id] });
    expect([r.status, r.body.error.code]).toEqual([422, 'VALIDATION_FAILED']);
    expect(r.body.error.message).toContain('"Basics" → "Expert" → "Advanced" → "Basics"');
    expect(r.body.error.details.cycle).toEqual([m1.id, m3.id, m2.id, m1.id]);
    const self = await t.patch(`/modules/${m1.id}`, { requires: [m1.id] });
    expect(self.status).toBe(422);
    // Advanced (second) requires Basics... and Basics the later Advanced: fine until the course is made sequential,
    // where each module also waits for the one before it. Publishing then refuses.
    expect((await t.patch(`/modules/${m2.id}`, { requires: [] })).status).toBe(200);
    expect((await t.patch(`/modules/${m1.id}`, { requires: [m2.id] })).status).toBe(200);
    expect((await t.patch(`/courses/${c.id}`, { sequential: true })).status).toBe(200);
    const pub = await t.post(`/courses/${c.id}/publish`);
    expect([pub.status, pub.body.error.code]).toEqual([409, 'CONFLICT']);
    expect(pub.body.error.message).toContain('"Basics" → "Advanced" → "Basics"');
    expect((await t.patch(`/courses/${c.id}`, { sequential: false })).status).toBe(200);
    expect((await t.post(`/courses/${c.id}/publish`)).status).toBe(200);
  });

  it('lists only published public courses in the catalogue, filtered and paged', async () => {
    const t = as(teacher);
    const a = await buildCourse('Optics', { tags: ['light'], language: 'fr' });
    await t.post(`/courses/${a.c.id}/publish`);
    const hidden = await buildCourse('Secret', { visibility: 'unlisted' });
    await t.post(`/courses/${hidden.c.id}/publish`);
    const cat = (await as(learner).get('/catalog?tag=light')).body;
    if (!cat.items) throw new Error(JSON.stringify(cat));
    expect(cat.items.map((c: { title: string }) => c.title)).toEqual(['Optics']);
    expect((await as(learner).get('/catalog?language=fr')).body.items).toHaveLength(1);
    const all = (await as(learner).get('/catalog?sort=title&limit=1')).body;
    expect(all.items).toHaveLength(1);
    const next = (await as(learner).get(`/catalog?sort=title&limit=1&cursor=${all.nextCursor}`)).body;
    expect(next.items[0].title > all.items[0].title).toBe(true);
    expect((await as(learner).get('/catalog')).body.items.map((c: { title: string }) => c.title)).not.toContain('Secret');
  });
});

describe('what others see of a course', () => {
  it('lists for non-members only public published courses, as published; learners their courses; staff the working copy', async () => {
    const t = as(teacher);
    const pub = await buildCourse('Seen public');
    await t.post(`/courses/${pub.c.id}/publish`);
    expect((await t.patch(`/courses/${pub.c.id}`, { title: 'Seen public (unpublished edit)', summary: 'secret plans' })).status).toBe(200);
    const priv = await buildCourse('Seen private', { visibility: 'private' });
    await t.post(`/courses/${priv.c.id}/publish`);
    const unlisted = await buildCourse('Seen unlisted', { visibility: 'unlisted' });
    await t.post(`/courses/${unlisted.c.id}/publish`);
    const draft = await buildCourse('Seen draft');
    const titles = async (token: string) => {
      const items = (await as(token).get('/courses?limit=100')).body.items as Array<{ id: string; title: string; summary: string }>;
      return new Map(items.filter((c) => [pub.c.id, priv.c.id, unlisted.c.id, draft.c.id].includes(c.id)).map((c) => [c.id, `${c.title} / ${c.summary}`]));
    };
    // A stranger: the public course only, as it was published.
    expect([...(await titles(other)).values()]).toEqual(['Seen public / Seen public summary']);
    const one = (await as(other).get(`/courses/${pub.c.id}`)).body;
    expect([one.title, one.summary, one.hasUnpublishedChanges]).toEqual(['Seen public', 'Seen public summary', false]);
    expect((await as(other).get(`/courses/${priv.c.id}`)).status).toBe(404);
    // A learner of the private course sees it too (its published version).
    expect((await t.post(`/courses/${priv.c.id}/enrollments/bulk`, { csv: 'learner@learn.test' })).body.summary.enrolled).toBe(1);
    await waitFor(async () => (await titles(learner)).has(priv.c.id));
    expect((await titles(learner)).get(priv.c.id)).toBe('Seen private / Seen private summary');
    expect((await titles(learner)).get(pub.c.id)).toBe('Seen public / Seen public summary');
    // The teacher: everything, as it stands.
    const mine = await titles(teacher);
    expect(mine.get(pub.c.id)).toBe('Seen public (unpublished edit) / secret plans');
    expect(mine.size).toBe(4);
    // Archived (out of the catalogue): its learners still see it, from its snapshot, and strangers do not.
    await t.patch(`/courses/${priv.c.id}`, { title: 'Seen private (edited)' });
    expect((await t.post(`/courses/${priv.c.id}/archive`)).status).toBe(200);
    expect((await titles(learner)).get(priv.c.id)).toBe('Seen private / Seen private summary');
    expect((await as(learner).get(`/courses/${priv.c.id}`)).body).toMatchObject({ title: 'Seen private', status: 'archived' });
    expect((await titles(other)).has(priv.c.id)).toBe(false);
  });

  it('shows the catalogue to anonymous visitors: public published courses only, as published', async () => {
    const t = as(teacher);
    const open = await buildCourse('Anon catalogue');
    await t.post(`/courses/${open.c.id}/publish`);
    await t.patch(`/courses/${open.c.id}`, { title: 'Anon catalogue (unpublished edit)' });
    const closing = await buildCourse('Soon private');
    await t.post(`/courses/${closing.c.id}/publish`);
    const r = await http(base, 'GET', '/api/v1/catalog?limit=100');
    expect(r.status).toBe(200);
    const seen = r.body.items.map((c: { title: string }) => c.title);
    expect(seen).toContain('Anon catalogue');
    expect(seen).toContain('Soon private');
    expect(seen.join()).not.toMatch(/unpublished edit|Seen private|Seen unlisted|Seen draft/);
    // Made private (not yet republished): out of the catalogue at once.
    await t.patch(`/courses/${closing.c.id}`, { visibility: 'private' });
    expect((await http(base, 'GET', '/api/v1/catalog?limit=100')).body.items.map((c: { title: string }) => c.title)).not.toContain('Soon private');
  });
});

describe('enrolment and progress', () => {
  it('enrols, enforces the sequential unlock, completes modules and the course, and shows it on the dashboard and roster', async () => {
    const t = as(teacher);
    const { c, m1, l1, l2, l3 } = await buildCourse('Thermo', { sequential: true });
    await t.post(`/courses/${c.id}/publish`);
    const e = await as(learner).post(`/courses/${c.id}/enrollments`);
    expect(e.status).toBe(201);
    expect(e.body.status).toBe('active');
    expect((await as(learner).post(`/courses/${c.id}/enrollments`)).status).toBe(409);

    const locked = await as(learner).post(`/lessons/${l3.id}/complete`);
    expect([locked.status, locked.body.error.code]).toEqual([409, 'LESSON_LOCKED']);
    await as(learner).post(`/lessons/${l1.id}/complete`);
    const p = (await as(learner).post(`/lessons/${l2.id}/complete`)).body;
    expect(p.modules[0]).toMatchObject({ id: m1.id, complete: true });
    expect(p.modules[1].unlocked).toBe(true);
    expect(p.nextLesson.id).toBe(l3.id);
    const dash = (await as(learner).get('/me/dashboard')).body.courses.find((x: { courseId: string }) => x.courseId === c.id);
    expect(dash).toMatchObject({ title: 'Thermo', nextLesson: { id: l3.id }, status: 'active' });
    expect(dash.percent).toBeCloseTo(66.7, 0);
    const done = (await as(learner).post(`/lessons/${l3.id}/complete`)).body;
    expect(done.percent).toBe(100);
    expect(done.completedAt).toBeTruthy();
    const roster = (await t.get(`/courses/${c.id}/roster`)).body.items;
    expect(roster).toEqual([
      expect.objectContaining({ userId: learnerId, displayName: 'learner', email: 'learner@learn.test', status: 'completed', percent: 100 }),
    ]);
    expect((await as(other).get(`/courses/${c.id}/roster`)).status).toBe(403);
    // The learner became a course member; the enrollment's history tells its story.
    const h = (await as(learner).get(`/enrollments/${e.body.id}`)).body.history.map((x: { status: string }) => x.status);
    expect(h).toEqual(['pending', 'active', 'completed']);
  });

  it('refuses a course whose prerequisites are not completed, and closed enrolment windows', async () => {
    const t = as(teacher);
    const first = await buildCourse('Prereq one');
    await t.post(`/courses/${first.c.id}/publish`);
    const second = await buildCourse('Needs one', { prerequisites: [first.c.id] });
    await t.post(`/courses/${second.c.id}/publish`);
    const r = await as(other).post(`/courses/${second.c.id}/enrollments`);
    expect([r.status, r.body.error.code]).toEqual([409, 'PREREQUISITES_NOT_MET']);
    const closed = await buildCourse('Closed', {
      enrollClosesAt: new Date(Date.now() - 60_000).toISOString(),
      enrollOpensAt: new Date(Date.now() - 120_000).toISOString(),
    });
    await t.post(`/courses/${closed.c.id}/publish`);
    expect((await as(other).post(`/courses/${closed.c.id}/enrollments`)).body.error.code).toBe('ENROLLMENT_CLOSED');
    const draft = await buildCourse('Draft only');
    expect((await as(other).post(`/courses/${draft.c.id}/enrollments`)).body.error.code).toBe('COURSE_NOT_FOUND');
  });

  it('stores nothing for an enrolment in a course that does not exist, or that the caller cannot see', async () => {
    const t = as(teacher);
    const priv = await buildCourse('Hidden private', { visibility: 'private' });
    await t.post(`/courses/${priv.c.id}/publish`);
    const draft = await buildCourse('Hidden draft');
    const ghost = '00000000-0000-4000-8000-0000000000ee';
    for (const courseId of [ghost, ghost, priv.c.id, draft.c.id]) {
      const r = await as(other).post(`/courses/${courseId}/enrollments`);
      expect([r.status, r.body.error?.code]).toEqual([404, 'COURSE_NOT_FOUND']);
    }
    const mine = (await as(other).get('/me/enrollments?limit=100')).body.items.map((e: { courseId: string }) => e.courseId);
    expect(mine.filter((id: string) => [ghost, priv.c.id, draft.c.id].includes(id))).toEqual([]);
  });

  it('waitlists past capacity and promotes the first in line when a seat frees', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Tiny', { capacity: 1 });
    await t.post(`/courses/${c.id}/publish`);
    expect((await as(learner).post(`/courses/${c.id}/enrollments`)).body.status).toBe('active');
    const w = await as(other).post(`/courses/${c.id}/enrollments`);
    expect(w.body).toMatchObject({ status: 'waitlisted', waitlistPosition: 1 });
    expect((await as(learner).del(`/courses/${c.id}/enrollments/me`)).body.status).toBe('dropped');
    await waitFor(async () => (await as(other).get(`/enrollments/${w.body.id}`)).body.enrollment.status === 'active');
  });

  it('enrols in bulk from CSV with a report per row', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Bulk', { capacity: 2 });
    await t.post(`/courses/${c.id}/publish`);
    const csv = 'name,email\nL,learner@learn.test\nO,other@learn.test\nX,nobody@learn.test\nY,not-an-email\nZ,admin@learn.test\n';
    const r = await t.post(`/courses/${c.id}/enrollments/bulk`, { csv });
    expect(r.status).toBe(200);
    expect(r.body.rows.map((x: { outcome: string }) => x.outcome)).toEqual(['enrolled', 'enrolled', 'unknown_user', 'invalid', 'waitlisted']);
    expect(r.body.summary).toMatchObject({ enrolled: 2, waitlisted: 1, unknown_user: 1, invalid: 1 });
    expect((await as(learner).post(`/courses/${c.id}/enrollments/bulk`, { csv })).status).toBe(403);
  });
  it('parses bulk CSV per RFC 4180 and neutralises every echoed cell against formula injection', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Bulk RFC 4180');
    await t.post(`/courses/${c.id}/publish`);
    // Quoted commas, doubled quotes, a line break inside quotes, CRLF; the email column is not the first.
    const csv = [
      'name,email,note',
      '"Lopez, Maria",learner@learn.test,"said ""hi"""',
      '"Two\r\nlines",other@learn.test,x',
      'Evil,"=HYPERLINK(""http://evil.test"",""x"")@x.io",x',
      'Plus,+1@evil.test,x',
      'At,@SUM(A1),x',
      'Tab,"\tcmd@evil.test",x',
      '',
    ].join('\r\n');
    const r = await t.post(`/courses/${c.id}/enrollments/bulk`, { csv });
    expect(r.status).toBe(200);
    expect(r.body.rows.map((x: { line: number; email: string; outcome: string }) => [x.line, x.email, x.outcome])).toEqual([
      [2, 'learner@learn.test', 'enrolled'],
      [3, 'other@learn.test', 'enrolled'],
      [5, `'=hyperlink("http://evil.test","x")@x.io`, 'unknown_user'],
      [6, "'+1@evil.test", 'unknown_user'],
      [7, "'@sum(a1)", 'invalid'],
      [8, 'cmd@evil.test', 'unknown_user'],
    ]);
  });

  it('completes a video lesson only once it was watched far enough', async () => {
    const t = as(teacher);
    const c = (await t.post('/courses', { title: 'Video course', category: 'media' })).body;
    const m = (await t.post(`/courses/${c.id}/modules`, { title: 'Watch' })).body;
    const v = (
      await t.post(`/modules/${m.id}/lessons`, {
        title: 'Clip',
        content: { type: 'video', fileId: '00000000-0000-4000-8000-000000000001', durationSeconds: 600, completeAtPercent: 80 },
      })
    ).body;
    await t.post(`/courses/${c.id}/publish`);
    await as(other).post(`/courses/${c.id}/enrollments`);
    const early = await as(other).post(`/lessons/${v.id}/complete`, { watchedPercent: 50 });
    expect([early.status, early.body.error.code]).toEqual([422, 'VALIDATION_FAILED']);
    const ok = await as(other).post(`/lessons/${v.id}/complete`, { watchedPercent: 85 });
    expect(ok.body.percent).toBe(100);
  });
});

describe('the payment step', () => {
  afterAll(() => usePaymentProvider(freePayments));

  it('compensates a declined payment: the enrollment fails and its seat is free again', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Paid seats', { capacity: 1 });
    await t.post(`/courses/${c.id}/publish`);
    usePaymentProvider({ charge: async () => ({ status: 'declined', paymentId: 'no' }) });
    const r = await as(learner).post(`/courses/${c.id}/enrollments`);
    expect([r.status, r.body.error.code]).toEqual([402, 'PAYMENT_DECLINED']);
    usePaymentProvider(freePayments);
    expect((await as(other).post(`/courses/${c.id}/enrollments`)).body.status).toBe('active'); // the seat was given back
  });

  it('retries a payment that fails, then goes on', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Flaky payments');
    await t.post(`/courses/${c.id}/publish`);
    let calls = 0;
    usePaymentProvider({
      charge: async (req) => {
        if (++calls <= 2) throw new Error('gateway hiccup');
        return { status: 'paid', paymentId: `p-${req.idempotencyKey}` };
      },
    });
    const r = await as(learner).post(`/courses/${c.id}/enrollments`);
    expect(r.body.status).toBe('pending');
    await waitFor(async () => (await as(learner).get(`/enrollments/${r.body.id}`)).body.enrollment.status === 'active', 15_000, 100);
    expect(calls).toBe(3);
  });

  it('gives up on a payment that keeps timing out, and frees the seat', async () => {
    const t = as(teacher);
    const { c } = await buildCourse('Stuck payments', { capacity: 1 });
    await t.post(`/courses/${c.id}/publish`);
    usePaymentProvider({ charge: () => new Promise(() => {}) });
    try {
      const r = await as(learner).post(`/courses/${c.id}/enrollments`);
      const failed = await waitFor(
        async () => {
          const h = (await as(learner).get(`/enrollments/${r.body.id}`)).body;
          return h.enrollment.status === 'failed' && h;
        },
        20_000,
        100,
      );
      expect(failed.enrollment.reason).toMatch(/^SERVICE_UNAVAILABLE: step payment kept failing: Error: timed out/);
    } finally {
      usePaymentProvider(freePayments);
    }
    expect((await as(other).post(`/courses/${c.id}/enrollments`)).body.status).toBe('active');
  });
});
