import { type Kysely, sql } from "kysely";
import type { OrreryTables } from "../storage/index.js";

/** A place in a feed: the transaction id and the position within it of the last record read. */
export interface FeedOffset {
  readonly txId: number;
  readonly position: number;
}

/** The start of every feed. */
export const FEED_START: FeedOffset = { txId: 0, position: 0 };

/** An event of the journal, as a projection reads it. */
export interface EventRecord {
  readonly feed: "events";
  readonly entityType: string;
  readonly entityId: string;
  readonly seqNr: number;
  /** Full protobuf message name, or `orrery.v1.EntityDeleted`. */
  readonly eventType: string;
  readonly payload: Uint8Array;
  readonly offset: FeedOffset;
  readonly writtenAt: Date;
}

/** A key-value entity's state as of its latest write, as a projection reads it. */
export interface StateRecord {
  readonly feed: "states";
  readonly entityType: string;
  readonly entityId: string;
  readonly revision: number;
  /** Undefined when the write deleted the entity. */
  readonly state: { readonly type: string; readonly payload: Uint8Array } | undefined;
  readonly offset: FeedOffset;
  readonly writtenAt: Date;
}

/** Any record of either feed. */
export type FeedRecord = EventRecord | StateRecord;

/**
 * Reads the journal after `after`, in `(tx_id, global_position)` order, for
 * the given entity types. Only rows of transactions older than every
 * transaction still running are returned (`tx_id < pg_snapshot_xmin(...)`):
 * a transaction that began earlier but commits later can never be skipped,
 * because nothing at or past it is read until it has ended. No gap guessing.
 */
export async function readEventFeed(db: Kysely<OrreryTables>, entityTypes: readonly string[], after: FeedOffset, limit: number): Promise<EventRecord[]> {
  const { rows } = await sql<{ entity_type: string; entity_id: string; seq_nr: number; event_type: string; payload: Uint8Array; tx_id: number; global_position: number; written_at: Date }>`
    select entity_type, entity_id, seq_nr, event_type, payload, tx_id, global_position, written_at
      from orrery_events
     where entity_type = any(${entityTypes}::text[])
       and (tx_id, global_position) > (${String(after.txId)}::xid8, ${after.position}::int8)
       and tx_id < pg_snapshot_xmin(pg_current_snapshot())
     order by tx_id, global_position
     limit ${limit}`.execute(db);
  return rows.map((row) => ({
    feed: "events",
    entityType: row.entity_type,
    entityId: row.entity_id,
    seqNr: Number(row.seq_nr),
    eventType: row.event_type,
    payload: row.payload,
    offset: { txId: Number(row.tx_id), position: Number(row.global_position) },
    writtenAt: row.written_at,
  }));
}

/**
 * Reads the key-value change feed after `after`: the state rows whose latest
 * write is past it, in `(tx_id, change_position)` order, with the same
 * snapshot rule as {@link readEventFeed}. Every write moves its row to the end
 * of the feed, so a reader sees each entity's latest state (and deletions),
 * not every intermediate one.
 */
export async function readStateFeed(db: Kysely<OrreryTables>, entityTypes: readonly string[], after: FeedOffset, limit: number): Promise<StateRecord[]> {
  const { rows } = await sql<{ entity_type: string; entity_id: string; revision: number; state_type: string | null; payload: Uint8Array | null; tx_id: number; change_position: number; written_at: Date }>`
    select entity_type, entity_id, revision, state_type, payload, tx_id, change_position, written_at
      from orrery_kv_state
     where entity_type = any(${entityTypes}::text[])
       and (tx_id, change_position) > (${String(after.txId)}::xid8, ${after.position}::int8)
       and tx_id < pg_snapshot_xmin(pg_current_snapshot())
     order by tx_id, change_position
     limit ${limit}`.execute(db);
  return rows.map((row) => ({
    feed: "states",
    entityType: row.entity_type,
    entityId: row.entity_id,
    revision: Number(row.revision),
    state: row.state_type === null || row.payload === null ? undefined : { type: row.state_type, payload: row.payload },
    offset: { txId: Number(row.tx_id), position: Number(row.change_position) },
    writtenAt: row.written_at,
  }));
}

/** The stored offset of `projection` in `feed`, or the start. */
export async function loadOffset(db: Kysely<OrreryTables>, projection: string, feed: "events" | "states"): Promise<FeedOffset> {
  const row = await db.selectFrom("orrery_projection_offsets").select(["tx_id", "position"])
    .where("projection", "=", projection).where("feed", "=", feed).executeTakeFirst();
  return row === undefined ? FEED_START : { txId: Number(row.tx_id), position: Number(row.position) };
}

/** Stores the offset of `projection` in `feed` (inside the caller's transaction, for exactly-once effects). */
export async function storeOffset(db: Kysely<OrreryTables>, projection: string, feed: "events" | "states", offset: FeedOffset): Promise<void> {
  await db.insertInto("orrery_projection_offsets")
    .values({ projection, feed, tx_id: offset.txId, position: offset.position })
    .onConflict((c) => c.columns(["projection", "feed"]).doUpdateSet({ tx_id: offset.txId, position: offset.position, updated_at: sql<Date>`now()` }))
    .execute();
}
