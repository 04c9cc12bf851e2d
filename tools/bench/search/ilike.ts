/**
 * The plain ILIKE baselines the search bench prints beside the search service's modes, run straight in SQL on the
 * courses service's tables over the same published, public courses (those the bench seeded, by id):
 * - `phrase`: the whole query as one substring (what the catalogue's `q` filter does today, here over lesson text too),
 *   title matches first, then summary/description/tags, then module and lesson text;
 * - `words`: each word of 3+ letters as its own substring, courses ranked by a weighted count of matched words
 *   (title 3, summary/description/tags 2, modules and lessons 1): the best one can do with ILIKE alone.
 */
export type Query = (sql: string, params: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }>;

export type IlikeVariant = 'phrase' | 'words';

const DOCS = `
  with docs as (
    select c.id, c.published_at, c.title,
      concat_ws(' ', c.summary, c.description, array_to_string(c.tags, ' ')) as meta,
      concat_ws(' ',
        (select string_agg(m.title || ' ' || m.summary, ' ') from courses.modules m where m.course_id = c.id),
        (select string_agg(l.title || ' ' || coalesce(l.content->>'body', ''), ' ') from courses.lessons l where l.course_id = c.id)
      ) as content
    from courses.courses c
    where c.status = 'published' and c.visibility = 'public' and c.id = any($1::uuid[])
  )`;

/** A LIKE pattern matching `s` anywhere, its own % _ and \ escaped. */
export function containsPattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** The words of a query that the `words` baseline looks for: letters and digits, 3 or more, lowercased, at most 8. */
export function queryWords(q: string): string[] {
  return [...new Set(q.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [])].slice(0, 8);
}

/** The ids of the courses that match, best first, at most `limit`. */
export async function ilikeSearch(query: Query, variant: IlikeVariant, q: string, courseIds: readonly string[], limit = 20): Promise<string[]> {
  if (variant === 'phrase') {
    const p = containsPattern(q.trim());
    const { rows } = await query(
      `${DOCS}
       select id from docs where title ilike $2 or meta ilike $2 or content ilike $2
       order by (title ilike $2) desc, (meta ilike $2) desc, published_at desc, id limit $3`,
      [courseIds, p, limit],
    );
    return rows.map((r) => String(r.id));
  }
  const words = queryWords(q).map(containsPattern);
  if (words.length === 0) return [];
  const { rows } = await query(
    `${DOCS}
     select d.id, sum((d.title ilike w)::int * 3 + (d.meta ilike w)::int * 2 + (d.content ilike w)::int) as score
     from docs d cross join unnest($2::text[]) as w
     group by d.id, d.published_at
     having sum((d.title ilike w)::int * 3 + (d.meta ilike w)::int * 2 + (d.content ilike w)::int) > 0
     order by score desc, d.published_at desc, d.id limit $3`,
    [courseIds, words, limit],
  );
  return rows.map((r) => String(r.id));
}
