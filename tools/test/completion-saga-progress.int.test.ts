import { completionSagaSuite } from './completion-saga.ts';

// The enrollments process killed right after "progress" (tools/test/completion-saga.ts).
completionSagaSuite(['progress']);
