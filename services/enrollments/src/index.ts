export { enrollmentsService } from './enrollments.service.js';
