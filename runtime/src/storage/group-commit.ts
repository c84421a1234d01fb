/** Options for `createGroupCommit`. */
export interface GroupCommitOptions<T> {
  /**
   * Writes one batch atomically or in parts and returns one outcome per item,
   * in order: `undefined` when that item is committed, else the error to reject
   * it with. Throwing rejects every item of the batch with the thrown error.
   */
  commit(batch: readonly T[]): Promise<ReadonlyArray<Error | undefined>>;
  /** The cost of one item against `maxBatchWeight`, e.g. its number of events. */
  weigh(item: T): number;
  /** Upper bound of a batch's total weight; a single heavier item still goes alone. */
  maxBatchWeight: number;
}

/** Counters for observing how well submissions are batched. */
export interface GroupCommitStats {
  /** Calls to `commit`. */
  readonly flushes: number;
  /** Items passed to `commit`. */
  readonly items: number;
  /** Most items in one batch so far. */
  readonly largestBatch: number;
}

/** A queue that turns concurrent submissions into few, larger commits. */
export interface GroupCommit<T> {
  /** Resolves after `item` is committed; rejects with its own outcome. */
  submit(item: T): Promise<void>;
  /** Resolves once everything submitted so far has settled. */
  drain(): Promise<void>;
  stats(): GroupCommitStats;
}

interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Group commit with no timer: when no commit is in flight, the first
 * submission is flushed at once (together with whatever else was submitted in
 * the same tick); while one is in flight, submissions queue up, and the next
 * commit takes everything queued, up to `maxBatchWeight`. Under load batches
 * grow by themselves; when idle, a lone item waits for nothing.
 */
export function createGroupCommit<T>(options: GroupCommitOptions<T>): GroupCommit<T> {
  const queue: Array<Pending<T>> = [];
  let running: Promise<void> | undefined;
  let flushes = 0;
  let items = 0;
  let largestBatch = 0;

  function takeBatch(): Array<Pending<T>> {
    let weight = 0;
    let count = 0;
    for (const pending of queue) {
      const next = weight + options.weigh(pending.item);
      if (count > 0 && next > options.maxBatchWeight) break;
      weight = next;
      count++;
    }
    return queue.splice(0, count);
  }

  async function flush(batch: Array<Pending<T>>): Promise<void> {
    flushes++;
    items += batch.length;
    largestBatch = Math.max(largestBatch, batch.length);
    let outcomes: ReadonlyArray<Error | undefined>;
    try {
      outcomes = await options.commit(batch.map((pending) => pending.item));
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      for (const pending of batch) pending.reject(reason);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) pending.resolve();
      else pending.reject(outcome);
    });
  }

  async function run(): Promise<void> {
    // One microtask hop: submissions from the same synchronous burst join the first batch.
    await Promise.resolve();
    try {
      while (queue.length > 0) await flush(takeBatch());
    } finally {
      running = undefined;
    }
  }

  return {
    submit(item) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        running ??= run();
      });
    },
    async drain() {
      while (running !== undefined) await running;
    },
    stats: () => ({ flushes, items, largestBatch }),
  };
}
