/** The preference rules, as a pure function: every channel, mode, quiet hours, mandatory and secret messages. */
import { resolvePreferences } from '@lms/contracts';
import { describe, expect, it } from 'vitest';
import type { RequestRow } from '../src/db.ts';
import { route } from '../src/routing.ts';

const now = new Date('2026-11-24T23:30:00Z'); // 00:30 in Paris, a Wednesday
const request = (template: string, userId: string | null = 'u1'): RequestRow => ({
  event_id: '00000000-0000-4000-8000-000000000001',
  user_id: userId,
  to: null,
  template,
  locale: 'en',
  data: { courseTitle: 'Chem' },
  announcement_id: null,
  status: 'pending',
  attempts: 0,
  run_after: now,
  created_at: now,
});
const settings = (prefs: object, status = 'active') => ({
  email: 'u1@example.org',
  displayName: 'Uma',
  locale: 'fr',
  timezone: 'Europe/Paris',
  status,
  preferences: resolvePreferences(prefs),
});
const channels = (r: ReturnType<typeof route>) =>
  Object.fromEntries(r.rows.map((x) => [x.channel, [x.status, x.digest ?? null, x.run_after?.toISOString() ?? null]]));

describe('route()', () => {
  it('sends on every channel the type allows, with SMS only where a number and a provider exist', () => {
    const s = settings({ types: { announcements: { sms: 'immediately' } }, smsNumber: '+33612345678' });
    const r = route(request('announcement'), s, 2, true, 'https://lms.test', now);
    expect(channels(r)).toEqual({
      email: ['queued', null, now.toISOString()],
      push: ['queued', null, now.toISOString()],
      sms: ['queued', null, now.toISOString()],
    });
    expect(r.rows.find((x) => x.channel === 'push')?.recipient).toBe('2 devices');
    expect(r.item?.title).toBe('Annonce');
    expect(Object.keys(channels(route(request('announcement'), s, 0, false, 'https://lms.test', now)))).toEqual(['email']);
  });

  it('holds digests until 08:00 local, queues after quiet hours, and records a turned-off email as skipped', () => {
    const s = settings({ types: { announcements: { email: 'weekly', push: 'daily', inApp: 'never' } }, quietHours: { start: '22:00', end: '07:00' } });
    const r = route(request('announcement'), s, 1, true, 'https://lms.test', now);
    // Paris is UTC+1 in November: next Monday 08:00 is 07:00Z on the 30th; tomorrow 08:00 is 07:00Z on the 25th.
    expect(channels(r)).toEqual({ email: ['held', 'weekly', '2026-11-30T07:00:00.000Z'], push: ['held', 'daily', '2026-11-25T07:00:00.000Z'] });
    expect(r.item).toBeUndefined();
    const quiet = route(request('enrollment_welcome'), settings({ quietHours: { start: '22:00', end: '07:00' } }), 0, true, 'https://lms.test', now);
    expect(channels(quiet).email).toEqual(['queued', null, '2026-11-25T06:00:00.000Z']);
    const off = route(request('enrollment_welcome'), settings({ types: { enrollments: { email: 'never' } } }), 0, true, 'https://lms.test', now);
    expect(channels(off).email).toEqual(['skipped', null, null]);
  });

  it('sends mandatory mail at once whatever the preferences, quiet hours or account status say', () => {
    const stored = { types: { security: { email: 'never' } }, quietHours: { start: '00:00', end: '23:59' } };
    for (const status of ['active', 'deactivated']) {
      const r = route(request('password_changed'), settings(stored, status), 3, true, 'https://lms.test', now);
      expect(channels(r).email).toEqual(['queued', null, now.toISOString()]);
    }
    expect(route(request('password_changed'), null, 0, true, 'https://lms.test', now).rows).toEqual([]); // no account, no address
  });

  it('keeps secrets to email, and sends nothing optional to a deactivated or vanished account', () => {
    const s = settings({ types: { security: { push: 'immediately', sms: 'immediately' } }, smsNumber: '+33612345678' });
    const reset = route({ ...request('password_reset'), to: 'u1@example.org', data: { token: 'secret' } }, s, 2, true, 'https://lms.test', now);
    expect([Object.keys(channels(reset)), reset.item]).toEqual([['email'], undefined]);
    expect(route(request('announcement'), settings({}, 'deactivated'), 2, true, 'https://lms.test', now)).toEqual({ rows: [] });
    expect(route(request('announcement'), null, 2, true, 'https://lms.test', now)).toEqual({ rows: [] });
    // No account yet (a sign-up address): email only, in the request's language.
    const anon = route({ ...request('email_verification', null), to: 'new@example.org' }, undefined, 0, true, 'https://lms.test', now);
    expect(anon.rows.map((x) => [x.channel, x.recipient, x.locale])).toEqual([['email', 'new@example.org', 'en']]);
  });

  it('sends nothing at all to an erased account, not even mandatory mail to the address a late request still carries', () => {
    for (const template of ['password_changed', 'email_verification', 'announcement']) {
      expect(route({ ...request(template), to: 'u1@example.org' }, settings({}, 'erased'), 2, true, 'https://lms.test', now)).toEqual({ rows: [] });
    }
  });
});

describe('resolvePreferences()', () => {
  it('reads the older on/off switches as immediately/never, fills in defaults, and pins mandatory email', () => {
    const old = resolvePreferences({ grades: { email: false, inApp: true, push: true, sms: false } });
    expect(old.types.grades).toEqual({ email: 'never', inApp: 'immediately', push: 'immediately', sms: 'never' });
    expect(old.types.announcements).toEqual({ email: 'immediately', inApp: 'immediately', push: 'immediately', sms: 'never' });
    const forced = resolvePreferences({ types: { security: { email: 'never' } }, quietHours: null });
    expect([forced.types.security.email, forced.mandatory]).toEqual(['immediately', ['security']]);
    expect(resolvePreferences(null).quietHours).toBeNull();
  });
});
