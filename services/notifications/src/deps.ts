import { notificationBroadcasts } from '@lms/contracts';
import { depsOf, retryPolicies, type LmsNode } from '@lms/runtime';
import { smsProviderOf, type SmsProvider } from './channels.js';
import type { NotificationsContext, WorkerEnv } from './context.js';
import { UnsubscribeSigner, vapidKeys, type Vapid } from './keys.js';
import { DeliveryWorker } from './workers/delivery.worker.js';
import { DigestWorker } from './workers/digest.worker.js';
import { FanOutWorker } from './workers/fan-out.worker.js';
import { RouteWorker } from './workers/route.worker.js';

/** The notifications service's dependencies, built once per node from its context. */
export interface NotificationDeps {
  route: RouteWorker;
  fanOut: FanOutWorker;
  digest: DigestWorker;
  delivery: DeliveryWorker;
  signer: UnsubscribeSigner;
  vapid: () => Promise<Vapid>;
  sms: SmsProvider | undefined;
  /** The public base URL for links (PUBLIC_URL, else `http://localhost:<port>`). */
  publicUrl: () => string;
}

export function notificationDeps(s: NotificationsContext): NotificationDeps {
  const { config } = s;
  // Read when used: a node started on port 0 knows its port only once the gateway listens.
  const publicUrl = () => (config.PUBLIC_URL ?? `http://localhost:${s.runtime.config.port}`).replace(/\/$/, '');
  const env: WorkerEnv = { publicUrl, retry: { ...retryPolicies.deliveries, maxAttempts: config.NOTIFY_MAX_ATTEMPTS } };
  const signer = new UnsubscribeSigner(s.repo.keys, config.NOTIFY_SECRET);
  const vapid = vapidKeys(s.repo.keys, config);
  const sms = smsProviderOf(config);
  const delivery = new DeliveryWorker(s, env, signer, vapid, sms);
  const broadcast = (userId: string, item: unknown) => void s.runtime.broker.broadcast(notificationBroadcasts.created.name, { userId, item });
  const route = new RouteWorker(s, env, sms, () => delivery.kick(), broadcast);
  const fanOut = new FanOutWorker(s, () => route.kick());
  const digest = new DigestWorker(s, env, () => delivery.kick());
  return { route, fanOut, digest, delivery, signer, vapid, sms, publicUrl };
}

/** The workers of the notifications service, as started and stopped together. */
export const workersOf = (d: NotificationDeps) => [d.route, d.fanOut, d.digest, d.delivery];

/**
 * The notifications service's dependencies on this node (REPL: `notificationsOf(node).digest.assembleDue()`;
 * `.delivery.setRate('email', 20)`; tests). Throws when the node does not run the service.
 */
export function notificationsOf(node: Pick<LmsNode, 'runtime'>): NotificationDeps {
  const deps = depsOf<NotificationDeps>(node.runtime, 'notifications');
  if (!deps) throw new Error('this node does not run the notifications service');
  return deps;
}
