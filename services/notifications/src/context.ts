import type { RetryPolicy, ServiceContext } from '@lms/runtime';
import type { NotificationsConfig } from './config.js';
import type { NotificationsDB } from './db.js';
import type { NotificationsRepository } from './notifications.repository.js';

/** What the notifications service's background code gets from the runtime. */
export type NotificationsContext = ServiceContext<NotificationsDB, NotificationsRepository, NotificationsConfig>;

/** What every worker shares besides the context. */
export interface WorkerEnv {
  /** The public base URL, for links in messages (PUBLIC_URL, else this node's gateway). */
  publicUrl: () => string;
  /** Deliveries and routing retries: `retryPolicies.deliveries`, with NOTIFY_MAX_ATTEMPTS. */
  retry: RetryPolicy;
}
