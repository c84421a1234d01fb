import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * The event journal and its snapshots. Plain PostgreSQL 13+ DDL, identical on
 * pg and PGlite. `tx_id` with the `(tx_id, global_position)` index lets readers
 * follow the global feed without skipping late commits.
 */
export const eventJournalMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("orrery_events")
      .addColumn("entity_type", "text", (column) => column.notNull())
      .addColumn("entity_id", "text", (column) => column.notNull())
      .addColumn("seq_nr", "bigint", (column) => column.notNull().check(sql`seq_nr > 0`))
      .addColumn("event_type", "text", (column) => column.notNull())
      .addColumn("payload", "bytea", (column) => column.notNull())
      .addColumn("metadata", "jsonb")
      .addColumn("global_position", "bigint", (column) => column.notNull().generatedAlwaysAsIdentity())
      .addColumn("tx_id", sql`xid8`, (column) => column.notNull().defaultTo(sql`pg_current_xact_id()`))
      .addColumn("written_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("orrery_events_pkey", ["entity_type", "entity_id", "seq_nr"])
      .execute();
    await db.schema
      .createIndex("orrery_events_feed_idx")
      .on("orrery_events")
      .columns(["tx_id", "global_position"])
      .execute();

    await db.schema
      .createTable("orrery_snapshots")
      .addColumn("entity_type", "text", (column) => column.notNull())
      .addColumn("entity_id", "text", (column) => column.notNull())
      .addColumn("seq_nr", "bigint", (column) => column.notNull().check(sql`seq_nr >= 0`))
      .addColumn("state_type", "text", (column) => column.notNull())
      .addColumn("payload", "bytea", (column) => column.notNull())
      .addColumn("written_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("orrery_snapshots_pkey", ["entity_type", "entity_id"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_snapshots").execute();
    await db.schema.dropTable("orrery_events").execute();
  },
};
