import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/logger.js';
import { PollingWorker } from '../src/worker.js';

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Hands out the queued jobs one at a time; each runs until its `release` is called. */
class HeldJobs extends PollingWorker<number> {
  readonly queue: number[] = [];
  readonly started: number[] = [];
  readonly finished: number[] = [];
  private releases: Array<() => void> = [];

  protected async claim() {
    return this.queue.shift();
  }

  protected async run(job: number) {
    this.started.push(job);
    await new Promise<void>((r) => this.releases.push(r));
    this.finished.push(job);
  }

  release() {
    for (const r of this.releases.splice(0)) r();
  }
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('PollingWorker.stop', () => {
  it('claims nothing more and resolves only once the job in hand has finished', async () => {
    const w = new HeldJobs(quiet, 60_000);
    w.queue.push(1, 2, 3);
    w.start();
    await until(() => w.started.length === 1);
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false); // job 1 is still running
    w.release();
    await stopping;
    expect(w.finished).toEqual([1]);
    expect(w.started).toEqual([1]); // 2 and 3 stay queued for another node
  });

  it('gives up waiting after waitMs: a job that outlives the stop is left to its lease', async () => {
    const w = new HeldJobs(quiet, 60_000);
    w.queue.push(1);
    w.start();
    await until(() => w.started.length === 1);
    const t = performance.now();
    await w.stop(50);
    expect(performance.now() - t).toBeLessThan(1_000);
    expect(w.finished).toEqual([]);
    w.release();
  });
});
