import { randomUUID } from "node:crypto";
import type { FailureLog } from "./failure-log.js";
import type { StorageHealth } from "./storage-health.js";
import {
  CommitOutcomeUnknownError,
  FencedWriteError,
  RevisionConflictError,
  SequenceConflictError,
  StorageError,
  StorageUnavailableError,
  isConnectionFailure,
  toStorageError,
} from "./storage-errors.js";

/** Options for {@link createStoreAccess}. */
export interface StoreAccessOptions {
  readonly health: StorageHealth;
  readonly failures: FailureLog;
  /** How long a call waits for an unreachable store unless it brings an earlier deadline (ms). */
  readonly waitMs: number;
  /** Writes pending at most; past that a write fails at once. */
  readonly maxPending: number;
  /** A statement unanswered this long makes the store count as down (ms). */
  readonly stallMs: number;
  /** What the store is called in errors, e.g. "the event store". */
  readonly storeName: string;
  /** What its writes are called in errors, e.g. "appends". */
  readonly writeNoun: string;
  /** What a batch's statement does, for the stall warning, e.g. "appending 3 appends". */
  describeBatch(size: number): string;
  /** What a write does, for the outage log, e.g. 'appending to cart "c1"'. */
  describeWrite(write: EntityWrite): string;
}

/** A write or read of one entity, as the access layer names it in logs. */
export interface EntityWrite {
  readonly entityType: string;
  readonly entityId: string;
}

/**
 * How the writers of one database (the event journal, the key-value store)
 * wait for it: reads and writes wait out an unreachable store up to their
 * deadline (bounded wait), at most `maxPending` writes do so (bounded
 * queue), and a write whose statement certainly did not commit is tried
 * again once the store is back. Failures feed the store's health and get an
 * error id that is in the log.
 */
export interface StoreAccess {
  readonly health: StorageHealth;
  /** Writes submitted and not settled yet. */
  readonly pending: number;
  /** Rejections because another writer got there first (sequence or revision conflicts). */
  readonly conflicts: number;
  /** Runs a read, waiting out (within `waitMs`) and retrying connection failures; reads are always safe to repeat. */
  read<T>(what: string, run: () => Promise<T>): Promise<T>;
  /** Submits a write through `submit` (its group commit), within `deadline` (a `performance.now()` time). */
  write(what: string, deadline: number | undefined, submit: () => Promise<void>, closed: () => boolean): Promise<void>;
  /** Runs one batch's statement, marking the store stalled while it hangs, and notes its outcomes. */
  commit(batch: readonly EntityWrite[], run: () => Promise<ReadonlyArray<Error | undefined>>): Promise<ReadonlyArray<Error | undefined>>;
}

/** Creates the access layer of one store over its health. */
export function createStoreAccess(options: StoreAccessOptions): StoreAccess {
  const { health, failures, waitMs, maxPending, stallMs, storeName, writeNoun } = options;
  let pending = 0;
  let conflicts = 0;

  /** Feeds the health, gives each failure of the batch its error id, and logs the ones no outage explains. */
  function noteOutcomes(batch: readonly EntityWrite[], outcomes: ReadonlyArray<Error | undefined>): void {
    let committed = false;
    const seen = new Set<Error>();
    outcomes.forEach((outcome, index) => {
      if (outcome === undefined) {
        committed = true;
        return;
      }
      if (outcome instanceof SequenceConflictError || outcome instanceof RevisionConflictError) {
        conflicts++;
        return;
      }
      if (outcome instanceof FencedWriteError) {
        committed = true; // the statement ran: the database is up; the shard's new owner is the caller's business
        return;
      }
      if (seen.has(outcome) || !(outcome instanceof StorageError)) return;
      seen.add(outcome); // one statement's failure is shared by its writes, and logged once
      const write = batch[index]!;
      if (outcome instanceof StorageUnavailableError && isConnectionFailure(outcome)) {
        outcome.errorId = health.connectionFailed(outcome.cause, `${options.describeWrite(write)} and others`);
        if (outcome instanceof CommitOutcomeUnknownError) {
          failures.failed({ err: outcome, errorId: outcome.errorId, writes: batch.length }, outcome.message);
        }
        return;
      }
      outcome.errorId = newErrorId();
      failures.failed({ err: outcome, errorId: outcome.errorId, entityType: write.entityType, entityId: write.entityId }, outcome.message);
    });
    if (committed) health.succeeded();
  }

  /** The error of a call that waited for an unreachable store until its deadline. */
  function unreachable(what: string): StorageUnavailableError {
    const outage = health.outage;
    const error = new StorageUnavailableError(`${what}: ${storeName} is unreachable${outage ? ` since ${outage.since.toISOString()}` : ""}`);
    error.errorId = outage?.errorId ?? newErrorId();
    health.countFailedCall();
    return error;
  }

  return {
    health,
    get pending() {
      return pending;
    },
    get conflicts() {
      return conflicts;
    },

    async read(what, run) {
      const deadline = performance.now() + waitMs;
      for (;;) {
        if (health.state === "down" && !(await health.whenUp(deadline))) throw unreachable(what);
        try {
          const result = await run();
          health.succeeded();
          return result;
        } catch (cause) {
          const error = toStorageError(cause, what);
          if (error instanceof StorageUnavailableError && isConnectionFailure(cause)) {
            error.errorId = health.connectionFailed(cause, what);
            if (performance.now() < deadline) continue;
            health.countFailedCall();
            throw error;
          }
          error.errorId = newErrorId();
          failures.failed({ err: error, errorId: error.errorId }, error.message);
          throw error;
        }
      }
    },

    async write(what, requestedDeadline, submit, closed) {
      if (pending >= maxPending) {
        const error = new StorageUnavailableError(`${what}: ${pending} ${writeNoun} are already waiting for ${storeName}; try again shortly`);
        error.errorId = health.outage?.errorId ?? newErrorId();
        throw error;
      }
      const deadline = requestedDeadline ?? performance.now() + waitMs;
      pending++;
      try {
        for (;;) {
          if (health.state === "down" && !(await health.whenUp(deadline))) throw unreachable(what);
          try {
            await submit();
            return;
          } catch (error) {
            // Certainly not committed, the store was unreachable: once it is back, the same write is as good as new.
            const again = error instanceof StorageUnavailableError && !(error instanceof CommitOutcomeUnknownError) &&
              isConnectionFailure(error) && performance.now() < deadline && !closed();
            if (!again) {
              if (error instanceof StorageUnavailableError) health.countFailedCall();
              throw error;
            }
          }
        }
      } finally {
        pending--;
      }
    },

    async commit(batch, run) {
      const stall = setTimeout(() => health.stalled(options.describeBatch(batch.length), stallMs), stallMs);
      let outcomes: ReadonlyArray<Error | undefined>;
      try {
        outcomes = await run();
      } finally {
        clearTimeout(stall);
      }
      noteOutcomes(batch, outcomes);
      return outcomes;
    },
  };
}

/** A short id that names one failure in the log and in the caller's error. */
export function newErrorId(): string {
  return randomUUID().slice(0, 8);
}
