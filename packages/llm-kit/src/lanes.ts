export type Lane = 'interactive' | 'batch';

/**
 * Which lane the next free worker slot takes from: interactive first, but after `batchEvery` interactive picks in a row
 * while batch work waits, one batch pick — so a steady stream of chats can never starve summaries for ever, and a
 * batch backlog of thousands delays a chat by at most one batch job per `batchEvery`.
 */
export class LanePicker {
  private streak = 0;

  constructor(private readonly batchEvery = 4) {}

  pick(waiting: { interactive: number; batch: number }): Lane | undefined {
    if (waiting.interactive > 0 && (waiting.batch === 0 || this.streak < this.batchEvery)) {
      this.streak = waiting.batch > 0 ? this.streak + 1 : 0;
      return 'interactive';
    }
    if (waiting.batch > 0) {
      this.streak = 0;
      return 'batch';
    }
    return undefined;
  }
}
