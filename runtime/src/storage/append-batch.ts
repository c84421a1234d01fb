import { type Kysely, sql } from "kysely";
import { insertAppends, insertFencedAppends } from "./append-statement.js";
import type { AppendRequest } from "./journal-records.js";
import type { OrreryTables } from "./orrery-tables.js";
import {
  CommitOutcomeUnknownError,
  FencedWriteError,
  SequenceConflictError,
  StorageError,
  errorCode,
  isConnectionFailure,
  toStorageError,
} from "./storage-errors.js";

/**
 * Settles a batch whose connection was lost while its statement was on the
 * way or running (see `resolveInDoubtAppends`): "committed", "not committed",
 * or "unknown" when the database could not be asked in time.
 */
export type InDoubtResolver = (appends: readonly AppendRequest[], session: string) => Promise<"committed" | "not committed" | "unknown">;

/**
 * Commits a batch of appends and returns one outcome per append (`undefined` =
 * committed). The batch is one statement; appends carrying a shard fence
 * whose epoch moved on get a `FencedWriteError` and write nothing, while the
 * rest of the batch commits in the same statement. When the journal's primary key
 * rejects it, the appends whose sequence numbers are taken (by rows already
 * committed, or by an earlier append of the same batch) get a
 * `SequenceConflictError` and the statement is retried without them, so the
 * rest of the batch still commits. When the connection was lost mid-statement
 * and `inDoubtSession` names the session that ran it, `resolveInDoubt`
 * settles whether it committed before anyone is told. Any other failure
 * rejects every append still pending with the same classified `StorageError`.
 */
export async function commitAppendBatch(
  db: Kysely<OrreryTables>,
  batch: readonly AppendRequest[],
  inDoubt?: { session(error: unknown): string | undefined; resolve: InDoubtResolver },
): Promise<Array<Error | undefined>> {
  const outcomes: Array<Error | undefined> = batch.map(() => undefined);
  let pending = batch.map((_, index) => index);
  while (pending.length > 0) {
    const appends = pending.map((index) => batch[index]!);
    try {
      if (appends.some((append) => append.fence !== undefined)) {
        for (const [position, currentEpoch] of await insertFencedAppends(db, appends)) {
          const { entityType, entityId, fence } = appends[position]!;
          outcomes[pending[position]!] = new FencedWriteError(entityType, entityId, fence!.shard, fence!.epoch, currentEpoch);
        }
      } else {
        await insertAppends(db, appends);
      }
      return outcomes;
    } catch (error) {
      const session = inDoubt?.session(error);
      if (inDoubt !== undefined && session !== undefined && isConnectionFailure(error)) {
        const verdict = await inDoubt.resolve(appends, session);
        if (verdict === "committed") return outcomes;
        if (verdict === "unknown") {
          const reason = new CommitOutcomeUnknownError(
            `append to the event journal (batch of ${appends.length}) lost its connection mid-statement and the database ` +
              `could not be asked in time whether it committed: ${describe(error)}`,
            { cause: error },
          );
          for (const index of pending) outcomes[index] = reason;
          return outcomes;
        }
        // Not committed, and the session that ran it is gone: as good as never sent.
      }
      let losers: Map<number, number>;
      try {
        if (!isJournalKeyViolation(error)) throw error;
        losers = await findSequenceConflicts(db, appends);
        // A 23505 is only raised once the other row is committed, so it must be visible now.
        if (losers.size === 0) throw new StorageError("the journal reported a duplicate sequence number it cannot find", { cause: error });
      } catch (failure) {
        const reason = toStorageError(failure, `append to the event journal (batch of ${appends.length})`);
        for (const index of pending) outcomes[index] = reason;
        return outcomes;
      }
      for (const [position, seqNr] of losers) {
        const append = appends[position]!;
        outcomes[pending[position]!] = new SequenceConflictError(append.entityType, append.entityId, seqNr, { cause: error });
      }
      pending = pending.filter((_, position) => !losers.has(position));
    }
  }
  return outcomes;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isJournalKeyViolation(error: unknown): boolean {
  return errorCode(error) === "23505" && (error as { constraint?: unknown }).constraint === "orrery_events_pkey";
}

/**
 * Maps the position of each append that cannot commit to its first taken
 * sequence number: taken by a committed row, or claimed by an earlier append of
 * the same batch (the first writer in queue order wins).
 */
export async function findSequenceConflicts(
  db: Kysely<OrreryTables>,
  appends: readonly AppendRequest[],
): Promise<Map<number, number>> {
  const key = (entityType: string, entityId: string, seqNr: number) => `${entityType}\u0000${entityId}\u0000${seqNr}`;
  const events = appends.flatMap((append) => append.events.map((event) => ({ append, seqNr: event.seqNr })));
  const rows = await db
    .selectFrom("orrery_events")
    .select(["entity_type", "entity_id", "seq_nr"])
    .where(
      sql<boolean>`(entity_type, entity_id, seq_nr) in (select * from unnest(
        ${events.map((event) => event.append.entityType)}::text[], ${events.map((event) => event.append.entityId)}::text[],
        ${events.map((event) => event.seqNr)}::int8[]))`,
    )
    .execute();
  const taken = new Set(rows.map((row) => key(row.entity_type, row.entity_id, row.seq_nr)));
  const losers = new Map<number, number>();
  appends.forEach((append, position) => {
    const hit = append.events.find((event) => taken.has(key(append.entityType, append.entityId, event.seqNr)));
    if (hit !== undefined) losers.set(position, hit.seqNr);
  });
  const claimed = new Set<string>();
  appends.forEach((append, position) => {
    if (losers.has(position)) return;
    const keys = append.events.map((event) => key(append.entityType, append.entityId, event.seqNr));
    const duplicate = keys.findIndex((k) => claimed.has(k));
    if (duplicate >= 0) losers.set(position, append.events[duplicate]!.seqNr);
    else for (const k of keys) claimed.add(k);
  });
  return losers;
}
