import { completionSagaSuite } from './completion-saga.ts';

// The enrollments process killed right after "score" (tools/test/completion-saga.ts).
completionSagaSuite(['score']);
