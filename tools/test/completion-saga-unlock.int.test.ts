import { completionSagaSuite } from './completion-saga.ts';

// The enrollments process killed right after "unlock" (tools/test/completion-saga.ts).
completionSagaSuite(['unlock']);
