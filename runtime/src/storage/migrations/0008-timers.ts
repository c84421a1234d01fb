import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * Durable timers: one row per timer name. `generation`, new with every
 * schedule, tells the node that fired a timer whether the row it deletes is
 * still the one it fired (a reschedule meanwhile replaced it). `shard` places
 * the timer on one node of the cluster; `(due_at)` finds the next due ones.
 */
export const timersMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("orrery_timers")
      .addColumn("name", "text", (column) => column.primaryKey())
      .addColumn("shard", "integer", (column) => column.notNull().check(sql`shard >= 0`))
      .addColumn("generation", "text", (column) => column.notNull())
      .addColumn("due_at", "timestamptz", (column) => column.notNull())
      .addColumn("service", "text", (column) => column.notNull())
      .addColumn("method", "text", (column) => column.notNull())
      .addColumn("payload", "bytea", (column) => column.notNull())
      .addColumn("attempts", "integer", (column) => column.notNull().defaultTo(0).check(sql`attempts >= 0`))
      .addColumn("last_error", "text")
      .addColumn("scheduled_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex("orrery_timers_due_idx").on("orrery_timers").columns(["due_at"]).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_timers").execute();
  },
};
