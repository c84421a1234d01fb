import { type Kysely, sql } from "kysely";
import type { AppendRequest, Snapshot } from "./journal-records.js";
import type { OrreryTables } from "./orrery-tables.js";

/**
 * Writes the events and snapshots of many appends in ONE autocommit statement
 * (atomic, one round trip, no explicit transaction, so it is also safe on
 * PGlite's single connection): events go in through `unnest` of column arrays
 * (measured ~1.7x faster than multi-row VALUES at 1,000 rows on pg, and free of
 * the 65,535-parameter limit); snapshots are upserted in a data-modifying CTE of
 * the same statement, replacing only an older snapshot.
 */
export async function insertAppends(db: Kysely<OrreryTables>, appends: readonly AppendRequest[]): Promise<void> {
  const entityTypes: string[] = [];
  const entityIds: string[] = [];
  const seqNrs: number[] = [];
  const eventTypes: string[] = [];
  const payloads: Uint8Array[] = [];
  const metadata: Array<string | null> = [];
  for (const append of appends) {
    for (const event of append.events) {
      entityTypes.push(append.entityType);
      entityIds.push(append.entityId);
      seqNrs.push(event.seqNr);
      eventTypes.push(event.eventType);
      payloads.push(event.payload);
      metadata.push(event.metadata === undefined ? null : JSON.stringify(event.metadata));
    }
  }
  const insertEvents = db
    .insertInto("orrery_events")
    .columns(["entity_type", "entity_id", "seq_nr", "event_type", "payload", "metadata"])
    .expression(
      sql`select * from unnest(${entityTypes}::text[], ${entityIds}::text[], ${seqNrs}::int8[],
        ${eventTypes}::text[], ${payloads}::bytea[], ${metadata}::jsonb[])`,
    );

  const snapshots = latestSnapshots(appends);
  if (snapshots.length === 0) {
    await insertEvents.execute();
    return;
  }
  const column = <K extends keyof Snapshot>(key: K) => snapshots.map((entry) => entry.snapshot[key]);
  const upsertSnapshots = db
    .insertInto("orrery_snapshots")
    .columns(["entity_type", "entity_id", "seq_nr", "state_type", "payload"])
    .expression(
      sql`select * from unnest(${snapshots.map((entry) => entry.entityType)}::text[],
        ${snapshots.map((entry) => entry.entityId)}::text[], ${column("seqNr")}::int8[],
        ${column("stateType")}::text[], ${column("payload")}::bytea[])`,
    )
    .onConflict((conflict) =>
      conflict
        .columns(["entity_type", "entity_id"])
        .doUpdateSet((eb) => ({
          seq_nr: eb.ref("excluded.seq_nr"),
          state_type: eb.ref("excluded.state_type"),
          payload: eb.ref("excluded.payload"),
          written_at: sql<Date>`now()`,
        }))
        .whereRef("orrery_snapshots.seq_nr", "<", "excluded.seq_nr"),
    );
  if (seqNrs.length === 0) {
    await upsertSnapshots.execute();
    return;
  }
  // Sub-statements of a WITH always run to completion, within the statement's one transaction.
  await sql`with appended as (${insertEvents}) ${upsertSnapshots}`.execute(db);
}

/** One snapshot per entity (the newest), since an upsert may not touch a row twice. */
function latestSnapshots(appends: readonly AppendRequest[]): Array<{ entityType: string; entityId: string; snapshot: Snapshot }> {
  const latest = new Map<string, { entityType: string; entityId: string; snapshot: Snapshot }>();
  for (const { entityType, entityId, snapshot } of appends) {
    if (snapshot === undefined) continue;
    const key = `${entityType}\u0000${entityId}`;
    const previous = latest.get(key);
    if (previous === undefined || previous.snapshot.seqNr < snapshot.seqNr) latest.set(key, { entityType, entityId, snapshot });
  }
  return [...latest.values()];
}
