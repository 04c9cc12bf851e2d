export { analyticsService } from './analytics.service.js';
