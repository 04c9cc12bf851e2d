import { courses, search } from '@lms/contracts';
import { UseLiteEmbedder } from '@lms/embeddings';
import { eventually, testNode, type TestClient, type TestNode } from '@lms/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coursesService } from '../../courses/src/index.js';
import { usersService } from '../../users/src/index.js';
import { embedderFor, searchServiceWith } from '../src/search.service.js';

/**
 * Semantic and hybrid search with the real embedded-mode model (the Universal Sentence Encoder lite from the npm
 * package, on this CPU): a paraphrase that shares no word with a lesson finds it by meaning, which no lexical rule can.
 */
describe('semantic search with the real CPU model (PGlite, pgvector)', () => {
  let node: TestNode;
  let owner: TestClient;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    node = await testNode([coursesService, usersService, searchServiceWith({ embedder: new UseLiteEmbedder() })]);
    owner = node.as({ roles: ['instructor'] });
    const lessons: Record<string, { title: string; body: string }> = {
      bread: {
        title: 'Sourdough at home',
        body: '# Starter\nFeed the starter with flour and water, let the dough rise overnight, then bake it in a hot oven.',
      },
      tax: { title: 'Corporate tax law', body: '# Liability\nCompanies declare taxable profit each fiscal year and pay the corporate rate on it.' },
      guitar: { title: 'First chords', body: '# Chords\nPlace your fingers on the frets and strum the strings of the guitar slowly.' },
    };
    for (const [key, l] of Object.entries(lessons)) {
      const c = await owner.call(courses.create, {
        title: l.title,
        summary: l.title,
        category: 'other',
        language: 'en',
        visibility: 'public',
        tags: [],
        level: 'beginner',
        durationMinutes: 30,
      });
      const m = await owner.call(courses.createModule, { courseId: c.id, title: 'Module' });
      await owner.call(courses.createLesson, { moduleId: m.id, title: 'Lesson', content: { type: 'markdown', body: l.body } });
      await owner.call(courses.publish, { courseId: c.id });
      ids[key] = `course:${c.id}`;
    }
    // Lexical indexing comes first, the vectors after it: wait for the semantic ranking to see all three courses.
    await eventually(async () => {
      const r = await node.anonymous().call(search.query, { q: 'music instrument', mode: 'semantic', type: 'course', limit: 10 });
      expect(r.hits.map((h) => h.id).sort()).toEqual(Object.values(ids).sort());
    }, 60_000);
  }, 120_000);
  afterAll(async () => node?.stop());

  const top = async (q: string, mode: 'lexical' | 'semantic' | 'hybrid') =>
    (await node.anonymous().call(search.query, { q, mode, type: 'course', limit: 3 })).hits.map((h) => h.id);

  it('finds a course by meaning when no word matches', async () => {
    expect(await top('making loaves of bread', 'lexical')).not.toContain(ids.bread);
    expect((await top('making loaves of bread', 'semantic'))[0]).toBe(ids.bread);
    expect((await top('playing a musical instrument', 'semantic'))[0]).toBe(ids.guitar);
    expect((await top('paying taxes as a business', 'hybrid'))[0]).toBe(ids.tax);
  });

  it('answers in hybrid mode once the vectors are in', async () => {
    const r = await node.anonymous().call(search.query, { q: 'bread', mode: 'hybrid', limit: 3 });
    expect(r.mode).toBe('hybrid');
  });

  it('builds the configured embedder: off, local, or an Ollama server (which needs its URL)', () => {
    const base = { SEARCH_POLL_MS: 1000, SEARCH_EMBED_MODEL: 'nomic-embed-text', SEARCH_OLLAMA_URL: undefined };
    expect(embedderFor({ ...base, SEARCH_EMBEDDER: 'off' })).toBeUndefined();
    expect(embedderFor({ ...base, SEARCH_EMBEDDER: 'local' })?.model).toBe('use-lite-512');
    expect(() => embedderFor({ ...base, SEARCH_EMBEDDER: 'ollama' })).toThrow(/SEARCH_OLLAMA_URL/);
    expect(embedderFor({ ...base, SEARCH_EMBEDDER: 'ollama', SEARCH_OLLAMA_URL: 'http://127.0.0.1:11434' })?.model).toBe('nomic-embed-text');
  });
});
