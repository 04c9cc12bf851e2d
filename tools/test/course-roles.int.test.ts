/** Course-scoped roles: what owner, co-instructor, teaching assistant and learner may do in one course. */
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { http } from './support.ts';

let node: LmsNode;
let base: string;
const pw = 'course roles password';
const people = ['admin', 'owner', 'coteacher', 'ta', 'learner', 'outsider'] as const;
type Who = (typeof people)[number];
// Filled in beforeAll.
const t = Object.fromEntries(people.map((who) => [who, { token: '', id: '' }])) as Record<Who, { token: string; id: string }>;
let courseId: string;

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  for (const who of people) {
    const r = (await http(base, 'POST', '/api/v1/auth/register', { email: `${who}@roles.test`, password: pw, displayName: who })).body;
    t[who] = { token: r.accessToken, id: r.user.id };
  }
  await http(base, 'POST', `/api/v1/users/${t.owner.id}/roles`, { role: 'instructor' }, t.admin.token);
  t.owner.token = (await http(base, 'POST', '/api/v1/auth/login', { email: 'owner@roles.test', password: pw })).body.accessToken;
  courseId = (await http(base, 'POST', '/api/v1/courses', { title: 'Roles draft', category: 'x' }, t.owner.token)).body.id;
});
afterAll(() => node?.stop());

const put = (who: Who, userId: string, role: string) => http(base, 'PUT', `/api/v1/courses/${courseId}/members/${userId}`, { role }, t[who].token);
const del = (who: Who, userId: string) => http(base, 'DELETE', `/api/v1/courses/${courseId}/members/${userId}`, undefined, t[who].token);
const get = (who: Who) => http(base, 'GET', `/api/v1/courses/${courseId}`, undefined, t[who].token);
const patch = (who: Who) => http(base, 'PATCH', `/api/v1/courses/${courseId}`, { description: `by ${who}` }, t[who].token);

describe('course-scoped roles', () => {
  it('lets the owner add a co-instructor, who may edit and add TAs and learners but not instructors', async () => {
    expect((await put('owner', t.coteacher.id, 'instructor')).status).toBe(200);
    // A course role, not a global one: the co-teacher is a student everywhere else.
    expect((await http(base, 'POST', '/api/v1/courses', { title: 'Not allowed', category: 'x' }, t.coteacher.token)).status).toBe(403);
    expect((await patch('coteacher')).status).toBe(200);
    expect((await put('coteacher', t.ta.id, 'ta')).status).toBe(200);
    expect((await put('coteacher', t.learner.id, 'learner')).status).toBe(200);
    const promote = await put('coteacher', t.outsider.id, 'instructor');
    expect(promote.status).toBe(403);
    expect(promote.body.error.details.permission).toBe('course:members:manage-staff');
    expect((await del('coteacher', t.owner.id)).status).toBe(409); // the owner stays
  });

  it('lets a TA see the draft and its members, and nothing more', async () => {
    expect((await get('ta')).status).toBe(200);
    expect((await http(base, 'GET', `/api/v1/courses/${courseId}/members`, undefined, t.ta.token)).body.items).toHaveLength(4);
    expect((await patch('ta')).status).toBe(403);
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/publish`, undefined, t.ta.token)).status).toBe(403);
    expect((await put('ta', t.outsider.id, 'learner')).status).toBe(403);
    const mine = (await http(base, 'GET', '/api/v1/courses', undefined, t.ta.token)).body.items.map((c: { id: string }) => c.id);
    expect(mine).toContain(courseId);
  });

  it('lists members by name, with their emails only for who may manage members', async () => {
    const list = async (who: Who) =>
      (await http(base, 'GET', `/api/v1/courses/${courseId}/members`, undefined, t[who].token)).body.items as Array<{
        userId: string;
        displayName: string;
        email?: string;
        role: string;
      }>;
    const byOwner = await list('owner');
    expect(byOwner.map((m) => [m.role, m.displayName, m.email]).sort()).toEqual(
      [
        ['owner', 'owner', 'owner@roles.test'],
        ['instructor', 'coteacher', 'coteacher@roles.test'],
        ['ta', 'ta', 'ta@roles.test'],
        ['learner', 'learner', 'learner@roles.test'],
      ].sort(),
    );
    // A TA reads the list (names) but does not manage members: no emails.
    const byTa = await list('ta');
    expect(byTa.map((m) => m.displayName).sort()).toEqual(['coteacher', 'learner', 'owner', 'ta']);
    expect(byTa.some((m) => 'email' in m)).toBe(false);
  });

  it('hides the draft from its learners and from outsiders until it is published', async () => {
    expect((await get('learner')).status).toBe(404);
    expect((await get('outsider')).status).toBe(404);
    expect((await http(base, 'GET', '/api/v1/courses', undefined, t.learner.token)).body.items).toEqual([]);
    expect((await http(base, 'POST', `/api/v1/courses/${courseId}/publish`, undefined, t.coteacher.token)).status).toBe(200);
    expect((await get('learner')).status).toBe(200);
    expect((await http(base, 'GET', `/api/v1/courses/${courseId}/members`, undefined, t.learner.token)).status).toBe(403);
    expect((await patch('outsider')).status).toBe(403);
  });

  it('lets the owner take roles away, and refuses unknown users', async () => {
    expect((await del('owner', t.coteacher.id)).body).toEqual({ removed: true });
    expect((await patch('coteacher')).status).toBe(403);
    const ghost = await put('owner', '00000000-0000-4000-8000-000000000000', 'ta');
    expect([ghost.status, ghost.body.error.code]).toEqual([404, 'USER_NOT_FOUND']);
    // Admins manage any course.
    expect((await put('admin', t.outsider.id, 'instructor')).status).toBe(200);
  });
});
