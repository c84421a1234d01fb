import type { ColumnType, Generated, GeneratedAlways } from "kysely";

/**
 * The journal: one row per event. `(entity_type, entity_id, seq_nr)` is the
 * primary key, so two writers can never both append the same sequence number.
 * Readers of the global feed order by `(tx_id, global_position)` and only read
 * below `pg_snapshot_xmin(pg_current_snapshot())`.
 */
export interface EventsTable {
  /** The component's stable, persisted type name (never a TS class name). */
  entity_type: string;
  entity_id: string;
  /** Dense per entity, starting at 1. */
  seq_nr: number;
  /** Full protobuf message name of the payload, e.g. `shop.cart.v1.ItemAdded`. */
  event_type: string;
  /** Protobuf binary. */
  payload: Uint8Array;
  /** Selected as an object; inserted as JSON text. */
  metadata: ColumnType<Record<string, string> | null, string | null, never>;
  /** Identity column: tie-break within one transaction, not a gap-free counter. */
  global_position: GeneratedAlways<number>;
  /** `pg_current_xact_id()` of the writing transaction, as a number. */
  tx_id: GeneratedAlways<number>;
  written_at: Generated<Date>;
}

/** The latest snapshot of an event-sourced entity; one row per entity. */
export interface SnapshotsTable {
  entity_type: string;
  entity_id: string;
  /** Sequence number of the last event folded into this state. */
  seq_nr: number;
  /** Full protobuf message name of the state. */
  state_type: string;
  /** Protobuf binary. */
  payload: Uint8Array;
  written_at: Generated<Date>;
}

/**
 * Every table Orrery owns, keyed by name, for `Kysely<OrreryTables>`. All
 * names carry the `orrery_` prefix so they can share a database with the
 * application's own tables.
 */
export interface OrreryTables {
  orrery_events: EventsTable;
  orrery_snapshots: SnapshotsTable;
}
