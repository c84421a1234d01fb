import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * Which physical table each table of a view answers queries from. A changed
 * view definition gets new tables (their names hash the definition), built
 * from the journal while the previous ones keep serving: `building` until
 * its projection first caught up (`caught-up`), then, once every table of
 * the view has, `serving`; the tables it replaced are `retired` and dropped
 * a minute later.
 */
export const viewTablesMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("orrery_view_tables")
      .addColumn("sql_name", "text", (column) => column.primaryKey())
      .addColumn("view", "text", (column) => column.notNull())
      .addColumn("table_name", "text", (column) => column.notNull())
      .addColumn("state", "text", (column) => column.notNull().check(sql`state in ('building', 'caught-up', 'serving', 'retired')`))
      .addColumn("changed_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
      .execute();
    await sql`create unique index orrery_view_tables_serving on orrery_view_tables (view, table_name) where state = 'serving'`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("orrery_view_tables").execute();
  },
};
