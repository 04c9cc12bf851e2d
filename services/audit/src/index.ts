export { auditService } from './audit.service.js';
export { AuditRepository, type AuditDB } from './audit.repository.js';
