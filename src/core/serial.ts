/**
 * Runs async sections one at a time, in call order: the single-writer discipline inside one
 * process (the engine's batches, the log's appends, one outbox pass at a time).
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}
