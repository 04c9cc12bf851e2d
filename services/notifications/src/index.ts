export { notificationsService } from './notifications.service.js';
export { notificationsOf, type NotificationDeps } from './deps.js';
export { notificationsEnv, type NotificationsConfig } from './config.js';
