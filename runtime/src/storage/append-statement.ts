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
  if (appends.some((append) => append.fence !== undefined)) throw new Error("insertAppends: fenced appends go through insertFencedAppends");
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

/**
 * Like {@link insertAppends} for a batch in which some appends carry a shard
 * fence, still ONE statement: it reads the fenced shards' rows `FOR SHARE`
 * (so a hand-off or claim of those shards waits for this statement, or it
 * waits for them), writes only the events and snapshots of appends without a
 * fence or whose epoch matches, and returns the shards' epochs. Returns the
 * positions of the appends that were fenced, each with the shard's epoch now.
 */
export async function insertFencedAppends(db: Kysely<OrreryTables>, appends: readonly AppendRequest[]): Promise<Map<number, number | undefined>> {
  const columns = { types: [] as string[], ids: [] as string[], seqNrs: [] as number[], eventTypes: [] as string[], payloads: [] as Uint8Array[], metadata: [] as Array<string | null>, shards: [] as Array<number | null>, epochs: [] as Array<number | null> };
  for (const append of appends) {
    for (const event of append.events) {
      columns.types.push(append.entityType);
      columns.ids.push(append.entityId);
      columns.seqNrs.push(event.seqNr);
      columns.eventTypes.push(event.eventType);
      columns.payloads.push(event.payload);
      columns.metadata.push(event.metadata === undefined ? null : JSON.stringify(event.metadata));
      columns.shards.push(append.fence?.shard ?? null);
      columns.epochs.push(append.fence?.epoch ?? null);
    }
  }
  const snapshots = latestFencedSnapshots(appends);
  const shards = [...new Set(appends.flatMap((append) => (append.fence === undefined ? [] : [append.fence.shard])))];
  const { rows } = await sql<{ shard: number; epoch: string | number }>`
    with fence as (
      select shard, epoch from orrery_shards where shard = any(${shards}::int[]) for share
    ), appended as (
      insert into orrery_events (entity_type, entity_id, seq_nr, event_type, payload, metadata)
      select u.entity_type, u.entity_id, u.seq_nr, u.event_type, u.payload, u.metadata
        from unnest(${columns.types}::text[], ${columns.ids}::text[], ${columns.seqNrs}::int8[], ${columns.eventTypes}::text[],
                    ${columns.payloads}::bytea[], ${columns.metadata}::jsonb[], ${columns.shards}::int[], ${columns.epochs}::int8[])
             as u(entity_type, entity_id, seq_nr, event_type, payload, metadata, shard, epoch)
       where u.shard is null or exists (select 1 from fence f where f.shard = u.shard and f.epoch = u.epoch)
    ), stored as (
      insert into orrery_snapshots (entity_type, entity_id, seq_nr, state_type, payload)
      select u.entity_type, u.entity_id, u.seq_nr, u.state_type, u.payload
        from unnest(${snapshots.map((s) => s.entityType)}::text[], ${snapshots.map((s) => s.entityId)}::text[],
                    ${snapshots.map((s) => s.snapshot.seqNr)}::int8[], ${snapshots.map((s) => s.snapshot.stateType)}::text[],
                    ${snapshots.map((s) => s.snapshot.payload)}::bytea[], ${snapshots.map((s) => s.fence?.shard ?? null)}::int[],
                    ${snapshots.map((s) => s.fence?.epoch ?? null)}::int8[])
             as u(entity_type, entity_id, seq_nr, state_type, payload, shard, epoch)
       where u.shard is null or exists (select 1 from fence f where f.shard = u.shard and f.epoch = u.epoch)
      on conflict (entity_type, entity_id) do update
         set seq_nr = excluded.seq_nr, state_type = excluded.state_type, payload = excluded.payload, written_at = now()
       where orrery_snapshots.seq_nr < excluded.seq_nr
    )
    select shard, epoch from fence`.execute(db);
  const current = new Map(rows.map((row) => [row.shard, Number(row.epoch)]));
  const fenced = new Map<number, number | undefined>();
  appends.forEach((append, position) => {
    if (append.fence !== undefined && current.get(append.fence.shard) !== append.fence.epoch) fenced.set(position, current.get(append.fence.shard));
  });
  return fenced;
}

function latestFencedSnapshots(appends: readonly AppendRequest[]) {
  const fences = new Map(appends.map((append) => [`${append.entityType}\u0000${append.entityId}`, append.fence]));
  return latestSnapshots(appends).map((entry) => ({ ...entry, fence: fences.get(`${entry.entityType}\u0000${entry.entityId}`) }));
}
