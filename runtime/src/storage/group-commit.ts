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
  /**
   * Commits that may be in flight at once (default 1). More than one only
   * helps a database that runs transactions in parallel (a pg pool).
   */
  maxInFlight?: number;
}

/** Counters for observing how well submissions are batched. */
export interface GroupCommitStats {
  /** Calls to `commit`. */
  readonly flushes: number;
  /** Items passed to `commit`. */
  readonly items: number;
  /** Most items in one batch so far. */
  readonly largestBatch: number;
  /** Commits running now. */
  readonly inFlight: number;
  /** Items waiting for a commit now. */
  readonly queued: number;
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
 * Group commit with no timer. A flush starts once the event loop has finished
 * its current I/O phase (`setImmediate`), so every submission made while
 * handling the requests that arrived in one turn of the loop, whatever
 * connection they came on, shares one commit. That matters most when the
 * commit blocks the thread (PGlite runs in-process): starting it on the first
 * ready submission would leave the requests read in the same turn for
 * commits of their own. While `maxInFlight` commits are running, submissions
 * queue up, and the next commit takes everything queued, up to
 * `maxBatchWeight`. Under load batches grow by themselves; when idle, a lone
 * item waits for nothing but the end of its loop turn.
 */
export function createGroupCommit<T>(options: GroupCommitOptions<T>): GroupCommit<T> {
  const queue: Array<Pending<T>> = [];
  const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  let inFlight = 0;
  let scheduled = false;
  let idle: Promise<void> | undefined;
  let becameIdle: (() => void) | undefined;
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

  function schedule(): void {
    if (scheduled || queue.length === 0 || inFlight >= maxInFlight) return;
    scheduled = true;
    setImmediate(start);
  }

  function start(): void {
    scheduled = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      inFlight++;
      void flush(takeBatch()).finally(() => {
        inFlight--;
        schedule();
        if (inFlight === 0 && queue.length === 0 && !scheduled) becameIdle?.();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
    async drain() {
      while (inFlight > 0 || queue.length > 0 || scheduled) {
        idle ??= new Promise<void>((resolve) => (becameIdle = resolve)).finally(() => (idle = undefined));
        await idle;
      }
    },
    stats: () => ({ flushes, items, largestBatch, inFlight, queued: queue.length }),
  };
}
