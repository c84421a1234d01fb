import type { Span } from "@opentelemetry/api";
import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import { createFailureLog } from "./failure-log.js";
import { createGroupCommit } from "./group-commit.js";
import type { AppliedCommand, ShardFence } from "./journal-records.js";
import type { OrreryTables } from "./orrery-tables.js";
import { sameBytes, settleInDoubt } from "./resolve-in-doubt.js";
import { createStorageHealth } from "./storage-health.js";
import type { StorageHealth } from "./storage-health.js";
import type { StorageLogger } from "./storage-logger.js";
import {
  CommitOutcomeUnknownError,
  FencedWriteError,
  RevisionConflictError,
  StorageError,
  StorageUnavailableError,
  isConnectionFailure,
  toStorageError,
} from "./storage-errors.js";
import { createStoreAccess } from "./store-access.js";

/** A key-value entity's new state (or its deletion), written over the revision before it. */
export interface StateWrite {
  readonly entityType: string;
  readonly entityId: string;
  /** The revision this write creates: the stored one + 1 (1 for an entity never written). */
  readonly revision: number;
  /** The new state, protobuf binary under its full message name; undefined deletes the entity. */
  readonly state: { readonly type: string; readonly payload: Uint8Array } | undefined;
  /** The latest `performance.now()` time the caller waits for an unreachable store. */
  readonly deadline?: number | undefined;
  /** The shard lease the writer holds, checked in the write's own statement (see `AppendRequest.fence`). */
  readonly fence?: ShardFence | undefined;
  /** The spans of the commands this write commits, when tracing. */
  readonly spans?: readonly Span[] | undefined;
  /** Replaces the idempotency keys stored with the state; undefined leaves them as they are. */
  readonly applied?: ReadonlyMap<string, AppliedCommand> | undefined;
  /** A workflow's shard and when the engine must look at it next (ms since the epoch; undefined: nothing is due). */
  readonly wake?: { readonly shard: number; readonly at: number | undefined } | undefined;
}

/** A key-value entity's stored state row. */
export interface StoredState {
  readonly revision: number;
  /** Undefined when the last write deleted the entity. */
  readonly state: { readonly type: string; readonly payload: Uint8Array } | undefined;
}

/** Counters for observing the key-value store's group commit. */
export interface KeyValueStoreStats {
  readonly flushes: number;
  readonly writes: number;
  /** Writes rejected with `RevisionConflictError`. */
  readonly conflicts: number;
  readonly largestBatch: number;
  readonly pending: number;
}

/** Options of {@link createKeyValueStore}; the same bounds as the event journal's. */
export interface KeyValueStoreOptions {
  readonly maxBatchWrites?: number;
  readonly maxInFlight?: number;
  readonly waitMs?: number;
  readonly stallMs?: number;
  readonly maxPending?: number;
  /** Shared with the event journal of the same database, so both see one outage. */
  readonly health?: StorageHealth;
  readonly logger?: StorageLogger;
  /** Called after a batch committed at least one write (wakes the readers of the change feed). */
  readonly onCommitted?: () => void;
}

/**
 * The state rows of key-value entities, with group commit: concurrent writes
 * of many entities share one statement, each row checked on its own. A write
 * commits only over the revision before it (else `RevisionConflictError`) and
 * only while its shard fence holds (else `FencedWriteError`); the rest of the
 * batch commits regardless. Connection failures behave as in the event
 * journal: bounded waits, a certain non-commit retried, an uncertain one
 * settled by reading back or reported as `CommitOutcomeUnknownError`.
 */
export interface KeyValueStore {
  write(write: StateWrite): Promise<void>;
  /** The entity's state row, or undefined when it was never written. */
  load(entityType: string, entityId: string): Promise<StoredState | undefined>;
  /** The idempotency keys stored with the entity's state, by key. */
  appliedCommands(entityType: string, entityId: string): Promise<Map<string, AppliedCommand>>;
  readonly health: StorageHealth;
  stats(): KeyValueStoreStats;
  /** Waits for pending writes and rejects new ones; the database stays open. */
  close(): Promise<void>;
}

/** Creates the key-value store over an open, migrated database. */
export function createKeyValueStore(database: Database, options: KeyValueStoreOptions = {}): KeyValueStore {
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
    storeName: "the key-value store",
    writeNoun: "writes",
    describeBatch: (size) => `writing ${size} key-value states`,
    describeWrite: (write) => `writing ${write.entityType} "${write.entityId}"`,
  });
  let closed = false;

  const group = createGroupCommit<StateWrite>({
    maxBatchWeight: options.maxBatchWrites ?? 1000,
    maxInFlight: database.capabilities.concurrentTransactions ? (options.maxInFlight ?? 1) : 1,
    weigh: () => 1,
    commit(batch) {
      const until = Math.max(...batch.map((write) => write.deadline ?? performance.now() + waitMs));
      // The fence only matters where another process could write (see DatabaseCapabilities.exclusiveWriter).
      const statement = database.capabilities.exclusiveWriter ? batch.map(withoutFence) : batch;
      return access.commit(batch, () => commitStateWrites(database, health, statement, until)).then((outcomes) => {
        if (options.onCommitted !== undefined && outcomes.some((outcome) => outcome === undefined)) options.onCommitted();
        return outcomes;
      });
    },
  });

  return {
    health,
    async write(write) {
      if (closed) {
        throw new StorageUnavailableError(`cannot write ${write.entityType} "${write.entityId}": the key-value store is closed (shutting down)`);
      }
      validateWrite(write);
      await access.write(`writing ${write.entityType} "${write.entityId}"`, write.deadline, () => group.submit(write), () => closed);
    },
    async load(entityType, entityId) {
      const row = await access.read(`reading the state of ${entityType} "${entityId}"`, () =>
        db.selectFrom("orrery_kv_state")
          .select(["revision", "state_type", "payload"])
          .where("entity_type", "=", entityType)
          .where("entity_id", "=", entityId)
          .executeTakeFirst(),
      );
      if (row === undefined) return undefined;
      const state = row.state_type === null || row.payload === null ? undefined : { type: row.state_type, payload: row.payload };
      return { revision: row.revision, state };
    },
    async appliedCommands(entityType, entityId) {
      const row = await access.read(`reading the idempotency keys of ${entityType} "${entityId}"`, () =>
        db.selectFrom("orrery_kv_state").select("applied").where("entity_type", "=", entityType).where("entity_id", "=", entityId).executeTakeFirst(),
      );
      return new Map(Object.entries(row?.applied ?? {}).map(([key, a]) => [key, { method: a.m, reply: Buffer.from(a.r, "base64"), at: a.t }]));
    },
    stats() {
      const { flushes, items, largestBatch } = group.stats();
      return { flushes, writes: items, conflicts: access.conflicts, largestBatch, pending: access.pending };
    },
    async close() {
      closed = true;
      await group.drain();
      if (ownHealth) health.close();
    },
  };
}

/**
 * Commits a batch of state writes; one outcome per write. An entity written
 * twice in one batch goes in a second statement (an upsert may touch a row
 * only once), so each later write is checked over the earlier one.
 */
async function commitStateWrites(database: Database, health: StorageHealth, batch: readonly StateWrite[], until: number): Promise<Array<Error | undefined>> {
  const outcomes: Array<Error | undefined> = batch.map(() => undefined);
  for (const round of rounds(batch)) {
    const writes = round.map((index) => batch[index]!);
    let result: Array<Error | undefined>;
    try {
      result = await writeStates(database.db, writes);
    } catch (error) {
      result = await afterFailure(database, health, writes, error, until);
    }
    round.forEach((index, position) => (outcomes[index] = result[position]));
  }
  return outcomes;
}

/** The positions of `batch` in statements in which each entity appears once, in order. */
function rounds(batch: readonly StateWrite[]): number[][] {
  const seen = new Map<string, number>();
  const out: number[][] = [];
  batch.forEach((write, index) => {
    const key = `${write.entityType}\u0000${write.entityId}`;
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (out[round] ??= []).push(index);
  });
  return out;
}

/**
 * Writes the states of many entities in ONE autocommit statement: the fenced
 * shards' rows are read `FOR SHARE` (so a hand-off of those shards waits for
 * it, or it for them), and each row is upserted only when its fence holds and
 * the stored revision is the one before it. Returns one outcome per write.
 */
export async function writeStates(db: Kysely<OrreryTables>, writes: readonly StateWrite[]): Promise<Array<Error | undefined>> {
  const shards = [...new Set(writes.flatMap((write) => (write.fence === undefined ? [] : [write.fence.shard])))];
  const { rows } = await sql<{ shard: number | null; epoch: string | number | null; entity_type: string | null; entity_id: string | null }>`
    with fence as (
      select shard, epoch from orrery_shards where shard = any(${shards}::int[]) for share
    ), written as (
      insert into orrery_kv_state as s (entity_type, entity_id, revision, state_type, payload, deleted, applied, shard, wake_at)
      select u.entity_type, u.entity_id, u.revision, u.state_type, u.payload, u.state_type is null, u.applied, u.wake_shard, u.wake_at
        from unnest(${writes.map((w) => w.entityType)}::text[], ${writes.map((w) => w.entityId)}::text[],
                    ${writes.map((w) => w.revision)}::int8[], ${writes.map((w) => w.state?.type ?? null)}::text[],
                    ${writes.map((w) => w.state?.payload ?? null)}::bytea[], ${writes.map((w) => w.fence?.shard ?? null)}::int[],
                    ${writes.map((w) => w.fence?.epoch ?? null)}::int8[], ${writes.map((w) => appliedJson(w.applied))}::jsonb[],
                    ${writes.map((w) => w.wake?.shard ?? null)}::int[], ${writes.map((w) => wakeAt(w))}::timestamptz[])
             as u(entity_type, entity_id, revision, state_type, payload, shard, epoch, applied, wake_shard, wake_at)
       where u.shard is null or exists (select 1 from fence f where f.shard = u.shard and f.epoch = u.epoch)
      on conflict (entity_type, entity_id) do update
         set revision = excluded.revision, state_type = excluded.state_type, payload = excluded.payload, deleted = excluded.deleted,
             applied = coalesce(excluded.applied, s.applied), shard = excluded.shard, wake_at = excluded.wake_at,
             change_position = nextval('orrery_kv_change_seq'), tx_id = pg_current_xact_id(), written_at = now()
       where s.revision = excluded.revision - 1
      returning s.entity_type, s.entity_id
    )
    select null::int as shard, null::int8 as epoch, entity_type, entity_id from written
    union all
    select shard, epoch, null, null from fence`.execute(db);
  const epochs = new Map<number, number>();
  const written = new Set<string>();
  for (const row of rows) {
    if (row.shard !== null) epochs.set(row.shard, Number(row.epoch));
    else written.add(`${row.entity_type}\u0000${row.entity_id}`);
  }
  return writes.map((write) => {
    if (written.has(`${write.entityType}\u0000${write.entityId}`)) return undefined;
    if (write.fence !== undefined && epochs.get(write.fence.shard) !== write.fence.epoch) {
      return new FencedWriteError(write.entityType, write.entityId, write.fence.shard, write.fence.epoch, epochs.get(write.fence.shard), "write");
    }
    return new RevisionConflictError(write.entityType, write.entityId, write.revision);
  });
}

/** The write's `wake_at`: set only on a workflow's row while something is due. */
function wakeAt(write: StateWrite): string | null {
  return write.wake?.at === undefined ? null : new Date(write.wake.at).toISOString();
}

/** The stored form of a write's idempotency keys; null leaves the stored ones. */
function appliedJson(applied: ReadonlyMap<string, AppliedCommand> | undefined): string | null {
  if (applied === undefined) return null;
  return JSON.stringify(Object.fromEntries([...applied].map(([key, a]) => [key, { m: a.method, r: Buffer.from(a.reply).toString("base64"), t: a.at }])));
}

/**
 * The outcomes of a statement that threw. When its connection was lost
 * mid-statement, the rows are read back once the session is gone: a write
 * whose row holds its revision and payload committed, and then the whole
 * statement did, so the others were stale or fenced (told as a conflict:
 * reload and retry). When none is there it did not commit.
 */
async function afterFailure(database: Database, health: StorageHealth, writes: readonly StateWrite[], error: unknown, until: number): Promise<Array<Error | undefined>> {
  const session = database.inDoubtSession(error);
  if (session === undefined || !isConnectionFailure(error)) {
    const reason = toStorageError(error, `writing ${writes.length} key-value states`);
    return writes.map(() => reason);
  }
  const verdict = await settleInDoubt(database, health, session, until, "settling a key-value write whose connection was lost", async () => {
    const { rows } = await sql<{ entity_type: string; entity_id: string; revision: number; payload: Uint8Array | null }>`
      select entity_type, entity_id, revision, payload from orrery_kv_state
       where (entity_type, entity_id) in (select * from unnest(${writes.map((w) => w.entityType)}::text[], ${writes.map((w) => w.entityId)}::text[]))`
      .execute(database.db);
    const found = new Map(rows.map((row) => [`${row.entity_type}\u0000${row.entity_id}`, row]));
    const mine = writes.map((write) => {
      const row = found.get(`${write.entityType}\u0000${write.entityId}`);
      if (row === undefined || Number(row.revision) !== write.revision) return false;
      return write.state === undefined ? row.payload === null : row.payload !== null && sameBytes(row.payload, write.state.payload);
    });
    return mine.some(Boolean) ? mine : ("not committed" as const);
  });
  if (verdict === "unknown") {
    const reason = new CommitOutcomeUnknownError(
      `writing ${writes.length} key-value states lost its connection mid-statement and the database could not be asked in time ` +
        `whether it committed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
    return writes.map(() => reason);
  }
  if (verdict === "not committed") {
    // As good as never sent: the access layer tries it again while the caller's deadline allows.
    const reason = new StorageUnavailableError(`writing ${writes.length} key-value states lost its connection; it did not commit`, { cause: error });
    return writes.map(() => reason);
  }
  return writes.map((write, i) => (verdict[i] ? undefined : new RevisionConflictError(write.entityType, write.entityId, write.revision)));
}

function validateWrite(write: StateWrite): void {
  if (!Number.isSafeInteger(write.revision) || write.revision < 1) {
    throw new StorageError(`cannot write ${write.entityType} "${write.entityId}": revision ${write.revision} is not a positive integer`);
  }
}

function withoutFence(write: StateWrite): StateWrite {
  if (write.fence === undefined) return write;
  const { fence: _fence, ...rest } = write;
  return rest;
}
