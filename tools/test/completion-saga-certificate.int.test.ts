import { completionSagaSuite } from './completion-saga.ts';

// The enrollments process killed right after "certificate" (tools/test/completion-saga.ts).
completionSagaSuite(['certificate']);
