export { notificationsService, notificationWorkers } from './notifications.service.js';
