import { sql, type Kysely } from 'kysely';

/**
 * Every channel gets its own delivery row (one per event and channel, keyed by its own id); requests are
 * routed by the user's preferences before anything is queued; web push subscriptions; announcements.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table notifications.delivery_attempts drop constraint delivery_attempts_event_id_fkey`.execute(db);
  await sql`alter table notifications.deliveries drop constraint deliveries_pkey`.execute(db);
  await sql`alter table notifications.deliveries add column id uuid not null default gen_random_uuid() primary key`.execute(db);
  await sql`alter table notifications.deliveries add constraint deliveries_event_channel_key unique (event_id, channel)`.execute(db);
  await db.schema
    .alterTable('deliveries')
    .addColumn('digest', 'text') // daily | weekly while held for a digest
    .addColumn('digest_id', 'uuid') // the digest delivery that carried it
    .addColumn('announcement_id', 'uuid')
    .execute();
  await sql`create index deliveries_held_idx on notifications.deliveries (run_after) where status = 'held'`.execute(db);
  await sql`create index deliveries_announcement_idx on notifications.deliveries (announcement_id, channel, status) where announcement_id is not null`.execute(db);
  await sql`drop index notifications.deliveries_due_idx`.execute(db);
  await sql`create index deliveries_due_idx on notifications.deliveries (run_after) where status in ('queued', 'sending')`.execute(db);

  await db.schema.alterTable('delivery_attempts').addColumn('delivery_id', 'uuid', (c) => c.references('deliveries.id').onDelete('cascade')).execute();
  await sql`update notifications.delivery_attempts a set delivery_id = d.id from notifications.deliveries d where d.event_id = a.event_id`.execute(db);
  await sql`delete from notifications.delivery_attempts where delivery_id is null`.execute(db);
  await sql`alter table notifications.delivery_attempts alter column delivery_id set not null`.execute(db);
  await db.schema.createIndex('delivery_attempts_delivery_idx').on('delivery_attempts').column('delivery_id').execute();

  // What was asked, before the user's preferences decide the channels and the time.
  await db.schema
    .createTable('requests')
    .addColumn('event_id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid')
    .addColumn('to', 'text')
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('locale', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('data', 'jsonb')
    .addColumn('announcement_id', 'uuid')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index requests_due_idx on notifications.requests (run_after) where status = 'pending'`.execute(db);
  await db.schema.createIndex('requests_user_idx').on('requests').column('user_id').execute();

  await db.schema
    .createTable('push_subscriptions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull().unique())
    .addColumn('p256dh', 'text', (c) => c.notNull())
    .addColumn('auth', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_success_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('push_subscriptions_user_idx').on('push_subscriptions').column('user_id').execute();

  await db.schema
    .createTable('announcements')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('announcement')) // announcement | course_updated
    .addColumn('course_id', 'uuid', (c) => c.notNull())
    .addColumn('course_title', 'text', (c) => c.notNull())
    .addColumn('author_id', 'uuid', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('fanning_out'))
    .addColumn('recipients', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cursor', 'uuid') // last learner listed, while fanning out
    .addColumn('run_after', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('announcements_course_idx').on('announcements').columns(['course_id', 'created_at desc']).execute();
  await sql`create index announcements_due_idx on notifications.announcements (run_after) where status = 'fanning_out'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['announcements', 'push_subscriptions', 'requests']) await db.schema.dropTable(t).execute();
  await db.schema.alterTable('delivery_attempts').dropColumn('delivery_id').execute();
  await sql`drop index notifications.deliveries_held_idx`.execute(db);
  await sql`drop index notifications.deliveries_announcement_idx`.execute(db);
  await db.schema.alterTable('deliveries').dropColumn('digest').dropColumn('digest_id').dropColumn('announcement_id').execute();
  await sql`alter table notifications.deliveries drop constraint deliveries_event_channel_key`.execute(db);
  await sql`alter table notifications.deliveries drop column id`.execute(db);
  await sql`alter table notifications.deliveries add primary key (event_id)`.execute(db);
  await sql`alter table notifications.delivery_attempts add constraint delivery_attempts_event_id_fkey foreign key (event_id) references notifications.deliveries (event_id) on delete cascade`.execute(db);
}
