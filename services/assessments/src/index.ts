export { assessmentsService } from './assessments.service.js';
export { AssessmentsRepository, type AssessmentsDB } from './assessments.repository.js';
