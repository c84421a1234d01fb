import { type Kysely, sql } from "kysely";
import type { Database, FeedSignal, OrreryTables, ShardFence, StorageLogger } from "../storage/index.js";
import { FencedWriteError } from "../storage/index.js";
import type { FeedOffset, FeedRecord } from "./feed.js";
import { countFeed, FEED_START, loadOffset, readEventFeed, readStateFeed, storeOffset } from "./feed.js";

/** What a projection reads and what it does with each record. */
export interface ProjectionSpec {
  /** The stable name its offset is stored under (a view's or consumer's component type). */
  readonly name: string;
  /** `events` (the journal) or `states` (the key-value change feed). */
  readonly feed: "events" | "states";
  /** The entity types whose records it reads. */
  readonly entityTypes: readonly string[];
  /**
   * `in-transaction`: `handle` writes through the transaction that also stores
   * the offset, so its effect happens exactly once (views). `at-least-once`:
   * `handle` runs first and the offset is stored after it, so after a crash a
   * record may be handled again (consumers).
   */
  readonly delivery: "in-transaction" | "at-least-once";
  /** Handles one record; throwing retries it with backoff (never skips it). `db` is the transaction for `in-transaction`. */
  handle(record: FeedRecord, db: Kysely<OrreryTables>): Promise<void>;
  /**
   * For `in-transaction` delivery, handles a whole batch in its transaction
   * (fewer statements than one `handle` per record); throws a
   * {@link RecordFailure} naming the record that failed.
   */
  handleBatch?(records: readonly FeedRecord[], db: Kysely<OrreryTables>): Promise<void>;
  /** For `in-transaction` delivery: called once the transaction of the last `handleBatch` committed. */
  afterCommit?(): void;
}

/** Thrown by `handleBatch`: record `index` of the batch failed with `cause`. */
export class RecordFailure extends Error {
  override readonly name = "RecordFailure";
  constructor(readonly index: number, override readonly cause: unknown) {
    super(`record ${index} of the batch failed`, { cause });
  }
}

/** Where a projection may run: in a cluster on the owner of one shard, fencing its offset writes with that shard's epoch. */
export interface ProjectionPlacement {
  /** The fence to write with when this node should run the projection now; undefined when another node should. */
  current(): ShardFence | undefined;
  /** Calls `listener` when that may have changed; returns a function that stops it. */
  onChange(listener: () => void): () => void;
}

/** Settings of a projection runner. */
export interface ProjectionRunnerOptions {
  readonly database: Database;
  readonly signal: FeedSignal;
  readonly logger: StorageLogger & { info(fields: Record<string, unknown>, message: string): void; error(fields: Record<string, unknown>, message: string): void };
  /** Without it the projection runs here, unfenced (a single process). */
  readonly placement?: ProjectionPlacement;
  /** Records per read and per transaction (default 100). */
  readonly batchSize?: number;
  /** Read again after this long without a wake-up (default 1,000 ms). */
  readonly pollMs?: number;
  /** The first retry delay after a failure, doubled up to `maxRetryMs` (defaults 100 and 30,000 ms). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Called whenever a read reached the end of the feed and everything read was stored (a rebuilt view switches over then). */
  readonly onCaughtUp?: () => void;
}

/** How a projection is doing. */
export interface ProjectionStatus {
  readonly name: string;
  readonly running: boolean;
  readonly offset: FeedOffset;
  readonly handled: number;
  /** Consecutive failures of the record it is stuck on (0 when healthy). */
  readonly failures: number;
  readonly lastError: string | undefined;
}

/** Runs one projection: follows its feed, handles each record in order, stores its offset. */
export interface ProjectionRunner {
  start(): void;
  /** Stops after the batch in flight. */
  stop(): Promise<void>;
  status(): ProjectionStatus;
  /** Resolves once the projection has handled everything committed before the call (for tests and rebuilds). */
  caughtUp(timeoutMs?: number): Promise<void>;
}

/**
 * Creates the runner of one projection. Records are read in commit order
 * (the snapshot rule of `readEventFeed`), handled one by one, and the offset
 * stored after each batch: in the same transaction as the handler's writes
 * for `in-transaction` delivery. A record whose handler throws is retried
 * with doubling delays, logged with the projection's name and the record,
 * and never skipped; the records before it in its batch are committed first.
 * In a cluster each offset write is fenced with the placement shard's epoch:
 * a node that lost the shard writes nothing and stops.
 */
export function createProjectionRunner(spec: ProjectionSpec, options: ProjectionRunnerOptions): ProjectionRunner {
  const { database, signal, logger, placement } = options;
  const batchSize = options.batchSize ?? 100;
  const pollMs = options.pollMs ?? 1_000;
  const retryMs = options.retryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  const fenceWrites = !database.capabilities.exclusiveWriter;
  const read = spec.feed === "events" ? readEventFeed : readStateFeed;
  let offset: FeedOffset = FEED_START;
  let offsetFor: string | undefined; // the placement (epoch) the offset was loaded under
  let handled = 0;
  let failures = 0;
  let lastError: string | undefined;
  let running = false;
  let stopped = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  // Resolved by the first empty read that started after they were registered.
  const idleWaiters: Array<{ after: number; resolve: () => void }> = [];
  let reads = 0;
  // A long catch-up (a new or rebuilt view, a consumer far behind) logs its progress.
  let catchUp: { total: number; done: number; started: number; lastLog: number } | undefined;
  const handledAhead = new Set<string>();
  const unsubscribe: Array<() => void> = [];

  function wake(): void {
    woken = true;
    wakeUp?.();
  }

  function sleep(ms: number): Promise<void> {
    if (woken || stopped) {
      woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        woken = false;
        resolve();
      }
      wakeUp = done;
    });
  }

  async function run(): Promise<void> {
    while (!stopped) {
      const fence = placement?.current();
      const here = placement === undefined || fence !== undefined;
      running = here;
      if (!here) {
        offsetFor = undefined;
        await sleep(pollMs);
        continue;
      }
      try {
        const key = fence === undefined ? "local" : `${fence.shard}@${fence.epoch}`;
        if (offsetFor !== key) {
          // Another node may have moved it on while this one did not run it.
          handledAhead.clear();
          offset = await loadOffset(database.db, spec.name, spec.feed);
          offsetFor = key;
        }
        const thisRead = ++reads;
        const records = await read(database.db, spec.entityTypes, offset, batchSize);
        if (records.length < batchSize && catchUp !== undefined) {
          const seconds = (performance.now() - catchUp.started) / 1000;
          logger.info({ projection: spec.name, records: catchUp.done + records.length, seconds }, `${spec.name}: caught up, ${catchUp.done + records.length} records in ${seconds.toFixed(1)} s`);
          catchUp = undefined;
        } else if (records.length === batchSize && catchUp === undefined) {
          const total = await countFeed(database.db, spec.feed, spec.entityTypes, offset);
          if (total > 5 * batchSize) {
            catchUp = { total, done: 0, started: performance.now(), lastLog: performance.now() };
            logger.info({ projection: spec.name, records: total }, `${spec.name}: catching up on ${total} records of ${spec.entityTypes.join(", ")}`);
          }
        }
        if (records.length === 0) {
          options.onCaughtUp?.();
          for (const waiter of idleWaiters.filter((w) => w.after < thisRead)) {
            idleWaiters.splice(idleWaiters.indexOf(waiter), 1);
            waiter.resolve();
          }
          await sleep(pollMs);
          continue;
        }
        const done = await applyBatch(records, fenceWrites ? fence : undefined);
        if (done === records.length && records.length < batchSize) options.onCaughtUp?.();
        if (done < records.length) await sleep(Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 20)));
      } catch (error) {
        if (error instanceof FencedWriteError) {
          logger.info({ projection: spec.name, shard: error.shard }, `${spec.name}: its shard moved to another node; it runs there now`);
          offsetFor = undefined;
          await sleep(pollMs);
          continue;
        }
        failures++;
        lastError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 20));
        logger.warn({ err: error, projection: spec.name, failures, retryInMs: delay }, `${spec.name}: reading its feed failed (${lastError}); retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
    running = false;
  }

  /** Handles `records` in order; returns how many were handled and stored. */
  async function applyBatch(records: FeedRecord[], fence: ShardFence | undefined): Promise<number> {
    let failedAt = -1;
    let failure: unknown;
    if (spec.delivery === "in-transaction") {
      try {
        await database.db.transaction().execute(async (trx) => {
          await boundIdleTime(trx);
          if (spec.handleBatch !== undefined) {
            try {
              await spec.handleBatch(records, trx);
            } catch (error) {
              failedAt = error instanceof RecordFailure ? error.index : 0;
              throw error instanceof RecordFailure ? error.cause : error;
            }
          } else {
            for (let i = 0; i < records.length; i++) {
              failedAt = i;
              await spec.handle(records[i]!, trx);
            }
          }
          failedAt = -1;
          await storeOffset(trx, spec.name, spec.feed, records.at(-1)!.offset);
          await checkFence(trx, fence, spec.name);
        });
        spec.afterCommit?.();
        advance(records.length, records.at(-1)!.offset);
        return records.length;
      } catch (error) {
        if (failedAt < 0 || error instanceof FencedWriteError) throw error;
        failure = error;
      }
      // Commit the records before the failing one, so that only it is retried.
      if (failedAt > 0) await applyBatch(records.slice(0, failedAt), fence);
    } else {
      // Entities run side by side, each one's records in order; the offset moves up to the first failure.
      // Records past a failure that were handled already are not handled again while this process retries.
      const failed = await handleByEntity(records, async (record) => {
        const key = `${record.offset.txId}:${record.offset.position}`;
        if (handledAhead.has(key)) return;
        await spec.handle(record, database.db);
        handledAhead.add(key);
      });
      const done = failed === undefined ? records.length : failed.index;
      for (const record of records.slice(0, done)) handledAhead.delete(`${record.offset.txId}:${record.offset.position}`);
      if (failed !== undefined) {
        failure = failed.error;
        failedAt = failed.index;
      }
      if (done > 0) {
        const last = records[done - 1]!.offset;
        await database.db.transaction().execute(async (trx) => {
          await boundIdleTime(trx);
          await storeOffset(trx, spec.name, spec.feed, last);
          await checkFence(trx, fence, spec.name);
        });
        advance(done, last);
      }
      if (failure === undefined) return records.length;
    }
    const record = records[failedAt]!;
    failures++;
    lastError = failure instanceof Error ? failure.message : String(failure);
    const delay = Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 20));
    logger.error(
      { err: failure, projection: spec.name, entityType: record.entityType, entityId: record.entityId, record: describeRecord(record), failures, retryInMs: delay },
      `${spec.name}: handling ${describeRecord(record)} failed (attempt ${failures}): ${lastError}; retrying in ${delay} ms, later records wait`,
    );
    return failedAt;
  }

  function advance(count: number, to: FeedOffset): void {
    handled += count;
    if (catchUp !== undefined) {
      catchUp.done += count;
      const now = performance.now();
      if (now - catchUp.lastLog >= 5_000) {
        catchUp.lastLog = now;
        const rate = catchUp.done / ((now - catchUp.started) / 1000);
        const left = Math.max(0, catchUp.total - catchUp.done);
        logger.info({ projection: spec.name, done: catchUp.done, total: catchUp.total, rate: Math.round(rate) },
          `${spec.name}: ${catchUp.done} of ${catchUp.total} records (${Math.round(rate)}/s, about ${Math.ceil(left / Math.max(rate, 1))} s to go)`);
      }
    }
    offset = to;
    if (failures > 0) logger.info({ projection: spec.name, failures }, `${spec.name}: handled the record that failed ${failures} times; going on`);
    failures = 0;
    lastError = undefined;
  }

  return {
    start() {
      if (loop !== undefined) return;
      unsubscribe.push(signal.subscribe(wake));
      if (placement !== undefined) unsubscribe.push(placement.onChange(wake));
      loop = run();
    },
    async stop() {
      stopped = true;
      for (const u of unsubscribe.splice(0)) u();
      wake();
      await loop;
      for (const waiter of idleWaiters.splice(0)) waiter.resolve();
    },
    status: () => ({ name: spec.name, running, offset, handled, failures, lastError }),
    caughtUp(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${spec.name} did not catch up within ${timeoutMs} ms (${lastError ?? "no error"})`)), timeoutMs);
        // An empty read that starts after now has seen everything committed before now.
        idleWaiters.push({ after: reads, resolve: () => {
          clearTimeout(timer);
          resolve();
        } });
        wake();
      });
    },
  };
}

/**
 * Runs `handle` over `records` with the records of one entity in order and
 * different entities concurrently; an entity stops at its first failure,
 * the others go on.
 * Returns the earliest failing record (by position in `records`), if any:
 * records after it may have been handled too, and will be again.
 */
async function handleByEntity(records: readonly FeedRecord[], handle: (record: FeedRecord) => Promise<void>): Promise<{ index: number; error: unknown } | undefined> {
  const byEntity = new Map<string, number[]>();
  records.forEach((record, index) => {
    const key = `${record.entityType}\u0000${record.entityId}`;
    const list = byEntity.get(key);
    if (list === undefined) byEntity.set(key, [index]);
    else list.push(index);
  });
  let first: { index: number; error: unknown } | undefined;
  await Promise.all([...byEntity.values()].map(async (indexes) => {
    for (const index of indexes) {
      try {
        await handle(records[index]!);
      } catch (error) {
        if (first === undefined || index < first.index) first = { index, error };
        return;
      }
    }
  }));
  return first;
}

/**
 * A projection's transaction must never hold its locks long: a process paused
 * (SIGSTOP, a long GC) or cut off in the middle would keep the shard row it
 * read FOR SHARE, and no node could claim that shard. The fence is therefore
 * checked last, right before the commit, and PostgreSQL ends the session if
 * the transaction sits idle for 2 s.
 */
async function boundIdleTime(trx: Kysely<OrreryTables>): Promise<void> {
  await sql`set local idle_in_transaction_session_timeout = 2000`.execute(trx);
}

/** Fails the transaction with `FencedWriteError` unless `fence`'s shard is still at its epoch (held `FOR SHARE` until commit): run it last. */
async function checkFence(trx: Kysely<OrreryTables>, fence: ShardFence | undefined, projection: string): Promise<void> {
  if (fence === undefined) return;
  const { rows } = await sql<{ epoch: string | number }>`select epoch from orrery_shards where shard = ${fence.shard} for share`.execute(trx);
  const current = rows[0] === undefined ? undefined : Number(rows[0].epoch);
  if (current !== fence.epoch) throw new FencedWriteError("projection", projection, fence.shard, fence.epoch, current, "offset write");
}

function describeRecord(record: FeedRecord): string {
  return record.feed === "events"
    ? `event ${record.seqNr} (${record.eventType}) of ${record.entityType} "${record.entityId}"`
    : `revision ${record.revision} of ${record.entityType} "${record.entityId}"${record.state === undefined ? " (deleted)" : ""}`;
}
