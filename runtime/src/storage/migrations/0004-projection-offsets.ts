import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * How far each projection (view or consumer) has read each feed: the
 * `(tx_id, position)` of the last record it handled, in the order readers
 * follow the journal (`tx_id, global_position`) and the key-value change
 * feed (`tx_id, change_position`).
 */
export const projectionOffsetsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("orrery_projection_offsets")
      .addColumn("projection", "text", (column) => column.notNull())
      .addColumn("feed", "text", (column) => column.notNull().check(sql`feed in ('events', 'states')`))
      .addColumn("tx_id", "bigint", (column) => column.notNull().check(sql`tx_id >= 0`))
      .addColumn("position", "bigint", (column) => column.notNull().check(sql`position >= 0`))
      .addColumn("updated_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("orrery_projection_offsets_pkey", ["projection", "feed"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_projection_offsets").execute();
  },
};
