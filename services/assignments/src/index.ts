export { assignmentsService } from './assignments.service.js';
export { AssignmentsRepository, type AssignmentsDB } from './assignments.repository.js';
