import { commitAppendBatch } from "./append-batch.js";
import type { Database } from "./database.js";
import { createFailureLog } from "./failure-log.js";
import { createGroupCommit } from "./group-commit.js";
import type { JournalObserver } from "./journal-observer.js";
import { sql } from "kysely";
import { IDEMPOTENCY_METADATA } from "./journal-records.js";
import type { AppendRequest, AppliedCommand, LoadedEntity, Snapshot, StoredEvent } from "./journal-records.js";
import { resolveInDoubtAppends } from "./resolve-in-doubt.js";
import { createStorageHealth } from "./storage-health.js";
import type { StorageHealth } from "./storage-health.js";
import type { StorageLogger } from "./storage-logger.js";
import { StorageUnavailableError } from "./storage-errors.js";
import { createStoreAccess } from "./store-access.js";
import { createReadBatcher } from "./read-batch.js";
import { validateAppend } from "./validate-append.js";

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
  /** Appends submitted and not settled yet (queued, committing, or waiting for the store). */
  readonly pending: number;
}

/** Options for `createEventJournal`. */
export interface EventJournalOptions {
  /** Upper bound on events per batch (default 1,000); a larger single append still goes alone. */
  maxBatchEvents?: number;
  /** Statements in flight at once (default 1); only a database with concurrent transactions uses more. */
  maxInFlight?: number;
  /**
   * How long a call may wait for an unreachable event store before it fails
   * with `StorageUnavailableError` (default 2,000 ms), unless its append
   * carries an earlier `deadline`.
   */
  waitMs?: number;
  /** A statement unanswered this long makes the store count as down (readiness says so) until it answers (default 2,000 ms). */
  stallMs?: number;
  /** Appends pending at most; past that an append fails at once (default 10,000). */
  maxPending?: number;
  /** Whether the store can be reached; one is made for `database` unless given. */
  health?: StorageHealth;
  /** Where storage failures and outages are logged. */
  logger?: StorageLogger;
  /** Told about every batch commit (metrics, traces). */
  observer?: JournalObserver;
  /** Called after a batch committed at least one append (wakes the readers of the feed). */
  onCommitted?: () => void;
}

/**
 * The append-only event store of event-sourced entities, with group commit.
 * Every rejection is a `StorageError` carrying an `errorId` that is in the
 * log: `SequenceConflictError` when another writer took the sequence number,
 * `StorageUnavailableError` when the event store could not be reached in
 * time (the append was not committed: safe to retry),
 * `CommitOutcomeUnknownError` when the connection was lost mid-commit and
 * the database could not be asked in time whether it committed, a plain
 * terminal `StorageError` otherwise.
 *
 * While the store is unreachable, appends and reads wait for it up to their
 * deadline (bounded wait) and at most `maxPending` may do so (bounded queue);
 * an append whose statement certainly did not commit is tried again once the
 * store is back, within its deadline.
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
  /**
   * The commands the entity applied under an idempotency key in the last
   * `withinMs` (by the database's clock), by key.
   */
  appliedCommands(entityType: string, entityId: string, withinMs: number): Promise<Map<string, AppliedCommand>>;
  /** Whether the event store can be reached. */
  readonly health: StorageHealth;
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
  const waitMs = options.waitMs ?? 2_000;
  const ownHealth = options.health === undefined;
  const health = options.health ?? createStorageHealth({ probe: () => database.probe(), target: database.target, logger: options.logger });
  const access = createStoreAccess({
    health,
    failures: createFailureLog(options.logger),
    waitMs,
    maxPending: options.maxPending ?? 10_000,
    stallMs: options.stallMs ?? 2_000,
    storeName: "the event store",
    writeNoun: "appends",
    describeBatch: (size) => `appending ${size} appends`,
    describeWrite: (append) => `appending to ${append.entityType} "${append.entityId}"`,
  });
  // The keys of entities loaded at once are read in one statement (each such read follows a load).
  const appliedReads = createReadBatcher<{ entityType: string; entityId: string; withinMs: number }, Map<string, AppliedCommand>>(
    (k) => `${k.entityType}\u0000${k.entityId}`,
    async (keys) => {
      // The predicate is the partial index's, verbatim, so the index serves it; the window is the widest asked for.
      const withinMs = Math.max(...keys.map((k) => k.withinMs));
      const { rows } = await sql<{ entity_type: string; entity_id: string; metadata: Record<string, string>; at: number }>`
        select e.entity_type, e.entity_id, e.metadata, (extract(epoch from e.written_at) * 1000)::float8 as at
          from orrery_events e
          join unnest(${keys.map((k) => k.entityType)}::text[], ${keys.map((k) => k.entityId)}::text[]) as k(entity_type, entity_id)
            on e.entity_type = k.entity_type and e.entity_id = k.entity_id
         where e.metadata ? 'orrery.idempotencyKey'
           and e.written_at > now() - make_interval(secs => ${withinMs / 1000})`.execute(db);
      const found = new Map<string, Map<string, AppliedCommand>>();
      // The statement read the widest window; an entity asked for a narrower one keeps its own (on this node's clock, like `at`).
      const since = new Map(keys.filter((k) => k.withinMs < withinMs).map((k) => [`${k.entityType}\u0000${k.entityId}`, Date.now() - k.withinMs]));
      for (const { entity_type, entity_id, metadata, at } of rows) {
        const key = metadata[IDEMPOTENCY_METADATA.key];
        const method = metadata[IDEMPOTENCY_METADATA.method];
        const reply = metadata[IDEMPOTENCY_METADATA.reply];
        if (key === undefined || method === undefined || reply === undefined) continue;
        const id = `${entity_type}\u0000${entity_id}`;
        let applied = found.get(id);
        if (applied === undefined) found.set(id, (applied = new Map()));
        if (Number(at) >= (since.get(id) ?? -Infinity)) applied.set(key, { method, reply: Buffer.from(reply, "base64"), at: Number(at) });
      }
      return found;
    },
    () => new Map(),
  );
  const observer = options.observer;
  let closed = false;
  let events = 0;

  const group = createGroupCommit<AppendRequest>({
    maxBatchWeight: options.maxBatchEvents ?? 1000,
    maxInFlight: database.capabilities.concurrentTransactions ? (options.maxInFlight ?? 1) : 1,
    weigh: (append) => Math.max(1, append.events.length),
    commit(batch) {
      for (const append of batch) events += append.events.length;
      const until = Math.max(...batch.map((append) => append.deadline ?? performance.now() + waitMs));
      // The fence only matters where another process could write (see DatabaseCapabilities.exclusiveWriter).
      const statement = database.capabilities.exclusiveWriter ? batch.map(withoutFence) : batch;
      const run = () => commitAppendBatch(db, statement, {
        session: (error) => database.inDoubtSession(error),
        resolve: (appends, session) => resolveInDoubtAppends(database, health, appends, session, until),
      });
      return access.commit(batch, () => (observer === undefined ? run() : observer.commit(batch, run))).then((outcomes) => {
        if (options.onCommitted !== undefined && outcomes.some((outcome) => outcome === undefined)) options.onCommitted();
        return outcomes;
      });
    },
  });

  function readEvents(entityType: string, entityId: string, fromSeqNr = 1): Promise<StoredEvent[]> {
    return access.read(`reading the events of ${entityType} "${entityId}"`, async () => {
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
    });
  }

  return {
    health,

    async append(request) {
      if (closed) {
        throw new StorageUnavailableError(
          `cannot append to ${request.entityType} "${request.entityId}": the event journal is closed (shutting down)`,
        );
      }
      validateAppend(request);
      if (request.events.length === 0 && request.snapshot === undefined) return;
      const submitted = performance.now();
      try {
        await access.write(`appending to ${request.entityType} "${request.entityId}"`, request.deadline, () => group.submit(request), () => closed);
      } finally {
        observer?.appended?.((performance.now() - submitted) / 1000);
      }
    },

    async load(entityType, entityId) {
      const row = await access.read(`reading the snapshot of ${entityType} "${entityId}"`, () =>
        db
          .selectFrom("orrery_snapshots")
          .select(["seq_nr", "state_type", "payload"])
          .where("entity_type", "=", entityType)
          .where("entity_id", "=", entityId)
          .executeTakeFirst(),
      );
      const snapshot: Snapshot | undefined = row && { seqNr: row.seq_nr, stateType: row.state_type, payload: row.payload };
      // Snapshots only move forward and events are never deleted, so reading after it is consistent.
      const events = await readEvents(entityType, entityId, (snapshot?.seqNr ?? 0) + 1);
      return snapshot === undefined ? { events } : { snapshot, events };
    },

    readEvents,

    appliedCommands(entityType, entityId, withinMs) {
      return access.read(`reading the idempotency keys of ${entityType} "${entityId}"`, () => appliedReads.read({ entityType, entityId, withinMs }));
    },

    stats() {
      const { flushes, items, largestBatch } = group.stats();
      return { flushes, appends: items, events, conflicts: access.conflicts, largestBatch, pending: access.pending };
    },

    async close() {
      closed = true;
      await group.drain();
      if (ownHealth) health.close();
    },
  };
}

function withoutFence(append: AppendRequest): AppendRequest {
  if (append.fence === undefined) return append;
  const { fence: _fence, ...rest } = append;
  return rest;
}
