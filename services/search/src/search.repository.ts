import { dueRows } from '@lms/runtime';
import { sql, type Generated, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import { TS_CONFIGS } from './domain/text.js';

/** The live documents table, or the shadow a rebuild fills. */
export type DocumentsTable = 'documents' | 'documents_next';

export interface SearchDB {
  courses: {
    course_id: string;
    status: string;
    visibility: string;
    owner_id: string | null;
    version: number;
    enrolled: Generated<number>;
    indexed_at: Generated<Date>;
  };
  documents: {
    id: string;
    type: string;
    course_id: string;
    module_id: string | null;
    lesson_id: string | null;
    chunk: number;
    state: string;
    title: string;
    title_norm: string;
    summary: string;
    content: string;
    language: string;
    ts_config: string;
    category: string | null;
    level: string | null;
    tags: string[];
    duration_bucket: string | null;
    published_at: Date | null;
    tsv: string;
  };
  /** The shadow a rebuild fills while `documents` serves (same columns and indexes), swapped in at its end. */
  documents_next: SearchDB['documents'];
  members: { course_id: string; user_id: string; role: string };
  pending: { course_id: string; status: Generated<string>; tries: Generated<number>; run_after: Generated<Date> };
  vocabulary: { word: string };
  synonyms: { term: string; synonyms: string[] };
  searches: { id: string; at: Generated<Date>; query: string; filters: string; results: number; latency_ms: number; mode: string; user_id: string | null };
  clicks: { id: string; at: Generated<Date>; query: string; document_id: string; position: number; user_id: string | null };
}

/** One document of the index as the indexer builds it (title A, summary and tags B, content C). */
export interface NewDocument {
  id: string;
  type: 'course' | 'module' | 'lesson' | 'file';
  courseId: string;
  moduleId: string | null;
  lessonId: string | null;
  chunk: number;
  state: 'published' | 'draft';
  title: string;
  summary: string;
  content: string;
  language: string;
  tsConfig: string;
  category: string | null;
  level: string | null;
  tags: string[];
  durationBucket: string | null;
  publishedAt: string | null;
}

export interface CourseFacts {
  courseId: string;
  status: string;
  visibility: string;
  ownerId: string;
  version: number;
}

/** Who is searching: their id (none: anonymous) and whether they may read every course. */
export interface Viewer {
  userId: string | null;
  readAll: boolean;
}

export interface Filters {
  type?: string;
  category?: string;
  level?: string;
  language?: string;
  tags?: string[];
}

/** A query's words, each with the forms that may match it (itself, its synonyms, a close spelling). */
export type TermGroups = string[][];

export type PendingRow = { course_id: string; tries: number };
export type HitRow = Selectable<SearchDB['documents']> & { rank: number; total: number };
export type FacetRow = { facet: string; value: string | null; count: number };

const LEASE_MS = 60_000;
/** Roles that see a course's drafts. */
const STAFF = ['owner', 'instructor', 'ta'];

export class SearchRepository {
  private vectors: Promise<boolean> | undefined;
  constructor(private readonly db: Kysely<SearchDB>) {}

  /** Whether the index has vector columns (pgvector was available when it was created). */
  hasVectors(): Promise<boolean> {
    this.vectors ??= sql<{ n: number }>`select count(*)::int as n from information_schema.columns
        where table_schema = 'search' and table_name = 'documents' and column_name = 'embedding'`
      .execute(this.db)
      .then((r) => (r.rows[0]?.n ?? 0) > 0);
    return this.vectors;
  }

  // ------------------------------------------------------------------ indexing queue

  /** Queues a course to be read again from courses (idempotent: a course is queued once however often it changes). */
  async queue(courseId: string): Promise<void> {
    await this.db
      .insertInto('pending')
      .values({ course_id: courseId })
      .onConflict((oc) => oc.column('course_id').doUpdateSet({ run_after: sql`now()`, status: 'pending', tries: 0 }))
      .execute();
  }

  async claimPending(): Promise<PendingRow | undefined> {
    const row = await dueRows(this.db.selectFrom('pending').select(['course_id', 'tries']), ['pending'])
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    await this.db
      .updateTable('pending')
      .set({ run_after: new Date(Date.now() + LEASE_MS), tries: row.tries + 1 })
      .where('course_id', '=', row.course_id)
      .execute();
    return row;
  }

  /** Done with a course, unless it was queued again since it was claimed (then it runs again). */
  async donePending(courseId: string, tries: number): Promise<void> {
    await this.db
      .deleteFrom('pending')
      .where('course_id', '=', courseId)
      .where('tries', '=', tries + 1)
      .execute();
  }

  async postponePending(courseId: string, ms: number, failed: boolean): Promise<void> {
    await this.db
      .updateTable('pending')
      .set({ run_after: new Date(Date.now() + ms), status: failed ? 'failed' : 'pending' })
      .where('course_id', '=', courseId)
      .execute();
  }

  async pendingCount(): Promise<number> {
    const r = await this.db
      .selectFrom('pending')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ------------------------------------------------------------------ documents

  /** Replaces everything indexed of a course (same documents whatever the redeliveries: ids are derived, rows replaced). */
  async replaceCourse(facts: CourseFacts, docs: readonly NewDocument[], words: readonly string[], table: DocumentsTable = 'documents'): Promise<void> {
    // `indexed_at` says when the live index last changed a course; a rebuild's shadow leaves it (see swapShadow).
    const live = table === 'documents';
    const set = { status: facts.status, visibility: facts.visibility, owner_id: facts.ownerId, version: facts.version };
    await this.db
      .insertInto('courses')
      .values({ course_id: facts.courseId, ...set, indexed_at: live ? sql<Date>`now()` : new Date(0) })
      .onConflict((oc) => oc.column('course_id').doUpdateSet({ ...set, ...(live && { indexed_at: sql<Date>`now()` }) }))
      .execute();
    await this.db.deleteFrom(table).where('course_id', '=', facts.courseId).execute();
    for (let i = 0; i < docs.length; i += 200) {
      await this.db
        .insertInto(table)
        .values(
          docs.slice(i, i + 200).map((d) => {
            const cfg = sql`${d.tsConfig}::regconfig`;
            return {
              id: d.id,
              type: d.type,
              course_id: d.courseId,
              module_id: d.moduleId,
              lesson_id: d.lessonId,
              chunk: d.chunk,
              state: d.state,
              title: d.title,
              title_norm: sql<string>`lower(public.unaccent(${d.title}))`,
              summary: d.summary,
              content: d.content,
              language: d.language,
              ts_config: d.tsConfig,
              category: d.category,
              level: d.level,
              tags: d.tags,
              duration_bucket: d.durationBucket,
              published_at: d.publishedAt ? new Date(d.publishedAt) : null,
              tsv: sql<string>`setweight(to_tsvector(${cfg}, ${d.title}), 'A') || setweight(to_tsvector(${cfg}, ${d.summary + ' ' + d.tags.join(' ')}), 'B') || setweight(to_tsvector(${cfg}, ${d.content}), 'C')`,
            };
          }),
        )
        .execute();
    }
    if (words.length)
      await this.db
        .insertInto('vocabulary')
        .values(words.map((word) => ({ word })))
        .onConflict((oc) => oc.column('word').doNothing())
        .execute();
  }

  /** Stores vectors of one model (only where the index has vector columns). */
  async setEmbeddings(model: string, rows: ReadonlyArray<{ id: string; vector: Float32Array }>, table: DocumentsTable = 'documents'): Promise<void> {
    for (const r of rows) {
      const literal = `[${Array.from(r.vector).join(',')}]`;
      await sql`update ${sql.table(`search.${table}`)} set embedding = ${literal}::public.vector, embedding_model = ${model}, embedding_dim = ${r.vector.length}
        where id = ${r.id}`.execute(this.db);
    }
  }

  // ------------------------------------------------------------------ rebuild (shadow tables, then one swap)

  /** An empty shadow of `documents` (its columns, vector ones included, and its indexes). */
  async createShadow(): Promise<void> {
    await sql`drop table if exists search.documents_next`.execute(this.db);
    await sql`create table search.documents_next (like search.documents including all)`.execute(this.db);
  }

  async dropShadow(): Promise<void> {
    await sql`drop table if exists search.documents_next`.execute(this.db);
  }

  /**
   * Puts the shadow in the live table's place, in the caller's transaction: courses the live indexer wrote since the
   * rebuild began are copied over first (their documents are newer than the rebuild's), then the tables swap under an
   * exclusive lock, so a query sees either the old index or the new one, never an empty or half-built one.
   */
  async swapShadow(since: Date): Promise<void> {
    await sql`lock table search.documents in access exclusive mode`.execute(this.db);
    const newer = sql`select course_id from search.courses where indexed_at >= ${since}`;
    await sql`delete from search.documents_next where course_id in (${newer})`.execute(this.db);
    await sql`insert into search.documents_next select * from search.documents where course_id in (${newer})`.execute(this.db);
    // Courses removed meanwhile (gone from courses) leave with the old table.
    await sql`delete from search.documents_next n where not exists (select 1 from search.courses c where c.course_id = n.course_id)`.execute(this.db);
    await sql`alter table search.documents rename to documents_old`.execute(this.db);
    await sql`alter table search.documents_next rename to documents`.execute(this.db);
    await sql`drop table search.documents_old`.execute(this.db);
  }

  /** Every course the index has learnt of from events (indexed or still queued). */
  async knownCourses(): Promise<string[]> {
    const r = await sql<{ course_id: string }>`select course_id from search.courses union select course_id from search.pending order by 1`.execute(this.db);
    return r.rows.map((x) => x.course_id);
  }

  async removeCourse(courseId: string): Promise<void> {
    await this.db.deleteFrom('documents').where('course_id', '=', courseId).execute();
    await this.db.deleteFrom('courses').where('course_id', '=', courseId).execute();
  }

  async documentCount(courseId?: string): Promise<number> {
    let q = this.db.selectFrom('documents').select((eb) => eb.fn.countAll<number>().as('n'));
    if (courseId) q = q.where('course_id', '=', courseId);
    return Number((await q.executeTakeFirst())?.n ?? 0);
  }

  // ------------------------------------------------------------------ membership (enrollments and course roles)

  /** A learner's seat never overrides a staff role; a staff role replaces a learner's. */
  async putMember(courseId: string, userId: string, role: string): Promise<void> {
    await this.db
      .insertInto('members')
      .values({ course_id: courseId, user_id: userId, role })
      .onConflict((oc) => (role === 'learner' ? oc.columns(['course_id', 'user_id']).doNothing() : oc.columns(['course_id', 'user_id']).doUpdateSet({ role })))
      .execute();
    await this.recount(courseId);
  }

  /** Removes a membership; `onlyRole`: only if the user holds that role (a dropped enrollment leaves staff alone). */
  async removeMember(courseId: string, userId: string, onlyRole?: string): Promise<void> {
    let q = this.db.deleteFrom('members').where('course_id', '=', courseId).where('user_id', '=', userId);
    if (onlyRole) q = q.where('role', '=', onlyRole);
    await q.execute();
    await this.recount(courseId);
  }

  private async recount(courseId: string): Promise<void> {
    await sql`update search.courses set enrolled = (select count(*) from search.members m where m.course_id = ${courseId} and m.role = 'learner')
      where course_id = ${courseId}`.execute(this.db);
  }

  /** Erasure: the person's memberships, and their id in search analytics (the queries stay, anonymous). */
  async erasePerson(userId: string): Promise<{ memberships: number; searches: number; clicks: number }> {
    const m = await this.db.deleteFrom('members').where('user_id', '=', userId).returning('course_id').execute();
    for (const c of new Set(m.map((r) => r.course_id))) await this.recount(c);
    const s = await this.db.updateTable('searches').set({ user_id: null }).where('user_id', '=', userId).executeTakeFirst();
    const k = await this.db.updateTable('clicks').set({ user_id: null }).where('user_id', '=', userId).executeTakeFirst();
    return { memberships: m.length, searches: Number(s.numUpdatedRows), clicks: Number(k.numUpdatedRows) };
  }

  async personal(userId: string) {
    const [memberships, searches] = await Promise.all([
      this.db.selectFrom('members').select(['course_id', 'role']).where('user_id', '=', userId).execute(),
      this.db.selectFrom('searches').select(['at', 'query', 'results']).where('user_id', '=', userId).orderBy('at', 'desc').limit(1000).execute(),
    ]);
    return { memberships, searches };
  }

  // ------------------------------------------------------------------ query

  /**
   * What the viewer may see, in SQL: published course and module documents of public courses, every published
   * document of a course they belong to (enrolled or staff), drafts to the course's staff; admins everything.
   * Archived courses are not indexed. `d` is a document, `c` its course, `m` the viewer's membership (left join).
   */
  private visible(v: Viewer): RawBuilder<boolean> {
    if (v.readAll) return sql<boolean>`true`;
    // The owner's membership is not an event of its own: the course row names them.
    const staff = sql`(m.role in (${sql.join(STAFF)}) or c.owner_id = ${v.userId})`;
    return sql<boolean>`((d.state = 'published' and c.status = 'published'
        and ((d.type in ('course', 'module') and c.visibility = 'public') or m.role is not null or ${staff}))
      or (d.state = 'draft' and ${staff}))`;
  }

  private filters(f: Filters): RawBuilder<boolean> {
    const parts: Array<RawBuilder<unknown>> = [sql`true`];
    if (f.type) parts.push(sql`d.type = ${f.type}`);
    if (f.category) parts.push(sql`d.category = ${f.category}`);
    if (f.level) parts.push(sql`d.level = ${f.level}`);
    if (f.language) parts.push(sql`d.language = ${f.language}`);
    if (f.tags?.length) parts.push(sql`d.tags @> ${f.tags}::text[]`);
    return sql<boolean>`(${sql.join(parts, sql` and `)})`;
  }

  /** The tsquery of the term groups in one configuration: every group must match, any of its forms; the last word also as a prefix. */
  private tsquery(cfg: string, groups: TermGroups): RawBuilder<unknown> {
    const c = sql`${cfg}::regconfig`;
    const parts = groups.map((forms, i) => {
      const alts = forms.map((f) => sql`plainto_tsquery(${c}, ${f})`);
      const last = i === groups.length - 1 ? forms[0] : undefined;
      if (last) alts.push(sql`to_tsquery('search.lms_simple'::regconfig, ${last + ':*'})`);
      return sql`(${sql.join(alts, sql` || `)})`;
    });
    return sql`(${sql.join(parts, sql` && `)})`;
  }

  private match(groups: TermGroups): { where: RawBuilder<boolean>; rank: RawBuilder<number> } {
    if (groups.length === 0) return { where: sql<boolean>`true`, rank: sql<number>`0::real` };
    const where = TS_CONFIGS.map((cfg) => sql`(d.ts_config = ${cfg} and d.tsv @@ ${this.tsquery(cfg, groups)})`);
    const rank = sql<number>`ts_rank_cd(d.tsv, case d.ts_config ${sql.join(
      TS_CONFIGS.map((cfg) => sql`when ${cfg} then ${this.tsquery(cfg, groups)}`),
      sql` `,
    )} end)`;
    return { where: sql<boolean>`(${sql.join(where, sql` or `)})`, rank };
  }

  /** The matching documents the viewer may see, in the order asked for, one page, with the total. */
  async lexical(args: { viewer: Viewer; groups: TermGroups; filters: Filters; sort: string; offset: number; limit: number }): Promise<HitRow[]> {
    const { where, rank } = this.match(args.groups);
    const order =
      args.sort === 'newest'
        ? sql`d.published_at desc nulls last, d.id`
        : args.sort === 'popularity'
          ? sql`c.enrolled desc, rank desc, d.id`
          : sql`rank desc, c.enrolled desc, d.id`;
    const r = await sql<HitRow>`select d.*, ${rank} as rank, (count(*) over ())::int as total
      from search.documents d
      join search.courses c on c.course_id = d.course_id
      left join search.members m on m.course_id = d.course_id and m.user_id = ${args.viewer.userId}
      where ${this.visible(args.viewer)} and ${this.filters(args.filters)} and ${where}
      order by ${order}
      limit ${args.limit} offset ${args.offset}`.execute(this.db);
    return r.rows;
  }

  /** Nearest documents by vector (one model's vectors only), among those the viewer may see. */
  async semantic(args: { viewer: Viewer; vector: Float32Array; model: string; filters: Filters; limit: number }): Promise<string[]> {
    const literal = `[${Array.from(args.vector).join(',')}]`;
    const r = await sql<{ id: string }>`select d.id
      from search.documents d
      join search.courses c on c.course_id = d.course_id
      left join search.members m on m.course_id = d.course_id and m.user_id = ${args.viewer.userId}
      where ${this.visible(args.viewer)} and ${this.filters(args.filters)}
        and d.embedding_model = ${args.model} and d.embedding_dim = ${args.vector.length}
      order by d.embedding <=> ${literal}::public.vector
      limit ${args.limit}`.execute(this.db);
    return r.rows.map((x) => x.id);
  }

  /** Rows of the given documents (a fused page), still checked against what the viewer may see. */
  async documentsById(viewer: Viewer, ids: readonly string[]): Promise<Array<Selectable<SearchDB['documents']>>> {
    if (ids.length === 0) return [];
    const r = await sql<Selectable<SearchDB['documents']>>`select d.* from search.documents d
      join search.courses c on c.course_id = d.course_id
      left join search.members m on m.course_id = d.course_id and m.user_id = ${viewer.userId}
      where d.id in (${sql.join(ids)}) and ${this.visible(viewer)}`.execute(this.db);
    return r.rows;
  }

  /** Facet counts over every matching document the viewer may see. */
  async facets(args: { viewer: Viewer; groups: TermGroups; filters: Filters }): Promise<FacetRow[]> {
    const { where } = this.match(args.groups);
    const r = await sql<FacetRow>`with hits as (
        select d.type, d.category, d.level, d.language, d.tags, d.duration_bucket, c.owner_id::text as owner
        from search.documents d
        join search.courses c on c.course_id = d.course_id
        left join search.members m on m.course_id = d.course_id and m.user_id = ${args.viewer.userId}
        where ${this.visible(args.viewer)} and ${this.filters(args.filters)} and ${where})
      select 'type' as facet, type as value, count(*)::int as count from hits group by type
      union all select 'category', category, count(*)::int from hits where category is not null group by category
      union all select 'level', level, count(*)::int from hits where level is not null group by level
      union all select 'language', language, count(*)::int from hits group by language
      union all select 'duration', duration_bucket, count(*)::int from hits where duration_bucket is not null group by duration_bucket
      union all select 'instructor', owner, count(*)::int from hits where owner is not null group by owner
      union all select 'tags', t, count(*)::int from hits, unnest(hits.tags) t group by t`.execute(this.db);
    return r.rows;
  }

  /** For each word: whether the index knows it, and the closest word it knows (trigram similarity). */
  async spelling(words: readonly string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const w of words) {
      // Short words are left alone: a stop word (`le`, `of`) corrected to a real word would become a required one.
      if (w.length < 4) {
        out.set(w, w);
        continue;
      }
      const r = await sql<{ word: string; known: boolean }>`select v.word, v.word = ${w} as known from search.vocabulary v
        where v.word operator(public.%) ${w} and public.similarity(v.word, ${w}) >= 0.45
        order by v.word = ${w} desc, public.similarity(v.word, ${w}) desc, v.word limit 1`.execute(this.db);
      const best = r.rows[0];
      out.set(w, best ? (best.known ? w : best.word) : null);
    }
    return out;
  }

  /** Synonym sets containing any of the words, both ways (a term finds its synonyms, a synonym its term and siblings). */
  async synonymsOf(words: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (words.length === 0) return out;
    const rows = await sql<{ term: string; synonyms: string[] }>`select term, synonyms from search.synonyms
      where term in (${sql.join(words)}) or synonyms && ${[...words]}::text[]`.execute(this.db);
    for (const w of words) {
      const set = new Set<string>();
      for (const r of rows.rows) if (r.term === w || r.synonyms.includes(w)) for (const s of [r.term, ...r.synonyms]) if (s !== w) set.add(s);
      out.set(w, [...set]);
    }
    return out;
  }

  async setSynonyms(term: string, synonyms: readonly string[]): Promise<void> {
    if (synonyms.length === 0) await this.db.deleteFrom('synonyms').where('term', '=', term).execute();
    else
      await this.db
        .insertInto('synonyms')
        .values({ term, synonyms: [...synonyms] })
        .onConflict((oc) => oc.column('term').doUpdateSet({ synonyms: [...synonyms] }))
        .execute();
  }

  listSynonyms() {
    return this.db.selectFrom('synonyms').select(['term', 'synonyms']).orderBy('term').execute();
  }

  /** Titles starting with the folded prefix (index on title_norm), courses first, then the viewer's visibility. */
  async suggest(viewer: Viewer, prefix: string, limit: number): Promise<Array<{ title: string; type: string; course_id: string }>> {
    const like = prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    const r = await sql<{ title: string; type: string; course_id: string }>`select distinct on (d.title_norm) d.title, d.type, d.course_id
      from search.documents d
      join search.courses c on c.course_id = d.course_id
      left join search.members m on m.course_id = d.course_id and m.user_id = ${viewer.userId}
      where d.title_norm like ${like} and d.chunk = 0 and ${this.visible(viewer)}
      order by d.title_norm, (d.type = 'course') desc
      limit ${limit}`.execute(this.db);
    return r.rows;
  }

  // ------------------------------------------------------------------ analytics

  async recordSearch(s: {
    id: string;
    query: string;
    filters: Record<string, string>;
    results: number;
    latencyMs: number;
    mode: string;
    userId: string | null;
  }) {
    await this.db
      .insertInto('searches')
      .values({ id: s.id, query: s.query, filters: JSON.stringify(s.filters), results: s.results, latency_ms: s.latencyMs, mode: s.mode, user_id: s.userId })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async recordClick(c: { query: string; documentId: string; position: number; userId: string | null }) {
    await this.db
      .insertInto('clicks')
      .values({ id: randomUUID(), query: c.query, document_id: c.documentId, position: c.position, user_id: c.userId })
      .execute();
  }

  async analytics(days: number, limit: number) {
    const since = new Date(Date.now() - days * 86_400_000);
    const top = await sql<{ query: string; searches: number; clicks: number }>`select s.query, count(*)::int as searches,
        (select count(*)::int from search.clicks k where k.query = s.query and k.at >= ${since}) as clicks
      from search.searches s where s.at >= ${since} and s.query <> '' group by s.query order by searches desc, s.query limit ${limit}`.execute(this.db);
    const zero = await sql<{ query: string; searches: number }>`select query, count(*)::int as searches from search.searches
      where at >= ${since} and results = 0 and query <> '' group by query order by searches desc, query limit ${limit}`.execute(this.db);
    const totals = await sql<{ searches: number; clicked: number }>`select count(*)::int as searches,
        (select count(*)::int from search.clicks k where k.at >= ${since}) as clicked
      from search.searches where at >= ${since}`.execute(this.db);
    return { top: top.rows, zeroResults: zero.rows, searches: totals.rows[0]?.searches ?? 0, clicked: totals.rows[0]?.clicked ?? 0 };
  }
}
