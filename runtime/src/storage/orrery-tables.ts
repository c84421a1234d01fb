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
  orrery_cluster: ClusterTable;
  orrery_nodes: NodesTable;
  orrery_shards: ShardsTable;
  orrery_kv_state: KeyValueStateTable;
  orrery_projection_offsets: ProjectionOffsetsTable;
  orrery_view_tables: ViewTablesTable;
  orrery_timers: TimersTable;
}

/** Which physical table a table of a view answers from; see migration 0006. */
export interface ViewTablesTable {
  /** The quoted physical table name, e.g. `"view_carts_view_1a2b3c4d__carts"`. */
  sql_name: string;
  /** The view service's full name, the same across its definitions. */
  view: string;
  table_name: string;
  state: "building" | "caught-up" | "serving" | "retired";
  changed_at: ColumnType<Date, never, never>;
}

/** A durable timer: one row per name. */
export interface TimersTable {
  name: string;
  /** The shard that places it: only that shard's owner fires it. */
  shard: number;
  /** New with every schedule: a fired timer is deleted only if it was not replaced meanwhile. */
  generation: string;
  due_at: Date;
  /** The target's service (full name) and rpc name. */
  service: string;
  method: string;
  /** The request, protobuf binary of the rpc's input message. */
  payload: Uint8Array;
  /** Failed calls so far. */
  attempts: Generated<number>;
  last_error: string | null;
  scheduled_at: Generated<Date>;
}

/** How far one projection has read one feed. */
export interface ProjectionOffsetsTable {
  /** The projection's stable name (a view's or consumer's component type). */
  projection: string;
  /** `events` (the journal) or `states` (the key-value change feed). */
  feed: "events" | "states";
  /** The last handled record's transaction id, as a number (0: nothing yet). */
  tx_id: number;
  /** Its position within that transaction's order (global_position or change_position). */
  position: number;
  updated_at: Generated<Date>;
}

/** The state of a key-value entity; one row per entity, a deletion kept as a row without payload. */
export interface KeyValueStateTable {
  entity_type: string;
  entity_id: string;
  /** Writes so far, from 1; a write commits only over the revision before it. */
  revision: number;
  /** Full protobuf message name of the state; null for a deletion. */
  state_type: string | null;
  /** Protobuf binary; null for a deletion. */
  payload: Uint8Array | null;
  deleted: boolean;
  /** From a sequence, set anew by every write: the change feed's tie-break within a transaction. */
  change_position: Generated<number>;
  /** `pg_current_xact_id()` of the last write, as a number. */
  tx_id: Generated<number>;
  written_at: Generated<Date>;
  /** The idempotency keys applied recently (migration 0007); null when none. */
  applied: ColumnType<Record<string, { m: string; r: string; t: number }> | null, string | null, string | null>;
  /** A workflow's shard and when the engine must look at it next (migration 0009); null for key-value entities and finished workflows. */
  shard: number | null;
  wake_at: Date | null;
}

/** One row: the shard layout, written at the database's first start and checked at every start. */
export interface ClusterTable {
  /** Always 1. */
  id: number;
  shard_count: number;
  /** The hash that maps entities to shards (`shardHashName`). */
  shard_hash: string;
  created_at: Generated<Date>;
}

/** A node's membership: one row per (name, incarnation). */
export interface NodesTable {
  /** Stable across restarts (ORRERY_NODE_NAME, or derived from the advertised address). */
  name: string;
  /** Grows with every join, from a database sequence: a restarted node is a new incarnation. */
  incarnation: number;
  /** The URL other nodes reach it at (ORRERY_ADVERTISE_URL). */
  address: string;
  /** The software version it runs. */
  version: string;
  /** The component types it serves. */
  components: ColumnType<string[], string, string>;
  /** Weight in shard placement. */
  weight: Generated<number>;
  /** `up`, `draining` (handing its shards off) or `dead` (declared by itself or a peer). */
  state: "up" | "draining" | "dead";
  started_at: Generated<Date>;
  /** Set to the database's `now()` by every heartbeat: node clocks never count. */
  heartbeat_at: Generated<Date>;
}

/** The lease of one shard. */
export interface ShardsTable {
  shard: number;
  owner_name: string | null;
  owner_incarnation: number | null;
  /** Fencing token: grows by one with every change of owner, never goes back. */
  epoch: Generated<number>;
  updated_at: Generated<Date>;
}
