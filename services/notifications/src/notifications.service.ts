import { notificationEvents, privacyEvents, privacyExportContract, userEvents } from '@lms/contracts';
import { addToOutbox, consumer, defineService, type Runtime } from '@lms/runtime';
import type { Kysely, Transaction } from 'kysely';
import { createMailer, type Mailer } from './mailer.js';
import * as m0 from './migrations/20261124200000_notifications.js';
import { render } from './templates.js';

export interface NotificationsDB {
  deliveries: { event_id: string; user_id: string | null; channel: string; template: string; recipient: string; provider_id: string | null; sent_at?: Date };
}

const mailers = new WeakMap<Runtime, Mailer>();
function mailerOf(runtime: Runtime): Mailer {
  let m = mailers.get(runtime);
  if (!m) {
    m = createMailer({ smtpUrl: process.env.SMTP_URL || undefined, from: process.env.MAIL_FROM ?? 'LMS <no-reply@localhost>', dataDir: runtime.config.dataDir });
    mailers.set(runtime, m);
  }
  return m;
}

/** Masks an address for the log: `a***@example.org`. */
const masked = (to: string) => to.replace(/^(.).*@/, '$1***@');

/**
 * Delivers what other services ask for with `notification.requested`. Email only for now (SMTP, or
 * .eml files in embedded mode without SMTP_URL). At least once: a crash between the SMTP hand-off
 * and the commit sends the message again on redelivery; the deliveries row stops any later repeat.
 */
export const notificationsService = defineService({
  name: 'notifications',
  contracts: privacyExportContract('notifications'),
  migrations: { '20261124200000_notifications': m0 },
  repository: (db: Kysely<NotificationsDB>, runtime) => ({ db, runtime }),
  stopped: async ({ runtime }) => mailers.get(runtime)?.close(),
  consumers: [
    consumer({
      name: 'email',
      event: notificationEvents.requested,
      handle: async (p, env, trx: Transaction<NotificationsDB>, runtime) => {
        const seen = await trx.selectFrom('deliveries').select('event_id').where('event_id', '=', env.id).executeTakeFirst();
        if (seen) return;
        const publicUrl = process.env.PUBLIC_URL ?? `http://localhost:${runtime.config.port}`;
        const providerId = await mailerOf(runtime).send(p.to, render(p.template, p.data, publicUrl));
        await trx.insertInto('deliveries').values({ event_id: env.id, user_id: p.userId, channel: 'email', template: p.template, recipient: p.to, provider_id: providerId }).execute();
        runtime.logger('notifications').info({ template: p.template, to: masked(p.to), eventId: env.id }, 'email sent');
      },
    }),
    consumer({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async (p, _env, trx: Transaction<NotificationsDB>) => {
        await trx.deleteFrom('deliveries').where('user_id', '=', p.userId).execute();
        await addToOutbox(trx, privacyEvents.erased, { requestId: p.requestId, userId: p.userId, service: 'notifications' }, { key: p.userId });
      },
    }),
  ],
  handlers: {
    async privacyExport({ input, repo: { db } }) {
      const rows = await db.selectFrom('deliveries').select(['channel', 'template', 'recipient', 'sent_at']).where('user_id', '=', input.userId).orderBy('sent_at').execute();
      return { data: { deliveries: rows.map((r) => ({ ...r, sent_at: r.sent_at?.toISOString() })) } };
    },
  },
});
