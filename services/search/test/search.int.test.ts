import { randomUUID } from 'node:crypto';
import {
  courseEvents,
  courses,
  enrollmentEvents,
  privacyExportContract,
  search,
  searchInternal,
  userEvents,
  type InputOf,
  type SearchResult,
} from '@lms/contracts';
import { depsOf } from '@lms/runtime';
import { eventually, testNode, type TestClient, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDatabase } from '../../../tools/test/support.ts';
import { coursesService } from '../../courses/src/index.js';
import { usersService } from '../../users/src/index.js';
import type { Embedder } from '../src/embedder.js';
import type { IndexerWorker } from '../src/indexer.worker.js';
import { searchServiceWith } from '../src/search.service.js';

/**
 * A stand-in for a real embedding model (the real ones come from @lms/embeddings): words folded and hashed into 64
 * dimensions, so that texts sharing words are close. Deterministic, instant, and no model at all: tests of the
 * fusion and of the vector columns only, never of semantic relevance.
 */
class TestDoubleEmbedder implements Embedder {
  readonly model = 'test-double-bag-of-words';
  readonly dimensions = 64;
  embed(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(
      texts.map((t) => {
        const v = new Float32Array(this.dimensions);
        for (const w of t
          .normalize('NFD')
          .toLowerCase()
          .match(/\p{L}{3,}/gu) ?? []) {
          let h = 7;
          for (const ch of w) h = (h * 31 + (ch.codePointAt(0) ?? 0)) % 1_000_003;
          v[h % this.dimensions] = (v[h % this.dimensions] ?? 0) + 1;
        }
        const norm = Math.hypot(...v) || 1;
        return v.map((x) => x / norm);
      }),
    );
  }
}

/**
 * The same engine suite on both databases: PGlite (embedded mode) and the local PostgreSQL (a fresh database, migrated on
 * start), whose pgvector decides whether the index gets vector columns.
 */
for (const backend of ['pglite', 'postgres'] as const) {
  let node: TestNode;
  let owner: TestClient;
  let db: { url: string; drop(): Promise<void> } | undefined;
  const admin = () => node.as({ roles: ['admin'] });

  beforeAll(async () => {
    db = backend === 'postgres' ? await tempDatabase() : undefined;
    node = await testNode([coursesService, usersService, searchServiceWith({ embedder: new TestDoubleEmbedder() })], db ? { databaseUrl: db.url } : {});
    owner = node.as({ roles: ['instructor'] });
  });
  afterAll(async () => {
    await node?.stop();
    await db?.drop();
  });

  const ids = (r: SearchResult) => r.hits.map((h) => h.id);
  const find = (who: TestClient, q: string, more: Partial<InputOf<typeof search.query>> = {}) => who.call(search.query, { q, mode: 'lexical', ...more });

  /** Creates and publishes a course with one module and the given markdown lessons; answers once search finds its title. */
  async function publishedCourse(opts: {
    title: string;
    language?: string;
    visibility?: 'public' | 'private';
    lessons: Record<string, string>;
    tags?: string[];
  }) {
    const c = await owner.call(courses.create, {
      title: opts.title,
      summary: `About ${opts.title}`,
      category: 'programming',
      language: opts.language ?? 'en',
      visibility: opts.visibility ?? 'public',
      tags: opts.tags ?? [],
      level: 'beginner',
      durationMinutes: 90,
    });
    const m = await owner.call(courses.createModule, { courseId: c.id, title: 'First steps' });
    const lessons: Record<string, string> = {};
    for (const [title, body] of Object.entries(opts.lessons)) {
      const l = await owner.call(courses.createLesson, { moduleId: m.id, title, content: { type: 'markdown', body } });
      lessons[title] = l.id;
    }
    await owner.call(courses.publish, { courseId: c.id });
    await eventually(async () => expect(ids(await find(admin(), opts.title))).toContain(`course:${c.id}`));
    return { courseId: c.id, moduleId: m.id, lessons };
  }

  async function enrol(courseId: string, userId: string) {
    await node.publish(enrollmentEvents.created, { enrollmentId: randomUUID(), courseId, userId, promotedFromWaitlist: false });
  }

  describe(`search engine on ${backend} (courses and search on one embedded node; pg_trgm, unaccent, pgvector)`, () => {
    let js: Awaited<ReturnType<typeof publishedCourse>>;
    let fr: Awaited<ReturnType<typeof publishedCourse>>;
    let secret: Awaited<ReturnType<typeof publishedCourse>>;
    beforeAll(async () => {
      js = await publishedCourse({
        title: 'JavaScript basics',
        tags: ['web'],
        lessons: {
          'Values and variables':
            '# Variables\nUse let and const to name values.\n\n# Closures\nA closure captures the variables of its scope. <script>alert(1)</script>',
        },
      });
      fr = await publishedCourse({
        title: "Le rôle de l'élève",
        language: 'fr',
        lessons: { Introduction: '# Les chanteuses\nLes chanteuses mangeaient des pommes pendant la répétition.' },
      });
      secret = await publishedCourse({ title: 'Cryptography vault', visibility: 'private', lessons: { Ciphers: 'Rotors and enigmas.' } });
    });

    it('tolerates typos, completes prefixes and offers a spelling', async () => {
      const typo = await find(node.anonymous(), 'javscript');
      expect(ids(typo)).toContain(`course:${js.courseId}`);
      expect(typo.didYouMean).toBe('javascript');
      expect(ids(await find(node.anonymous(), 'javas'))).toContain(`course:${js.courseId}`);
      const s = await node.anonymous().call(search.suggest, { q: 'Java' });
      expect(s.suggestions.map((x) => x.text)).toContain('JavaScript basics');
    });

    it('folds accents and stems French with the course language', async () => {
      expect(ids(await find(node.anonymous(), 'eleve'))).toContain(`course:${fr.courseId}`);
      expect(ids(await find(node.anonymous(), 'ELÈVES'))).toContain(`course:${fr.courseId}`);
      const learner = node.as();
      await enrol(fr.courseId, defined(learner.caller?.userId));
      // mangeaient ~ manger, chanteuses ~ chanteuse: French stems, not English ones.
      const r = await eventually(async () => {
        const x = await find(learner, 'chanteuse manger');
        expect(x.hits.some((h) => h.lessonId === fr.lessons.Introduction)).toBe(true);
        return x;
      });
      expect(r.hits.find((h) => h.type === 'lesson')?.snippet).toContain('<mark>chanteuses</mark>');
    });

    it('filters by permission in SQL: anonymous, stranger, learner, staff, admin; private courses; drafts', async () => {
      const lessonOf = (r: SearchResult) => r.hits.filter((h) => h.type === 'lesson').map((h) => h.lessonId);
      // Public course: its course and module documents for everyone, its lessons for its members only.
      expect(lessonOf(await find(node.anonymous(), 'closure'))).toEqual([]);
      const stranger = node.as();
      expect(lessonOf(await find(stranger, 'closure'))).toEqual([]);
      const learner = node.as();
      await enrol(js.courseId, defined(learner.caller?.userId));
      await eventually(async () => expect(lessonOf(await find(learner, 'closure'))).toContain(js.lessons['Values and variables']));
      expect(lessonOf(await find(owner, 'closure'))).toContain(js.lessons['Values and variables']);

      // Private course: nothing for anonymous or a stranger, everything for its learner and staff.
      expect(ids(await find(node.anonymous(), 'cryptography'))).toEqual([]);
      expect(ids(await find(stranger, 'enigmas'))).toEqual([]);
      expect(ids(await find(stranger, 'cryptography'))).toEqual([]);
      await enrol(secret.courseId, defined(learner.caller?.userId));
      await eventually(async () => expect(ids(await find(learner, 'enigmas')).length).toBeGreaterThan(0));
      expect(ids(await find(owner, 'cryptography'))).toContain(`course:${secret.courseId}`);
      // A dropped enrollment takes the lessons away again.
      await node.publish(enrollmentEvents.changed, {
        enrollmentId: randomUUID(),
        courseId: secret.courseId,
        userId: defined(learner.caller?.userId),
        status: 'dropped',
        previous: 'active',
        reason: null,
      });
      await eventually(async () => expect(ids(await find(learner, 'enigmas'))).toEqual([]));

      // A draft: its staff find it, an admin too, nobody else.
      const draft = await owner.call(courses.create, { title: 'Quantum origami', category: 'science' });
      await eventually(async () => expect(ids(await find(owner, 'origami'))).toContain(`course:${draft.id}`));
      expect(ids(await find(admin(), 'origami'))).toContain(`course:${draft.id}`);
      expect(ids(await find(stranger, 'origami'))).toEqual([]);
      expect(ids(await find(node.anonymous(), 'origami'))).toEqual([]);
      expect((await node.anonymous().call(search.suggest, { q: 'quantum' })).suggestions).toEqual([]);
    });

    it('takes a course out when it is archived, and out of public results when it is made private', async () => {
      const old = await publishedCourse({ title: 'Obsolete pottery', lessons: { Clay: 'Kilns.' } });
      const hidden = await publishedCourse({ title: 'Hidden calligraphy', lessons: { Ink: 'Brushes.' } });
      await owner.call(courses.archive, { courseId: old.courseId });
      await owner.call(courses.update, { courseId: hidden.courseId, visibility: 'private' });
      await eventually(async () => expect(ids(await find(admin(), 'pottery'))).toEqual([]));
      await eventually(async () => expect(ids(await find(node.anonymous(), 'calligraphy'))).toEqual([]));
      // Its staff still find it.
      expect(ids(await find(owner, 'calligraphy'))).toContain(`course:${hidden.courseId}`);
      // Published private, then made public in the working copy only: still private until published (as the catalogue has it).
      await owner.call(courses.publish, { courseId: hidden.courseId });
      await owner.call(courses.update, { courseId: hidden.courseId, visibility: 'public' });
      await defined(depsOf<{ indexer: IndexerWorker }>(node.runtime, 'search')).indexer.index(hidden.courseId);
      expect(ids(await find(node.anonymous(), 'calligraphy'))).toEqual([]);
      await owner.call(courses.publish, { courseId: hidden.courseId });
      await eventually(async () => expect(ids(await find(node.anonymous(), 'calligraphy'))).toContain(`course:${hidden.courseId}`));
    });

    it('never shows an unpublished edit, to anyone', async () => {
      const lessonId = defined(js.lessons['Values and variables']);
      await owner.call(courses.updateLesson, { lessonId, content: { type: 'markdown', body: 'Zanzibarian secret draft text' } });
      await owner.call(courses.update, { courseId: js.courseId, title: 'JavaScript basics (Zanzibarian edit)' });
      // The edits queued the course (content_updated); index it now rather than wait for the worker.
      await defined(depsOf<{ indexer: IndexerWorker }>(node.runtime, 'search')).indexer.index(js.courseId);
      for (const who of [owner, admin(), node.anonymous()]) expect(ids(await find(who, 'zanzibarian'))).toEqual([]);
    });

    it('is idempotent under replayed and repeated events: a re-published course does not duplicate its chunks', async () => {
      const count = async () => (await find(owner, 'closure', { type: 'lesson', limit: 50 })).total;
      const before = await count();
      expect(before).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++)
        await node.publish(courseEvents.published, {
          courseId: js.courseId,
          title: 'JavaScript basics',
          category: 'programming',
          ownerId: defined(owner.caller?.userId),
          publishedAt: new Date().toISOString(),
          version: 1,
        });
      await eventually(async () => expect(await count()).toBe(before));
      expect(await count()).toBe(before);
    });

    it('escapes markup in snippets before marking the matches', async () => {
      const learner = node.as();
      await enrol(js.courseId, defined(learner.caller?.userId));
      const r = await eventually(async () => {
        const x = await find(learner, 'closure', { type: 'lesson' });
        expect(x.hits.length).toBeGreaterThan(0);
        return x;
      });
      const snippet = defined(r.hits[0]).snippet;
      expect(snippet).toContain('<mark>');
      expect(snippet).not.toContain('<script>');
    });

    it('applies synonyms set by an admin, records analytics and clicks, and refuses too long a query', async () => {
      expect(ids(await find(node.anonymous(), 'ecmascript'))).toEqual([]);
      await admin().call(search.setSynonyms, { term: 'ecmascript', synonyms: ['javascript', 'js'] });
      expect((await admin().call(search.listSynonyms, {})).items).toContainEqual({ term: 'ecmascript', synonyms: ['javascript', 'js'] });
      expect(ids(await find(node.anonymous(), 'ecmascript'))).toContain(`course:${js.courseId}`);
      await find(node.anonymous(), 'nothingmatchesthisxyz');
      await node.anonymous().call(search.click, { q: 'ecmascript', documentId: `course:${js.courseId}`, position: 0 });
      const a = await admin().call(search.analytics, {});
      expect(a.top.find((t) => t.query === 'ecmascript')).toMatchObject({ clicks: 1 });
      expect(a.zeroResults.map((z) => z.query)).toContain('nothingmatchesthisxyz');
      expect(a.clickThrough).toBeGreaterThan(0);
      expect(await node.as().fail(search.analytics, {})).toMatchObject({ code: 'FORBIDDEN', status: 403 });
      expect(await node.anonymous().fail(search.query, { q: 'x'.repeat(201) })).toMatchObject({ code: 'SEARCH_QUERY_TOO_LONG', status: 400 });
      expect(await node.anonymous().fail(search.query, { q: 'x', cursor: 'nope' })).toMatchObject({ status: 422 });
    });

    it('fuses lexical and vector ranks in hybrid mode, with facets and cursor pages', async () => {
      const r = await admin().call(search.query, { q: 'javascript closures', mode: 'hybrid', limit: 1 });
      expect(r.mode).toBe('hybrid');
      expect(r.hits).toHaveLength(1);
      expect(r.nextCursor).not.toBeNull();
      const next = await admin().call(search.query, { q: 'javascript closures', mode: 'hybrid', limit: 1, cursor: r.nextCursor ?? undefined });
      expect(ids(next)).not.toEqual(ids(r));
      const browse = await find(node.anonymous(), '', { category: 'programming' });
      expect(browse.facets.type.map((f) => f.value)).toEqual(expect.arrayContaining(['course', 'module']));
      expect(browse.facets.language.map((f) => f.value)).toEqual(expect.arrayContaining(['en', 'fr']));
      expect(browse.facets.duration).toContainEqual({ value: '1-5h', count: expect.any(Number) });
      // Filters narrow in SQL (tags: every one must match); sorts order the same set.
      const web = await find(node.anonymous(), '', { tags: ['web'] });
      expect(web.hits.length).toBeGreaterThan(0);
      expect(web.hits.every((h) => h.courseId === js.courseId)).toBe(true);
      expect((await find(node.anonymous(), '', { tags: 'web,nothing' })).total).toBe(0);
      const newest = await find(node.anonymous(), '', { type: 'course', sort: 'newest', limit: 50 });
      const dates = newest.hits.map((h) => h.publishedAt ?? '');
      expect(dates).toEqual([...dates].sort().reverse());
      expect((await find(node.anonymous(), 'javascript', { sort: 'popularity', mode: 'hybrid' })).mode).toBe('lexical');
    });

    it('rebuilds into a shadow index while queries run, never answering empty, and swaps it in', async () => {
      const lessons = async () => (await find(owner, 'closure', { type: 'lesson', limit: 50 })).total;
      const before = await lessons();
      let done = false;
      const rebuild = node
        .internal()
        .call(searchInternal.reindex, {})
        .finally(() => (done = true));
      const seen: number[] = [];
      while (!done) {
        const r = await find(node.anonymous(), 'javascript');
        seen.push(r.hits.filter((h) => h.courseId === js.courseId).length);
      }
      const result = await rebuild;
      expect(result.courses).toBeGreaterThanOrEqual(4);
      expect(result.documents).toBeGreaterThan(0);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((n) => n === 0)).toEqual([]);
      expect(await lessons()).toBe(before);
      expect(ids(await find(node.anonymous(), 'javascript'))).toContain(`course:${js.courseId}`);
      expect(await node.internal().call(searchInternal.reindexStatus, {})).toMatchObject({ running: false, done: result.courses, total: result.courses });
      // Hybrid still works on the rebuilt table (its vector columns came with it).
      expect((await admin().call(search.query, { q: 'javascript', mode: 'hybrid' })).mode).toBe('hybrid');
    });

    it('erases a user: memberships and their id in analytics', async () => {
      const learner = node.as();
      const userId = defined(learner.caller?.userId);
      await enrol(secret.courseId, userId);
      await eventually(async () => expect(ids(await find(learner, 'enigmas')).length).toBeGreaterThan(0));
      const before = (await node.internal().call(privacyExportContract('search').privacyExport, { userId })).data as { searches: unknown[] };
      expect(before.searches.length).toBeGreaterThan(0);
      await node.publish(userEvents.deleted, { userId, requestId: randomUUID(), by: randomUUID() });
      await eventually(async () => {
        const after = (await node.internal().call(privacyExportContract('search').privacyExport, { userId })).data as {
          searches: unknown[];
          memberships: unknown[];
        };
        expect(after).toEqual({ searches: [], memberships: [] });
      });
      expect(ids(await find(learner, 'enigmas'))).toEqual([]);
    });
  });
}

function defined<T>(v: T | undefined | null): T {
  if (v === undefined || v === null) throw new Error('expected a value');
  return v;
}
