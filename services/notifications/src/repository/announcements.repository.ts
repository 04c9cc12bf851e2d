import { randomUUID } from 'node:crypto';
import { decodeCursor, dueRows } from '@lms/runtime';
import { sql, type Kysely } from 'kysely';
import type { AnnouncementRow, NotificationsDB } from '../db.js';

/** Announcements to a course's learners (by its staff, or of a new course version), and their fan-out cursor. */
export class AnnouncementsRepository {
  constructor(private readonly db: Kysely<NotificationsDB>) {}

  create(a: { courseId: string; courseTitle: string; authorId: string; title: string; body: string }): Promise<AnnouncementRow> {
    return this.db
      .insertInto('announcements')
      .values({
        id: randomUUID(),
        kind: 'announcement',
        course_id: a.courseId,
        course_title: a.courseTitle,
        author_id: a.authorId,
        title: a.title,
        body: a.body,
        cursor: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** An internal announcement that a course has a new version (once per event). */
  async addCourseUpdate(a: { id: string; courseId: string; courseTitle: string; authorId: string; title: string; body: string }): Promise<void> {
    await this.db
      .insertInto('announcements')
      .values({
        id: a.id,
        kind: 'course_updated',
        course_id: a.courseId,
        course_title: a.courseTitle,
        author_id: a.authorId,
        title: a.title,
        body: a.body,
        cursor: null,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  /** A page of a course's announcements (staff ones, not course updates), newest first, one row more than `limit`. */
  page(courseId: string, p: { cursor?: string; limit: number }): Promise<AnnouncementRow[]> {
    let q = this.db.selectFrom('announcements').selectAll().where('course_id', '=', courseId).where('kind', '=', 'announcement');
    if (p.cursor) {
      const c = decodeCursor(p.cursor);
      q = q.where(sql<boolean>`(created_at, id) < (${c.createdAt}, ${c.id}::uuid)`);
    }
    return q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(p.limit + 1)
      .execute();
  }

  byId(courseId: string, id: string): Promise<AnnouncementRow | undefined> {
    return this.db.selectFrom('announcements').selectAll().where('id', '=', id).where('course_id', '=', courseId).executeTakeFirst();
  }

  /** Claims the oldest announcement still fanning out (SKIP LOCKED) for two minutes. In a unit of work. */
  async claimDue(): Promise<AnnouncementRow | undefined> {
    const due = await dueRows(this.db.selectFrom('announcements').selectAll(), ['fanning_out']).limit(1).executeTakeFirst();
    if (due)
      await this.db
        .updateTable('announcements')
        .set({ run_after: sql`now() + interval '2 minutes'` })
        .where('id', '=', due.id)
        .execute();
    return due;
  }

  async postpone(id: string, delayMs: number): Promise<void> {
    await this.db
      .updateTable('announcements')
      .set({ run_after: sql`now() + ${`${delayMs} milliseconds`}::interval` })
      .where('id', '=', id)
      .execute();
  }

  /** Keeps the fan-out's place after a page of recipients: `next` null means every recipient was listed. */
  async advance(id: string, next: string | null, added: number): Promise<void> {
    await this.db
      .updateTable('announcements')
      .set({ cursor: next, recipients: sql`recipients + ${added}`, status: next ? 'fanning_out' : 'queued', run_after: sql`now()` })
      .where('id', '=', id)
      .execute();
  }
}
