/**
 * Group commit for the hot writes: while some batches are in flight, the writes that arrive wait
 * and then go to the database together, as one statement that changes every row, appends every
 * audit record and event, and commits once. Under load a write then shares its round trip, its
 * plan and its commit with the others; alone, it goes at once, in a batch of one
 * (docs/architecture.md, "Writes").
 */

/** How a {@link WriteBatcher} runs and groups its writes. */
export interface WriteBatcherOptions<Item, Outcome> {
  /** Runs a batch as one statement; one outcome per item, in the order of `items`. */
  run: (items: readonly Item[]) => Promise<Outcome[]>;
  /**
   * The row an item changes: two items of one key never share a batch, since one statement
   * cannot change a row twice. The later waits for the next batch. Without it (creations),
   * items never clash.
   */
  keyOf?: (item: Item) => string;
  /**
   * Whether a batch that failed with `error` may run again item by item: only when nothing of it
   * was written. Default: always.
   */
  retryable?: (error: unknown) => boolean;
  /** Most batches in flight at once; further writes wait for one of them to end. */
  maxInFlight?: number;
  /** Most items in one batch. */
  maxSize?: number;
}

interface Pending<Item, Outcome> {
  item: Item;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

/** Batches in flight by default: a few of the pool's connections, enough to keep both busy. */
export const BATCHES_IN_FLIGHT = 4;
/** Items per batch by default. */
export const BATCH_MAX_SIZE = 64;

/**
 * Queues writes and runs them in batches ({@link WriteBatcherOptions}). A batch whose statement
 * fails (one item broke a constraint, say) is run again one item at a time, so that each write
 * gets its own answer and a bad one cannot fail the others.
 */
export class WriteBatcher<Item, Outcome> {
  private readonly queue: Array<Pending<Item, Outcome>> = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxSize: number;

  constructor(private readonly options: WriteBatcherOptions<Item, Outcome>) {
    this.maxInFlight = options.maxInFlight ?? BATCHES_IN_FLIGHT;
    this.maxSize = options.maxSize ?? BATCH_MAX_SIZE;
  }

  /** Runs `item` in the next batch that can take it; resolves with its own outcome. */
  submit(item: Item): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight += 1;
      void this.settle(batch).finally(() => {
        this.inFlight -= 1;
        this.dispatch();
      });
    }
  }

  /** The oldest queued items, at most one per key and {@link maxSize} in all. */
  private takeBatch(): Array<Pending<Item, Outcome>> {
    const keys = new Set<unknown>();
    const batch: Array<Pending<Item, Outcome>> = [];
    const left: Array<Pending<Item, Outcome>> = [];
    for (const pending of this.queue) {
      // Without keyOf, each write is a key of its own.
      const key = this.options.keyOf?.(pending.item) ?? pending;
      if (batch.length < this.maxSize && !keys.has(key)) {
        keys.add(key);
        batch.push(pending);
      } else left.push(pending);
    }
    this.queue.splice(0, this.queue.length, ...left);
    return batch;
  }

  private async settle(batch: Array<Pending<Item, Outcome>>): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.options.run(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length > 1 && (this.options.retryable?.(error) ?? true))
        await Promise.all(batch.map((pending) => this.settle([pending])));
      else for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => pending.resolve(outcomes[index]!));
  }
}
