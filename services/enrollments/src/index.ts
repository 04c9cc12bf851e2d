export { enrollmentsService } from './enrollments.service.js';
export { freePayments, usePaymentProvider, type PaymentProvider } from './saga.js';
