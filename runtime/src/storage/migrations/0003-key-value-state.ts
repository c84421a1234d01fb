import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * The state rows of key-value entities: one per entity, with a revision that
 * every write checks (it commits only over the revision it read, so a stale
 * writer never overwrites) and a deletion kept as a row without a payload, so
 * the revision never goes back. `(tx_id, change_position)`, set anew by every
 * write, is the change feed that views and consumers follow like the
 * journal's `(tx_id, global_position)`.
 */
export const keyValueStateMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`create sequence orrery_kv_change_seq`.execute(db);
    await db.schema
      .createTable("orrery_kv_state")
      .addColumn("entity_type", "text", (column) => column.notNull())
      .addColumn("entity_id", "text", (column) => column.notNull())
      .addColumn("revision", "bigint", (column) => column.notNull().check(sql`revision > 0`))
      .addColumn("state_type", "text")
      .addColumn("payload", "bytea")
      .addColumn("deleted", "boolean", (column) => column.notNull())
      .addColumn("change_position", "bigint", (column) => column.notNull().defaultTo(sql`nextval('orrery_kv_change_seq')`))
      .addColumn("tx_id", sql`xid8`, (column) => column.notNull().defaultTo(sql`pg_current_xact_id()`))
      .addColumn("written_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("orrery_kv_state_pkey", ["entity_type", "entity_id"])
      .addCheckConstraint("orrery_kv_state_payload_check", sql`deleted = (payload is null) and (payload is null) = (state_type is null)`)
      .execute();
    await db.schema
      .createIndex("orrery_kv_state_feed_idx")
      .on("orrery_kv_state")
      .columns(["tx_id", "change_position"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_kv_state").execute();
    await sql`drop sequence orrery_kv_change_seq`.execute(db);
  },
};
