import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * The cluster's tables: the shard layout fixed at first start, the member
 * nodes with their heartbeats (in the database's clock), and one lease row
 * per shard with a fencing epoch that only grows.
 */
export const clusterMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("orrery_cluster")
      .addColumn("id", "integer", (column) => column.primaryKey().check(sql`id = 1`))
      .addColumn("shard_count", "integer", (column) => column.notNull().check(sql`shard_count > 0`))
      .addColumn("shard_hash", "text", (column) => column.notNull())
      .addColumn("created_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .execute();

    await sql`create sequence orrery_node_incarnation_seq`.execute(db);
    await db.schema
      .createTable("orrery_nodes")
      .addColumn("name", "text", (column) => column.notNull())
      .addColumn("incarnation", "bigint", (column) => column.notNull())
      .addColumn("address", "text", (column) => column.notNull())
      .addColumn("version", "text", (column) => column.notNull())
      .addColumn("components", "jsonb", (column) => column.notNull())
      .addColumn("weight", "integer", (column) => column.notNull().defaultTo(100).check(sql`weight > 0`))
      .addColumn("state", "text", (column) => column.notNull().check(sql`state in ('up', 'draining', 'dead')`))
      .addColumn("started_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addColumn("heartbeat_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("orrery_nodes_pkey", ["name", "incarnation"])
      .execute();

    await db.schema
      .createTable("orrery_shards")
      .addColumn("shard", "integer", (column) => column.primaryKey().check(sql`shard >= 0`))
      .addColumn("owner_name", "text")
      .addColumn("owner_incarnation", "bigint")
      .addColumn("epoch", "bigint", (column) => column.notNull().defaultTo(0).check(sql`epoch >= 0`))
      .addColumn("updated_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_shards").execute();
    await db.schema.dropTable("orrery_nodes").execute();
    await sql`drop sequence orrery_node_incarnation_seq`.execute(db);
    await db.schema.dropTable("orrery_cluster").execute();
  },
};
