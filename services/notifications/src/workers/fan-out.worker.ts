import { createHash } from 'node:crypto';
import { enrollmentsInternal, type NotificationTemplate } from '@lms/contracts';
import { PollingWorker } from '@lms/runtime';
import type { NotificationsContext } from '../context.js';
import type { AnnouncementRow } from '../db.js';

/** A stable id from parts: the same announcement and learner always make the same request (idempotent fan-out). */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** How long an announcement waits when its learners cannot be listed (the enrollments service is away). */
const LIST_RETRY_MS = 5000;

/**
 * Lists an announcement's recipients a page at a time (from the enrollments service, outside any
 * transaction) and writes one request per learner, idempotently (a stable id per announcement and learner);
 * the cursor is kept, so a crash resumes where it stopped.
 */
export class FanOutWorker extends PollingWorker<AnnouncementRow> {
  constructor(
    private readonly s: NotificationsContext,
    private readonly kickRouter: () => void,
  ) {
    super(s.logger, s.config.NOTIFY_POLL_MS);
  }

  protected claim() {
    return this.s.uow(({ repo }) => repo.announcements.claimDue());
  }

  protected async run(a: AnnouncementRow): Promise<void> {
    let page: { userIds: string[]; next: string | null };
    try {
      page = await this.s.call(enrollmentsInternal.learnerIds, { courseId: a.course_id, after: a.cursor ?? undefined, limit: 500 });
    } catch (err) {
      await this.s.repo.announcements.postpone(a.id, LIST_RETRY_MS);
      this.log.warn({ announcementId: a.id, err: String(err) }, 'cannot list the learners; will retry');
      return;
    }
    const template: NotificationTemplate = a.kind === 'course_updated' ? 'course_updated' : 'announcement';
    const data = JSON.stringify({ courseId: a.course_id, courseTitle: a.course_title, title: a.title, body: a.body });
    await this.s.uow(async ({ repo }) => {
      const added = await repo.requests.addMany(
        page.userIds.map((userId) => ({ event_id: stableId(a.id, userId), user_id: userId, to: null, template, locale: 'en', data, announcement_id: a.id })),
      );
      await repo.announcements.advance(a.id, page.next, added);
    });
    this.log.info({ announcementId: a.id, listed: page.userIds.length, more: page.next !== null }, 'announcement recipients listed');
    this.kickRouter();
  }
}
