import { commitAppendBatch } from "./append-batch.js";
import type { Database } from "./database.js";
import { createGroupCommit } from "./group-commit.js";
import type { AppendRequest, LoadedEntity, Snapshot, StoredEvent } from "./journal-records.js";
import { validateAppend } from "./validate-append.js";
import { SequenceConflictError, StorageUnavailableError, toStorageError } from "./storage-errors.js";

/** Counters for observing group commit. */
export interface EventJournalStats {
  /** Batches written (one statement each unless a sequence conflict forced a retry). */
  readonly flushes: number;
  /** Appends that went into those batches. */
  readonly appends: number;
  readonly events: number;
  /** Appends rejected with `SequenceConflictError`. */
  readonly conflicts: number;
  /** Most appends in one batch so far. */
  readonly largestBatch: number;
}

/** Options for `createEventJournal`. */
export interface EventJournalOptions {
  /** Upper bound on events per batch (default 1,000); a larger single append still goes alone. */
  maxBatchEvents?: number;
}

/**
 * The append-only event store of event-sourced entities, with group commit.
 * Every rejection is a `StorageError`: `SequenceConflictError` when another
 * writer took the sequence number, `StorageUnavailableError` when retrying
 * may help, a plain terminal `StorageError` otherwise.
 */
export interface EventJournal {
  /**
   * Appends events (and a snapshot) for one entity; resolves once committed.
   * Concurrent appends from many entities share one statement.
   */
  append(request: AppendRequest): Promise<void>;
  /** The latest snapshot, if any, and the events after it, ordered by sequence number. */
  load(entityType: string, entityId: string): Promise<LoadedEntity>;
  /** Events with `seqNr >= fromSeqNr` (default 1), ordered by sequence number. */
  readEvents(entityType: string, entityId: string, fromSeqNr?: number): Promise<StoredEvent[]>;
  stats(): EventJournalStats;
  /**
   * Waits for queued and in-flight appends to settle, and rejects appends made
   * from now on. Does not close the database, which the caller owns.
   */
  close(): Promise<void>;
}

/**
 * Creates the event journal over an open, migrated database.
 *
 * @example
 * const journal = createEventJournal(database);
 * await journal.append({ entityType: "cart", entityId: "c1",
 *   events: [{ seqNr: 1, eventType: "shop.cart.v1.ItemAdded", payload }] });
 * const { snapshot, events } = await journal.load("cart", "c1");
 */
export function createEventJournal(database: Database, options: EventJournalOptions = {}): EventJournal {
  const { db } = database;
  let closed = false;
  let events = 0;
  let conflicts = 0;
  const group = createGroupCommit<AppendRequest>({
    maxBatchWeight: options.maxBatchEvents ?? 1000,
    weigh: (append) => Math.max(1, append.events.length),
    async commit(batch) {
      for (const append of batch) events += append.events.length;
      const outcomes = await commitAppendBatch(db, batch);
      for (const outcome of outcomes) if (outcome instanceof SequenceConflictError) conflicts++;
      return outcomes;
    },
  });

  async function readEvents(entityType: string, entityId: string, fromSeqNr = 1): Promise<StoredEvent[]> {
    try {
      const rows = await db
        .selectFrom("orrery_events")
        .select(["seq_nr", "event_type", "payload", "metadata", "global_position", "written_at"])
        .where("entity_type", "=", entityType)
        .where("entity_id", "=", entityId)
        .where("seq_nr", ">=", fromSeqNr)
        .orderBy("seq_nr")
        .execute();
      return rows.map((row) => ({
        seqNr: row.seq_nr,
        eventType: row.event_type,
        payload: row.payload,
        ...(row.metadata !== null && { metadata: row.metadata }),
        globalPosition: row.global_position,
        writtenAt: row.written_at,
      }));
    } catch (error) {
      throw toStorageError(error, `reading the events of ${entityType} "${entityId}"`);
    }
  }

  return {
    async append(request) {
      if (closed) {
        throw new StorageUnavailableError(
          `cannot append to ${request.entityType} "${request.entityId}": the event journal is closed (shutting down)`,
        );
      }
      validateAppend(request);
      if (request.events.length === 0 && request.snapshot === undefined) return;
      return group.submit(request);
    },

    async load(entityType, entityId) {
      let snapshot: Snapshot | undefined;
      try {
        const row = await db
          .selectFrom("orrery_snapshots")
          .select(["seq_nr", "state_type", "payload"])
          .where("entity_type", "=", entityType)
          .where("entity_id", "=", entityId)
          .executeTakeFirst();
        if (row !== undefined) snapshot = { seqNr: row.seq_nr, stateType: row.state_type, payload: row.payload };
      } catch (error) {
        throw toStorageError(error, `reading the snapshot of ${entityType} "${entityId}"`);
      }
      // Snapshots only move forward and events are never deleted, so reading after it is consistent.
      const events = await readEvents(entityType, entityId, (snapshot?.seqNr ?? 0) + 1);
      return snapshot === undefined ? { events } : { snapshot, events };
    },

    readEvents,

    stats() {
      const { flushes, items, largestBatch } = group.stats();
      return { flushes, appends: items, events, conflicts, largestBatch };
    },

    async close() {
      closed = true;
      await group.drain();
    },
  };
}
