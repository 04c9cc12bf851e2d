import { randomUUID } from 'node:crypto';
import { migrateAll, openDatabase } from '@lms/runtime';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorpus } from '../bench/search/corpus.ts';
import { ilikeSearch } from '../bench/search/ilike.ts';
import { SERVICES } from '../services.ts';
import { tempDatabase } from './support.ts';

// The SQL side of the search bench on the machine's PostgreSQL: the ILIKE baselines over the courses service's own
// tables (migrated), and pgvector, which tools/pgvector.mjs installs for the search service's semantic index.
describe('search SQL on the machine’s PostgreSQL', () => {
  let pgdb: Awaited<ReturnType<typeof tempDatabase>>;
  let client: pg.Client;
  const idOf = new Map<string, string>();
  const keyOf = (ids: string[]) => ids.map((id) => [...idOf].find(([, v]) => v === id)?.[0] ?? id);

  beforeAll(async () => {
    pgdb = await tempDatabase();
    const db = await openDatabase({ databaseUrl: pgdb.url, dataDir: '' });
    const courses = SERVICES.courses;
    if (!courses) throw new Error('no courses service');
    await migrateAll(db, [courses]);
    await db.close();
    client = new pg.Client({ connectionString: pgdb.url });
    await client.connect();
    const owner = randomUUID();
    // A few corpus courses, written as the courses service stores them; one private and one draft that must not match.
    const picked = buildCorpus().filter((c) => ['sourdough', 'pastry', 'fr-pain', 'tax-law', 'python-intro'].includes(c.key));
    for (const [i, c] of picked.entries()) {
      const id = randomUUID();
      idOf.set(c.key, id);
      const visibility = c.key === 'pastry' ? 'private' : 'public';
      const status = c.key === 'python-intro' ? 'draft' : 'published';
      await client.query(
        `insert into courses.courses (id, title, slug, summary, description, category, categories, tags, language, level, visibility, status, owner_id, published_at)
         values ($1, $2, $3, $4, $5, $6, array[$6], $7, $8, $9, $10, $11, $12, now() - make_interval(mins => $13))`,
        [id, c.title, c.key, c.summary, c.description, c.category, c.tags, c.language, c.level, visibility, status, owner, i],
      );
      for (const [mi, m] of c.modules.entries()) {
        const mid = randomUUID();
        await client.query(`insert into courses.modules (id, course_id, title, summary, position) values ($1, $2, $3, $4, $5)`, [
          mid,
          id,
          m.title,
          m.summary,
          `a${mi}`,
        ]);
        for (const [li, l] of m.lessons.entries()) {
          await client.query(
            `insert into courses.lessons (id, module_id, course_id, title, type, position, content) values ($1, $2, $3, $4, 'markdown', $5, $6)`,
            [randomUUID(), mid, id, l.title, `a${li}`, JSON.stringify({ type: 'markdown', body: l.body })],
          );
        }
      }
    }
  });

  afterAll(async () => {
    await client?.end();
    await pgdb?.drop();
  });

  it('ILIKE phrase finds the whole query anywhere, title matches first, only public published courses', async () => {
    const sql = (text: string, params: unknown[]) => client.query(text, params);
    const ids = [...idOf.values()];
    expect(keyOf(await ilikeSearch(sql, 'phrase', 'sourdough', ids))).toEqual(['sourdough']);
    // Only in a lesson's text.
    expect(keyOf(await ilikeSearch(sql, 'phrase', 'Dutch oven', ids))).toEqual(['sourdough']);
    // The private course (pastry) and the draft (python-intro) never match.
    expect(await ilikeSearch(sql, 'phrase', 'éclairs', ids)).toEqual([]);
    expect(await ilikeSearch(sql, 'phrase', 'python', ids)).toEqual([]);
    // Wildcards in the query are literal.
    expect(await ilikeSearch(sql, 'phrase', '%', ids)).toEqual([]);
    expect(await ilikeSearch(sql, 'phrase', 'how do I bake bread', ids)).toEqual([]);
  });

  it('ILIKE words ranks by weighted matched words', async () => {
    const sql = (text: string, params: unknown[]) => client.query(text, params);
    const ids = [...idOf.values()];
    const bread = keyOf(await ilikeSearch(sql, 'words', 'how do I bake bread', ids));
    expect(bread[0]).toBe('sourdough');
    expect(bread).not.toContain('pastry');
    expect(keyOf(await ilikeSearch(sql, 'words', 'levain pain', ids))[0]).toBe('fr-pain');
    expect(await ilikeSearch(sql, 'words', 'a I', ids)).toEqual([]);
  });

  it('has pgvector (tools/pgvector.mjs): an HNSW cosine index answers nearest first', async () => {
    await client.query('create extension if not exists vector');
    await client.query('create table v (id int, e vector(3))');
    await client.query(`insert into v values (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')`);
    await client.query('create index on v using hnsw (e vector_cosine_ops)');
    const { rows } = await client.query<{ id: number }>(`select id from v order by e <=> '[1,0.05,0]' limit 2`);
    expect(rows.map((r) => r.id)).toEqual([1, 3]);
  });
});
