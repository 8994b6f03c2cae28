/**
 * Gathers the calls made in one turn of the event loop and hands them to `send` together (a group commit): each
 * caller still waits for the answer to its own item, so nothing is acknowledged before it is done. Under
 * concurrency this turns many round trips to a store into one, and the store's per-call work with them.
 *
 * A batch goes out when the turn ends (`setImmediate`) or as soon as it holds `maxItems` (default 64, at least 1).
 * When `send` fails, every item of that batch fails with its error; `send` must answer one result per item, in order.
 */
export class MicroBatch<T, R> {
  private queue: Array<{ item: T; resolve: (result: R) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly maxItems: number;

  constructor(
    private readonly send: (items: T[]) => Promise<R[]>,
    maxItems = 64,
  ) {
    this.maxItems = Math.max(1, Math.floor(maxItems));
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxItems) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (!batch.length) return;
    this.queue = [];
    let sent: Promise<R[]>;
    try {
      sent = this.send(batch.map((entry) => entry.item));
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (results) => {
        if (!Array.isArray(results) || results.length !== batch.length) {
          const error = new Error(
            `A batch of ${batch.length} items got ${Array.isArray(results) ? results.length : 'no'} answers`,
          );
          for (const entry of batch) entry.reject(error);
          return;
        }
        batch.forEach((entry, i) => entry.resolve(results[i]));
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }
}
