import { sql, type Generated, type Insertable, type Kysely } from 'kysely';

export interface LlmDB {
  requests: {
    id: string;
    user_id: string;
    course_id: string | null;
    task: string;
    model: string;
    tokens_in: number;
    tokens_out: number;
    latency_ms: number;
    at: Generated<Date>;
  };
}

/** The only code with SQL for the llm service. */
export class LlmRepository {
  constructor(private readonly db: Kysely<LlmDB>) {}

  async record(r: Insertable<LlmDB['requests']>): Promise<void> {
    await this.db.insertInto('requests').values(r).execute();
  }

  /** What the quota rule needs: requests in the last minute (and when the oldest was), tokens since midnight UTC. */
  async usedBy(userId: string): Promise<{ recentRequests: number; windowStartMs: number; tokensToday: number }> {
    const row = await this.db
      .selectFrom('requests')
      .where('user_id', '=', userId)
      .where('at', '>=', sql<Date>`date_trunc('day', now() at time zone 'utc') at time zone 'utc'`)
      .select([
        sql<number>`count(*) filter (where at > now() - interval '1 minute')::int`.as('recent'),
        sql<Date | null>`min(at) filter (where at > now() - interval '1 minute')`.as('oldest'),
        sql<number>`coalesce(sum(tokens_in + tokens_out), 0)::int`.as('tokens'),
      ])
      .executeTakeFirstOrThrow();
    return { recentRequests: row.recent, windowStartMs: row.oldest ? new Date(row.oldest).getTime() : Date.now(), tokensToday: row.tokens };
  }

  async usage(days: number) {
    return this.db
      .selectFrom('requests')
      .where('at', '>', sql<Date>`now() - make_interval(days => ${days})`)
      .groupBy(['user_id', 'course_id', 'model', 'task'])
      .select([
        'user_id',
        'course_id',
        'model',
        'task',
        sql<number>`count(*)::int`.as('requests'),
        sql<number>`sum(tokens_in)::int`.as('tokens_in'),
        sql<number>`sum(tokens_out)::int`.as('tokens_out'),
        sql<number>`avg(latency_ms)::int`.as('latency_ms'),
      ])
      .orderBy('user_id')
      .orderBy('model')
      .execute();
  }

  async exportUser(userId: string) {
    return this.db
      .selectFrom('requests')
      .where('user_id', '=', userId)
      .select(['course_id', 'task', 'model', 'tokens_in', 'tokens_out', 'latency_ms', 'at'])
      .orderBy('at')
      .execute();
  }

  async eraseUser(userId: string): Promise<void> {
    await this.db.deleteFrom('requests').where('user_id', '=', userId).execute();
  }
}
