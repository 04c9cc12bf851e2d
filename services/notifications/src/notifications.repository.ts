import type { Kysely } from 'kysely';
import type { NotificationsDB } from './db.js';
import { AnnouncementsRepository } from './repository/announcements.repository.js';
import { DeliveriesRepository } from './repository/deliveries.repository.js';
import { DigestsRepository } from './repository/digests.repository.js';
import { InboxRepository } from './repository/inbox.repository.js';
import { KeysRepository } from './repository/keys.repository.js';
import { PushSubscriptionsRepository } from './repository/push-subscriptions.repository.js';
import { RequestsRepository } from './repository/requests.repository.js';

/**
 * The notifications service's tables, one repository per job (the only code with SQL). Built over the pool and,
 * inside a unit of work, over its transaction.
 */
export class NotificationsRepository {
  readonly requests: RequestsRepository;
  readonly deliveries: DeliveriesRepository;
  readonly digests: DigestsRepository;
  readonly inbox: InboxRepository;
  readonly push: PushSubscriptionsRepository;
  readonly announcements: AnnouncementsRepository;
  readonly keys: KeysRepository;

  constructor(db: Kysely<NotificationsDB>) {
    this.requests = new RequestsRepository(db);
    this.deliveries = new DeliveriesRepository(db);
    this.digests = new DigestsRepository(db);
    this.inbox = new InboxRepository(db);
    this.push = new PushSubscriptionsRepository(db);
    this.announcements = new AnnouncementsRepository(db);
    this.keys = new KeysRepository(db);
  }

  /** Erases everything about a user (their deliveries, requests, inbox and devices). In a unit of work. */
  async eraseUser(userId: string): Promise<void> {
    await this.deliveries.deleteOfUser(userId);
    await this.requests.deleteOfUser(userId);
    await this.inbox.deleteOfUser(userId);
    await this.push.deleteOfUser(userId);
  }
}
