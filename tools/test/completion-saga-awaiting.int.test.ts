import { completionSagaSuite } from './completion-saga.ts';

// A submission awaiting a person's grade parks the saga at "score" (tools/test/completion-saga.ts).
completionSagaSuite([], true);
