import { sql, type Kysely } from 'kysely';

export interface AnalyticsDB {
  published_by_category: { category: string; published: number };
  enrollments_by_course: { course_id: string; enrolled: number; from_waitlist: number };
  assessments_by_course: { course_id: string; submitted: number; graded: number; completed: number };
}

export class AnalyticsRepository {
  constructor(private readonly db: Kysely<AnalyticsDB>) {}

  async countPublished(category: string, n = 1): Promise<void> {
    await this.db
      .insertInto('published_by_category')
      .values({ category, published: n })
      .onConflict((oc) => oc.column('category').doUpdateSet({ published: sql`published_by_category.published + excluded.published` }))
      .execute();
  }

  publishedByCategory() {
    return this.db.selectFrom('published_by_category').selectAll().orderBy('published', 'desc').orderBy('category').execute();
  }

  async reset(): Promise<void> {
    await this.db.deleteFrom('published_by_category').execute();
  }

  async countEnrollment(courseId: string, fromWaitlist: boolean): Promise<void> {
    await this.db
      .insertInto('enrollments_by_course')
      .values({ course_id: courseId, enrolled: 1, from_waitlist: fromWaitlist ? 1 : 0 })
      .onConflict((oc) =>
        oc.column('course_id').doUpdateSet({
          enrolled: sql`enrollments_by_course.enrolled + 1`,
          from_waitlist: sql`enrollments_by_course.from_waitlist + excluded.from_waitlist`,
        }),
      )
      .execute();
  }

  enrollmentsByCourse(limit: number) {
    return this.db.selectFrom('enrollments_by_course').selectAll().orderBy('enrolled', 'desc').orderBy('course_id').limit(limit).execute();
  }

  async resetEnrollments(): Promise<void> {
    await this.db.deleteFrom('enrollments_by_course').execute();
  }

  /** Counts one assessment submission, grade or course completion of a course. */
  async countAssessment(courseId: string, what: 'submitted' | 'graded' | 'completed'): Promise<void> {
    await this.db
      .insertInto('assessments_by_course')
      .values({ course_id: courseId, submitted: what === 'submitted' ? 1 : 0, graded: what === 'graded' ? 1 : 0, completed: what === 'completed' ? 1 : 0 })
      .onConflict((oc) =>
        oc.column('course_id').doUpdateSet({
          submitted: sql`assessments_by_course.submitted + excluded.submitted`,
          graded: sql`assessments_by_course.graded + excluded.graded`,
          completed: sql`assessments_by_course.completed + excluded.completed`,
        }),
      )
      .execute();
  }

  /** Empties one count (its consumer replays the stream into it); the other counts stay. */
  async resetAssessments(what: 'submitted' | 'graded' | 'completed'): Promise<void> {
    await this.db
      .updateTable('assessments_by_course')
      .set({ [what]: 0 })
      .execute();
  }
}
