export { createEnrollmentsService, enrollmentsService, type EnrollmentsOptions } from './enrollments.service.js';
export { freePayments, type EnrollmentStep, type PaymentProvider } from './enrollment-saga.js';
