export { createEnrollmentsService, enrollmentsService, type EnrollmentsOptions } from './enrollments.service.js';
export { freePayments, type EnrollmentStep, type PaymentProvider } from './enrollment-saga.js';
export { completionSagaId } from './completion-saga.js';
export { courseCompletion, type Completion, type CourseGrade } from './completion.js';
export type { CompletionStep } from './enrollments.repository.js';
