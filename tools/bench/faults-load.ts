/**
 * The fault bench's learners: virtual users who sign in, enrol, read the course and complete its lessons through
 * the REST API, paced by one shared rate, retrying a failed step as a well-behaved client would (after Retry-After,
 * with the same Idempotency-Key). Every response is recorded with its time, so that the bench can say which
 * statuses clients saw, when the service recovered, and which answered writes the database must hold.
 */
import { randomUUID } from 'node:crypto';

export interface Course {
  id: string;
  lessonIds: string[];
}

export interface Learner {
  id: string;
  email: string;
  password: string;
}

/** One response (or transport failure: status 0) the load saw. Times in ms since the load started. */
export interface Sample {
  step: 'login' | 'enrol' | 'content' | 'complete' | 'progress' | 'dashboard';
  start: number;
  end: number;
  status: number;
  ok: boolean;
  /** A 503 that said when to come back. */
  retryAfter: boolean;
  /** The error code of the body, or the transport error, for the report. */
  code?: string;
}

export interface LoadRecord {
  samples: Sample[];
  /** Enrolments a client was told succeeded (learner id, course id). */
  enrolled: Array<{ userId: string; courseId: string }>;
  /** Lesson completions a client was told succeeded. */
  completed: Array<{ userId: string; courseId: string; lessonId: string }>;
  /** Enrolments whose retry answered 409 CONFLICT: an attempt that answered an error had enrolled. */
  enrolledDespiteError: number;
}

export interface LoadOptions {
  base: string;
  learners: Learner[];
  courses: Course[];
  /** Requests a second, shared by every virtual user. */
  rate: number;
  users: number;
  /** Stops starting requests once this returns true (checked before every request). */
  done: (issued: number, now: number) => boolean;
}

/** An HTTP exchange; a transport failure answers status 0 with the error's code. */
async function exchange(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body: unknown,
  key: string | undefined,
): Promise<{ status: number; body: unknown; retryAfter: number | undefined; code?: string }> {
  try {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    const ra = res.headers.get('retry-after');
    // An answer outside the error model (a load balancer's own page) is labelled as such in the report.
    const code = res.status >= 400 && typeof parsed !== 'object' ? 'not the error model' : undefined;
    return { status: res.status, body: parsed, retryAfter: ra === null ? undefined : Number(ra), code };
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    const code = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.name) : String(cause);
    return { status: 0, body: undefined, retryAfter: undefined, code };
  }
}

const errorCodeOf = (body: unknown): string | undefined => {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const e = body.error;
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
};

/**
 * Runs the load until `done`. Each virtual user takes the next (learner, course) pair and walks it: sign in,
 * enrol, read the content, complete every lesson (reading its progress half-way), read the dashboard. Once
 * every pair is walked, users keep signing in and reading.
 */
export async function runLearners(o: LoadOptions): Promise<LoadRecord> {
  const rec: LoadRecord = { samples: [], enrolled: [], completed: [], enrolledDespiteError: 0 };
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const gap = 1000 / o.rate;
  let nextSlot = 0;
  let issued = 0;
  let stopped = false;
  /** A slot in the shared schedule; false once the load is done. */
  const slot = async (): Promise<boolean> => {
    if (stopped || o.done(issued, now())) return !(stopped = true);
    const at = Math.max(nextSlot, now());
    nextSlot = at + gap;
    issued++;
    const wait = at - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    return true;
  };
  const pairs = o.courses.flatMap((c, ci) =>
    o.learners.map((l, li) => ({ learner: l, course: c, order: ((li + ci * 7) % o.learners.length) * o.courses.length + ci })),
  );
  pairs.sort((a, b) => a.order - b.order);

  /** One step until it succeeds: undefined once the load is done. */
  async function step(
    name: Sample['step'],
    method: string,
    path: string,
    token: string | undefined,
    body: unknown,
    accept: (status: number, body: unknown) => 'ok' | 'error-but-done' | 'retry',
  ): Promise<{ body: unknown; ok: boolean } | undefined> {
    // One key per operation, kept across its retries: a repeat must be recognised as the same request.
    const key = method === 'GET' ? undefined : randomUUID();
    for (let attempt = 0; ; attempt++) {
      if (!(await slot())) return undefined;
      const start = now();
      const r = await exchange(o.base, method, path, token, body, key);
      const verdict = accept(r.status, r.body);
      rec.samples.push({
        step: name,
        start,
        end: now(),
        status: r.status,
        ok: verdict === 'ok',
        retryAfter: r.retryAfter !== undefined,
        code: r.code ?? errorCodeOf(r.body),
      });
      if (verdict !== 'retry') return { body: r.body, ok: verdict === 'ok' };
      // Back off as told (capped: the bench measures recovery), else a quarter second.
      await new Promise((res) => setTimeout(res, Math.min(2_000, r.retryAfter !== undefined ? r.retryAfter * 1000 : 250)));
    }
  }

  const ok2xx = (s: number) => (s >= 200 && s < 300 ? 'ok' : 'retry');
  async function signIn(l: Learner): Promise<string | undefined> {
    const r = await step('login', 'POST', '/auth/login', undefined, { email: l.email, password: l.password }, ok2xx);
    return r ? (r.body as { accessToken: string }).accessToken : undefined;
  }

  async function walk(l: Learner, c: Course): Promise<boolean> {
    const token = await signIn(l);
    if (!token) return false;
    const enrol = await step('enrol', 'POST', `/courses/${c.id}/enrollments`, token, {}, (s, b) => {
      if (s === 201 || s === 200) return 'ok';
      // Already enrolled: an earlier attempt that answered an error did enrol. The learner carries on.
      if (s === 409 && errorCodeOf(b) === 'CONFLICT') return 'error-but-done';
      return 'retry';
    });
    if (!enrol) return false;
    if (enrol.ok) rec.enrolled.push({ userId: l.id, courseId: c.id });
    else rec.enrolledDespiteError++;
    if (!(await step('content', 'GET', `/courses/${c.id}/content`, token, undefined, ok2xx))) return false;
    for (const [i, lessonId] of c.lessonIds.entries()) {
      const done = await step('complete', 'POST', `/lessons/${lessonId}/complete`, token, { courseId: c.id }, ok2xx);
      if (!done) return false;
      rec.completed.push({ userId: l.id, courseId: c.id, lessonId });
      if (i === Math.floor(c.lessonIds.length / 2) && !(await step('progress', 'GET', `/courses/${c.id}/progress`, token, undefined, ok2xx))) return false;
    }
    return Boolean(await step('dashboard', 'GET', '/me/dashboard', token, undefined, ok2xx));
  }

  async function browse(l: Learner, c: Course): Promise<boolean> {
    const token = await signIn(l);
    if (!token) return false;
    for (let i = 0; i < 3; i++) if (!(await step('content', 'GET', `/courses/${c.id}/content`, token, undefined, ok2xx))) return false;
    return Boolean(await step('dashboard', 'GET', '/me/dashboard', token, undefined, ok2xx));
  }

  let n = 0;
  await Promise.all(
    Array.from({ length: o.users }, async () => {
      for (;;) {
        const pair = pairs.shift();
        const i = n++;
        const going = pair
          ? await walk(pair.learner, pair.course)
          : await browse(o.learners[i % o.learners.length] ?? pickFirst(o.learners), o.courses[i % o.courses.length] ?? pickFirst(o.courses));
        if (!going) return;
      }
    }),
  );
  return rec;
}

function pickFirst<T>(list: T[]): T {
  const first = list[0];
  if (first === undefined) throw new Error('the fault bench needs at least one learner and one course');
  return first;
}
