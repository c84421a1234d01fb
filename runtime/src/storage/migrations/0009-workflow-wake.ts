import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * Workflows keep their record in `orrery_kv_state` (a key-value row with a
 * revision, fenced like any other) and, in the same write, when the engine
 * must look at them next without a command: `wake_at`, with the row's
 * `shard`, so that the owner of a shard finds its due workflows (and, when
 * it takes a shard over, the ones to resume) with one indexed read. Rows of
 * key-value entities leave both null.
 */
export const workflowWakeMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("orrery_kv_state").addColumn("shard", "integer").addColumn("wake_at", "timestamptz").execute();
    await sql`create index orrery_kv_state_wake_idx on orrery_kv_state (shard, wake_at) where wake_at is not null`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await sql`drop index orrery_kv_state_wake_idx`.execute(db);
    await db.schema.alterTable("orrery_kv_state").dropColumn("shard").dropColumn("wake_at").execute();
  },
};
