import { completionSagaSuite } from './completion-saga.ts';

// The enrollments process killed right after "validate" (tools/test/completion-saga.ts).
completionSagaSuite(['validate']);
