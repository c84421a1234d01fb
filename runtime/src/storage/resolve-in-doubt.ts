import { sql } from "kysely";
import type { Database } from "./database.js";
import type { AppendRequest } from "./journal-records.js";
import { isConnectionFailure } from "./storage-errors.js";
import type { StorageHealth } from "./storage-health.js";

/**
 * Finds out whether a batch of appends whose connection was lost mid-statement
 * committed, so that a caller is told the truth: acknowledged if it did, "not
 * applied, safe to retry" if it did not.
 *
 * The session that ran the statement may still be running it (the server may
 * not have noticed the lost connection), so it is ended first and awaited;
 * once it is gone its transaction has committed or rolled back for good. Then
 * the first event of every append is read back: the batch was one statement,
 * so it committed exactly when every one of them is there with this batch's
 * payload and all from one transaction. Retries while the database is
 * unreachable, until `until` (a `performance.now()` time): then "unknown".
 */
export async function resolveInDoubtAppends(
  database: Database,
  health: StorageHealth,
  appends: readonly AppendRequest[],
  session: string,
  until: number,
): Promise<"committed" | "not committed" | "unknown"> {
  const firsts = appends.flatMap((append) => (append.events[0] === undefined ? [] : [{ append, event: append.events[0] }]));
  return settleInDoubt(database, health, session, until, "settling an append whose connection was lost", async () => {
    if (firsts.length === 0) return "not committed"; // snapshot-only appends: nothing to lose by writing again
    const { rows } = await sql<{ entity_type: string; entity_id: string; seq_nr: number; tx_id: number; payload: Uint8Array; event_type: string }>`
      select entity_type, entity_id, seq_nr, tx_id, payload, event_type from orrery_events
      where (entity_type, entity_id, seq_nr) in (select * from unnest(
        ${firsts.map((f) => f.append.entityType)}::text[], ${firsts.map((f) => f.append.entityId)}::text[],
        ${firsts.map((f) => f.event.seqNr)}::int8[]))`.execute(database.db);
    const found = new Map(rows.map((row) => [`${row.entity_type}\u0000${row.entity_id}\u0000${row.seq_nr}`, row]));
    const transactions = new Set<number>();
    const ours = firsts.every(({ append, event }) => {
      const row = found.get(`${append.entityType}\u0000${append.entityId}\u0000${event.seqNr}`);
      if (row === undefined || row.event_type !== event.eventType || !sameBytes(row.payload, event.payload)) return false;
      transactions.add(row.tx_id);
      return true;
    });
    return ours && transactions.size === 1 ? "committed" : "not committed";
  });
}

/**
 * The shared part of settling a statement whose connection was lost: end the
 * session that ran it (and wait until it is gone, so its transaction has
 * committed or rolled back for good), then `check` what is in the database;
 * retried while the database is unreachable, until `until`: then "unknown".
 */
export async function settleInDoubt<V>(
  database: Database,
  health: StorageHealth,
  session: string,
  until: number,
  what: string,
  check: () => Promise<V>,
): Promise<V | "unknown"> {
  for (;;) {
    try {
      if (!(await database.endSession(session, until))) return "unknown"; // signalled, but it would not go in time
      const verdict = await check();
      health.succeeded();
      return verdict;
    } catch (error) {
      if (!isConnectionFailure(error)) return "unknown";
      health.connectionFailed(error, what);
      if (!(await health.whenUp(until))) return "unknown";
    }
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
