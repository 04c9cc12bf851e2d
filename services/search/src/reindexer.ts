import type { ServiceContext } from '@lms/runtime';
import type { SearchEnv } from './config.js';
import type { IndexerWorker } from './indexer.worker.js';
import type { SearchDB, SearchRepository } from './search.repository.js';

/**
 * A full rebuild: every course the index has learnt of from events is read again from courses into a shadow of the
 * documents table while the live one keeps serving, then the two swap in one transaction. One rebuild at a time per
 * node; its progress is what `search.reindexStatus` answers.
 */
export class Reindexer {
  private progress = { running: false, done: 0, total: 0 };

  constructor(
    private readonly s: ServiceContext<SearchDB, SearchRepository, SearchEnv>,
    private readonly indexer: IndexerWorker,
  ) {}

  status() {
    return { ...this.progress };
  }

  async run(): Promise<{ courses: number; documents: number; ms: number }> {
    if (this.progress.running) throw new Error('a rebuild is already running on this node');
    const started = Date.now();
    // A second early: what the live indexer wrote around the start is copied over at the swap, never lost.
    const since = new Date(started - 1000);
    this.progress = { running: true, done: 0, total: 0 };
    try {
      await this.s.uow(({ repo }) => repo.createShadow());
      const ids = await this.s.repo.knownCourses();
      this.progress.total = ids.length;
      let documents = 0;
      for (const id of ids) {
        documents += await this.indexer.index(id, 'documents_next');
        this.progress.done++;
      }
      await this.s.uow(({ repo }) => repo.swapShadow(since));
      this.s.logger.info({ courses: ids.length, documents }, 'search index rebuilt and swapped in');
      return { courses: ids.length, documents, ms: Date.now() - started };
    } catch (err) {
      await this.s.uow(({ repo }) => repo.dropShadow()).catch(() => undefined);
      throw err;
    } finally {
      this.progress.running = false;
    }
  }
}
