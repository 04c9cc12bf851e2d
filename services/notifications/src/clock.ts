/** Wall-clock arithmetic in a user's IANA time zone (quiet hours, digest times), DST-safe. */

/** The local date and time of an instant in a zone. */
export function localParts(at: Date, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; weekday: number } {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday ?? '');
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour), mi: Number(p.minute), weekday };
}

/** The instant when the zone's clock shows the given local date and time (the later one in a DST gap). */
export function zonedInstant(timeZone: string, y: number, mo: number, d: number, h: number, mi: number): Date {
  const wanted = Date.UTC(y, mo - 1, d, h, mi);
  let t = wanted;
  // Two corrections converge for every real offset change.
  for (let i = 0; i < 2; i++) {
    const l = localParts(new Date(t), timeZone);
    t += wanted - Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi);
  }
  return new Date(t);
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** When a quiet window (which may span midnight) ends, if `at` is inside it; undefined otherwise. */
export function quietUntil(at: Date, timeZone: string, q: { start: string; end: string } | null): Date | undefined {
  if (!q) return undefined;
  const l = localParts(at, timeZone);
  const now = l.h * 60 + l.mi;
  const s = minutes(q.start);
  const e = minutes(q.end);
  const inside = s < e ? now >= s && now < e : now >= s || now < e;
  if (!inside) return undefined;
  // The end is today, unless the window spans midnight and we are before midnight.
  const dayShift = s > e && now >= s ? 1 : 0;
  const base = new Date(Date.UTC(l.y, l.mo - 1, l.d + dayShift));
  return zonedInstant(timeZone, base.getUTCFullYear(), base.getUTCMonth() + 1, base.getUTCDate(), Math.floor(e / 60), e % 60);
}

/** The next digest time after `at`: the hour, every day (daily) or on Mondays (weekly), in the zone. */
export function nextDigestAt(at: Date, timeZone: string, mode: 'daily' | 'weekly', hour: number): Date {
  const l = localParts(at, timeZone);
  for (let add = 0; add <= 8; add++) {
    const day = new Date(Date.UTC(l.y, l.mo - 1, l.d + add));
    if (mode === 'weekly' && day.getUTCDay() !== 1) continue;
    const t = zonedInstant(timeZone, day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hour, 0);
    if (t > at) return t;
  }
  throw new Error('unreachable: a Monday comes within 8 days');
}
