/**
 * Seeds a catalogue at scale straight into PostgreSQL (for benchmarks and demos): published courses
 * with modules and lessons (and their published snapshots), learners, enrollments and progress.
 * Usage: DATABASE_URL=… pnpm lms seed [--courses 1000] [--lessons 50] [--learners 10000] [--per-learner 3]
 * The schemas must be migrated (pnpm migrate). Shows a progress bar per phase.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export interface SeedOptions {
  courses: number;
  lessonsPerCourse: number;
  learners: number;
  enrollmentsPerLearner: number;
  /** Existing users (e.g. who can log in) to enrol like the seeded learners. */
  extraLearnerIds?: string[];
  modulesPerCourse?: number;
}

export interface SeedResult {
  courseIds: string[];
  ownerId: string;
}

/** A progress bar on stderr: `courses  [##########··········]  52% 520/1000`. */
export function progressBar(label: string, total: number) {
  let last = -1;
  const tty = process.stderr.isTTY;
  return (done: number) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (pct === last && done !== total) return;
    last = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const line = `${label.padEnd(12)} [${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total}`;
    if (tty) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
    else if (pct % 25 === 0 || done === total) process.stderr.write(`${line}\n`);
  };
}

/** The item at `i`, wrapping round the list (which must not be empty). */
function pick<T>(list: readonly T[], i: number): T {
  const item = list[i % list.length];
  if (item === undefined) throw new Error('seed: pick from an empty list');
  return item;
}

async function insertMany(client: pg.Client, table: string, columns: string[], rows: unknown[][], casts: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500);
    const params: unknown[] = [];
    const values = batch.map(
      (r) =>
        `(${r
          .map((v, j) => {
            params.push(v);
            const cast = casts[columns[j] ?? ''];
            return `$${params.length}${cast ? `::${cast}` : ''}`;
          })
          .join(', ')})`,
    );
    await client.query(`insert into ${table} (${columns.join(', ')}) values ${values.join(', ')}`, params);
  }
}

const LEVELS = ['beginner', 'intermediate', 'advanced', 'all'] as const;
const CATEGORIES = ['math', 'science', 'languages', 'history', 'programming', 'art', 'music', 'business'];
const LANGS = ['en', 'fr', 'de', 'es', 'pt-BR'];

export async function seed(databaseUrl: string, o: SeedOptions): Promise<SeedResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const modulesPerCourse = o.modulesPerCourse ?? 5;
    const ownerId = randomUUID();
    await client.query(`insert into users.users (id, email, display_name, roles) values ($1, $2, 'Seed instructor', array['instructor','student'])`, [
      ownerId,
      `seed-owner-${ownerId.slice(0, 8)}@seed.test`,
    ]);

    const courseIds: string[] = [];
    const outlines: Array<{ id: string; lessons: string[] }> = [];
    const bar = progressBar('courses', o.courses);
    const t0 = Date.now();
    for (let c = 0; c < o.courses; c++) {
      const id = randomUUID();
      courseIds.push(id);
      const publishedAt = new Date(t0 - (o.courses - c) * 60_000);
      const category = pick(CATEGORIES, c);
      const course = {
        id,
        title: `Course ${String(c).padStart(5, '0')} ${category}`,
        slug: `seed-${id.slice(0, 8)}-${c}`,
        summary: `A seeded ${category} course`,
        description: '',
        category,
        categories: [category],
        tags: [`tag${c % 20}`],
        language: pick(LANGS, c),
        level: pick(LEVELS, c),
        durationMinutes: o.lessonsPerCourse * 10,
        coverFileId: null,
        visibility: 'public',
        enrollOpensAt: null,
        enrollClosesAt: null,
        capacity: null,
        sequential: c % 2 === 0,
        prerequisites: [],
        status: 'published',
        version: 1,
        hasUnpublishedChanges: false,
        ownerId,
        createdAt: publishedAt.toISOString(),
        updatedAt: publishedAt.toISOString(),
        publishedAt: publishedAt.toISOString(),
      };
      const modules: unknown[][] = [];
      const lessons: unknown[][] = [];
      const tree = [];
      const lessonIds: string[] = [];
      for (let m = 0; m < modulesPerCourse; m++) {
        const mid = randomUUID();
        const pos = `a${m}`;
        modules.push([mid, id, `Module ${m + 1}`, pos]);
        const ls = [];
        for (let l = 0; l < Math.ceil(o.lessonsPerCourse / modulesPerCourse); l++) {
          const lid = randomUUID();
          lessonIds.push(lid);
          const content = { type: 'markdown', body: `Lesson ${l + 1} of module ${m + 1}.` };
          lessons.push([lid, mid, id, `Lesson ${m + 1}.${l + 1}`, 'markdown', `a${l}`, 10, JSON.stringify(content)]);
          ls.push({
            id: lid,
            moduleId: mid,
            courseId: id,
            title: `Lesson ${m + 1}.${l + 1}`,
            position: `a${l}`,
            durationMinutes: 10,
            content,
            html: `<p>${content.body}</p>`,
            updatedAt: course.updatedAt,
          });
        }
        tree.push({ id: mid, courseId: id, title: `Module ${m + 1}`, summary: '', position: pos, requires: [], updatedAt: course.updatedAt, lessons: ls });
      }
      await client.query('begin');
      await client.query(
        `insert into courses.courses (id, title, slug, summary, category, categories, tags, language, level, duration_minutes, visibility, sequential, status, version, owner_id, created_at, updated_at, content_changed_at, published_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'public', $11, 'published', 1, $12, $13, $13, $13, $13)`,
        [
          id,
          course.title,
          course.slug,
          course.summary,
          category,
          course.categories,
          course.tags,
          course.language,
          course.level,
          course.durationMinutes,
          course.sequential,
          ownerId,
          publishedAt,
        ],
      );
      await client.query(`insert into courses.course_members (course_id, user_id, role, added_by) values ($1, $2, 'owner', $2)`, [id, ownerId]);
      await insertMany(client, 'courses.modules', ['id', 'course_id', 'title', 'position'], modules);
      await insertMany(client, 'courses.lessons', ['id', 'module_id', 'course_id', 'title', 'type', 'position', 'duration_minutes', 'content'], lessons, {
        content: 'jsonb',
      });
      await client.query(`insert into courses.course_versions (course_id, version, snapshot, published_by, published_at) values ($1, 1, $2::jsonb, $3, $4)`, [
        id,
        JSON.stringify({ course, version: 1, modules: tree }),
        ownerId,
        publishedAt,
      ]);
      await client.query(
        `insert into courses.catalog (course_id, sort_title, search, categories, tags, language, level, visibility, published_at, course) values ($1, $2, $3, $4, $5, $6, $7, 'public', $8, $9::jsonb)`,
        [
          id,
          course.title.toLowerCase(),
          `${course.title} ${course.summary}`.toLowerCase(),
          course.categories,
          course.tags,
          course.language,
          course.level,
          publishedAt,
          JSON.stringify(course),
        ],
      );
      await client.query('commit');
      outlines.push({ id, lessons: lessonIds });
      bar(c + 1);
    }

    const learners: string[] = [...(o.extraLearnerIds ?? [])];
    const lbar = progressBar('learners', o.learners);
    const rows: unknown[][] = [];
    for (let i = 0; i < o.learners; i++) {
      const id = randomUUID();
      learners.push(id);
      rows.push([id, `learner${i}-${id.slice(0, 6)}@seed.test`, `Learner ${i}`]);
      if (rows.length === 1000 || i === o.learners - 1) {
        await insertMany(client, 'users.users', ['id', 'email', 'display_name'], rows.splice(0));
        lbar(i + 1);
      }
    }

    const ebar = progressBar('enrollments', learners.length);
    const enrollments: unknown[][] = [];
    const progress: unknown[][] = [];
    const taken = new Map<string, number>();
    for (let i = 0; i < learners.length; i++) {
      for (let k = 0; k < o.enrollmentsPerLearner && outlines.length > 0; k++) {
        const course = pick(outlines, i * 7 + k * 131);
        const eid = randomUUID();
        const done = (i + k) % (course.lessons.length + 1);
        const percent = course.lessons.length ? Math.round((done / course.lessons.length) * 1000) / 10 : 0;
        enrollments.push([eid, course.id, learners[i], done === course.lessons.length ? 'completed' : 'active', new Date(), percent, new Date()]);
        for (const l of course.lessons.slice(0, done)) progress.push([eid, l]);
        taken.set(course.id, (taken.get(course.id) ?? 0) + 1);
      }
      if (enrollments.length >= 1000 || i === learners.length - 1) {
        await insertMany(
          client,
          'enrollments.enrollments',
          ['id', 'course_id', 'user_id', 'status', 'enrolled_at', 'percent', 'last_activity_at'],
          enrollments.splice(0),
        );
        await insertMany(client, 'enrollments.lesson_progress', ['enrollment_id', 'lesson_id'], progress.splice(0));
        ebar(i + 1);
      }
    }
    await insertMany(
      client,
      'enrollments.seats',
      ['course_id', 'capacity', 'taken'],
      [...taken].map(([c, n]) => [c, null, n]),
    );
    await client.query('analyze');
    return { courseIds, ownerId };
  } finally {
    await client.end();
  }
}
