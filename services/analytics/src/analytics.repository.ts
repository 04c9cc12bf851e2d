import { sql, type Kysely } from 'kysely';

export interface AnalyticsDB {
  published_by_category: { category: string; published: number };
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
}
