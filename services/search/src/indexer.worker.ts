import { coursesInternal } from '@lms/contracts';
import { errorCode, PollingWorker, retryDelay, retryPolicies, type ServiceContext } from '@lms/runtime';
import type { SearchEnv } from './config.js';
import { documentsOf } from './documents.js';
import type { Embedder } from './embedder.js';
import type { DocumentsTable, PendingRow, SearchDB, SearchRepository } from './search.repository.js';

const policy = retryPolicies.jobs;
/** Passages per embedding call while indexing (~0.5 s of the CPU model here). */
const EMBED_CHUNK = 8;

/**
 * (Re)indexes the courses the consumers queued: reads the course's search source from courses (a remote call,
 * outside any transaction: consumers may not call), embeds its documents when an embedder is configured, and replaces
 * the course's documents in one unit of work. A course queued again while it was being indexed runs again.
 */
export class IndexerWorker extends PollingWorker<PendingRow> {
  constructor(
    private readonly s: ServiceContext<SearchDB, SearchRepository, SearchEnv>,
    private readonly embedder: Embedder | undefined,
  ) {
    super(s.logger, s.config.SEARCH_POLL_MS);
  }

  protected claim() {
    return this.s.uow(({ repo }) => repo.claimPending());
  }

  protected async run(job: PendingRow): Promise<void> {
    try {
      await this.index(job.course_id);
      await this.s.repo.donePending(job.course_id, job.tries);
    } catch (err) {
      const tries = job.tries + 1;
      await this.s.repo.postponePending(job.course_id, retryDelay(tries, policy), tries >= policy.maxAttempts);
      this.log.warn({ courseId: job.course_id, tries, err: String(err) }, 'course not indexed yet; will retry');
    }
  }

  /**
   * Reads one course from courses and replaces its documents (a course gone from courses leaves the index), in the
   * live table or (a rebuild) in its shadow.
   */
  async index(courseId: string, table: DocumentsTable = 'documents'): Promise<number> {
    let src;
    try {
      src = await this.s.call(coursesInternal.searchDocument, { courseId });
    } catch (err) {
      if (errorCode(err) !== 'COURSE_NOT_FOUND') throw err;
      await this.s.uow(({ repo }) => repo.removeCourse(courseId));
      return 0;
    }
    const { facts, docs, words } = documentsOf(src);
    // Searchable by words at once; the vectors follow (the CPU model embeds a lesson's passages at ~15/s here, which
    // would hold a course out of the index for seconds). Until they land, semantic ranking misses the new passages
    // and hybrid ranks them lexically.
    await this.s.uow(({ repo }) => repo.replaceCourse(facts, docs, words, table));
    const embedder = this.embedder;
    if (!embedder || !docs.length || !(await this.s.repo.hasVectors())) return docs.length;
    // In small calls: the model computes one call at a time, and a search's query waits behind the call in hand.
    const texts = docs.map((d) => `${d.title}\n${d.summary}\n${d.content}`);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += EMBED_CHUNK) vectors.push(...(await embedder.embed(texts.slice(i, i + EMBED_CHUNK))));
    if (vectors.length === docs.length)
      await this.s.uow(({ repo }) =>
        repo.setEmbeddings(
          embedder.model,
          docs.map((d, i) => ({ id: d.id, vector: vectors[i] ?? new Float32Array() })),
          table,
        ),
      );
    return docs.length;
  }
}
