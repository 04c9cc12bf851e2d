import { coursesInternal, DomainError, erasureReceipts, llm, llmWorkerInternal, privacyExportContract, userEvents } from '@lms/contracts';
import { consumerOf, defineService } from '@lms/runtime';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { checkQuota, parseRoutes } from '@lms/llm-kit';
import { llmEnv } from './config.js';
import { LlmRepository, type LlmDB } from './llm.repository.js';
import * as m0 from './migrations/20261202120000_llm.js';

type Routes = ReturnType<typeof parseRoutes>;
interface LlmDeps {
  enabled: boolean;
  routes: Routes;
  limits: { requestsPerMinute: number; tokensPerDay: number };
}

const on = consumerOf<LlmDB, LlmRepository, LlmDeps>();

/**
 * The AI gateway (issue 17): who may ask, how much, and which model answers. The work itself runs on an llm-worker
 * beside Ollama; this service never talks to a model server.
 */
export const llmService = defineService({
  name: 'llm',
  env: llmEnv,
  contracts: { ...llm, ...privacyExportContract('llm') },
  migrations: { '20261202120000_llm': m0 },
  repository: (db: Kysely<LlmDB>) => new LlmRepository(db),
  deps: (s): LlmDeps => ({
    enabled: s.config.LLM_ENABLED,
    routes: parseRoutes(s.config.LLM_MODELS),
    limits: { requestsPerMinute: s.config.LLM_REQUESTS_PER_MINUTE, tokensPerDay: s.config.LLM_TOKENS_PER_DAY },
  }),
  consumers: [
    on({
      name: 'user-deleted',
      event: userEvents.deleted,
      handle: async ({ payload: p, repo, emit }) => {
        await repo.eraseUser(p.userId);
        await emit(erasureReceipts.llm, { requestId: p.requestId, userId: p.userId, service: 'llm' }, p.userId);
      },
    }),
  ],
  handlers: {
    async complete({ input, caller, call, repo, deps }) {
      if (!deps.enabled) throw new DomainError('AI_DISABLED', 'AI features are switched off for this installation');
      if (input.courseId) {
        // Usage is counted against the course: only its members may name it (404 otherwise, as for a course they cannot see).
        const { role } = await call(coursesInternal.roleOf, { courseId: input.courseId, userId: caller.userId });
        if (!role) throw new DomainError('NOT_FOUND', 'No such course');
      }
      const refusal = checkQuota(deps.limits, await repo.usedBy(caller.userId), Date.now());
      if (refusal) throw new DomainError(refusal.code, 'AI quota reached; try again later', { retryAfterSeconds: refusal.retryAfterS });
      const route = deps.routes[input.task];
      const out = await call(llmWorkerInternal.chat, { model: route.model, fallback: route.fallback, lane: 'interactive', messages: input.messages });
      await repo.record({
        id: randomUUID(),
        user_id: caller.userId,
        course_id: input.courseId ?? null,
        task: input.task,
        model: out.model,
        tokens_in: out.tokensIn,
        tokens_out: out.tokensOut,
        latency_ms: out.latencyMs,
      });
      return out;
    },
    async usage({ input, repo }) {
      const rows = await repo.usage(input.days);
      return {
        rows: rows.map((r) => ({
          userId: r.user_id,
          courseId: r.course_id,
          model: r.model,
          task: r.task as 'chat' | 'summarise' | 'embed',
          requests: r.requests,
          tokensIn: r.tokens_in,
          tokensOut: r.tokens_out,
          latencyMs: r.latency_ms,
        })),
      };
    },
    async privacyExport({ input, repo }) {
      return { data: await repo.exportUser(input.userId) };
    },
  },
  dependencies: ['courses'],
});
