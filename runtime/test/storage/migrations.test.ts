import assert from "node:assert/strict";
import { sql } from "kysely";
import pg from "pg";
import { migrateToLatest } from "../../src/storage/index.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

// Kysely's PostgresAdapter takes this session-level advisory lock around a migration run.
const kyselyMigrationLockId = "3853314791062309107";

for (const setup of testDatabases()) {
  describe(`migrateToLatest on ${setup.name}`, () => {
    let test: TestDatabase;
    before(async () => (test = await setup.create()));
    after(() => test?.dispose());

    it("creates the journal tables, then finds nothing to do", async () => {
      assert.deepEqual(await migrateToLatest(test.database), { applied: ["0001_event_journal", "0002_cluster", "0003_key_value_state", "0004_projection_offsets", "0005_idempotency_keys", "0006_view_tables", "0007_key_value_idempotency", "0008_timers", "0009_workflow_wake"] });
      assert.deepEqual(await migrateToLatest(test.database), { applied: [] });

      const tables = await test.database.db.introspection.getTables();
      const names = tables.map((table) => table.name).filter((name) => name.startsWith("orrery_")).sort();
      assert.deepEqual(names, ["orrery_cluster", "orrery_events", "orrery_kv_state", "orrery_migration", "orrery_migration_lock", "orrery_nodes", "orrery_projection_offsets", "orrery_shards", "orrery_snapshots", "orrery_timers", "orrery_view_tables"]);
      const events = tables.find((table) => table.name === "orrery_events")!;
      assert.deepEqual(
        events.columns.map((column) => `${column.name} ${column.dataType}${column.isNullable ? "?" : ""}`),
        [
          "entity_type text", "entity_id text", "seq_nr int8", "event_type text", "payload bytea", "metadata jsonb?",
          "global_position int8", "tx_id xid8", "written_at timestamptz",
        ],
      );
    });

    it("keys events by entity and sequence number and indexes the global feed and the idempotency keys", async () => {
      const { rows } = await sql<{ indexname: string; indexdef: string }>`
        select indexname, indexdef from pg_indexes where tablename = 'orrery_events' order by indexname`.execute(test.database.db);
      assert.deepEqual(rows.map((row) => row.indexname), ["orrery_events_feed_idx", "orrery_events_idempotency_keys", "orrery_events_pkey"]);
      assert.match(rows[0]!.indexdef, /\(tx_id, global_position\)$/);
      assert.match(rows[1]!.indexdef, /\(entity_type, entity_id, written_at\) WHERE \(metadata \? 'orrery\.idempotencyKey'::text\)$/);
      assert.match(rows[2]!.indexdef, /UNIQUE INDEX .*\(entity_type, entity_id, seq_nr\)$/);
    });

    it("fills tx_id with the writing transaction's id", async () => {
      const db = test.database.db;
      const [row] = await db
        .insertInto("orrery_events")
        .values({ entity_type: "probe", entity_id: "1", seq_nr: 1, event_type: "t.Probe", payload: new Uint8Array([1]), metadata: null })
        .returning(["tx_id", "global_position", "written_at"])
        .execute();
      assert.equal(typeof row?.tx_id, "number");
      assert.equal(typeof row?.global_position, "number");
      assert.ok(row?.written_at instanceof Date);
      await db.deleteFrom("orrery_events").where("entity_type", "=", "probe").execute();
    });

    if (setup.dialect === "postgres") {
      it("applies each migration once when several processes start at the same time", async () => {
        const fresh = await setup.create();
        try {
          const handles = await Promise.all([fresh.database, fresh.reopen(), fresh.reopen(), fresh.reopen()]);
          const results = await Promise.all(handles.map((handle) => migrateToLatest(handle)));
          assert.deepEqual(results.map((result) => result.applied.length).sort(), [0, 0, 0, 9]);
          const { rows } = await sql<{ n: number }>`select count(*) as n from orrery_migration`.execute(fresh.database.db);
          assert.equal(rows[0]?.n, 9);
        } finally {
          await fresh.dispose();
        }
      });

      it("waits for the migration lock held by another process", async () => {
        const fresh = await setup.create();
        const holder = new pg.Client({ connectionString: fresh.url });
        await holder.connect();
        try {
          await holder.query(`select pg_advisory_lock(${kyselyMigrationLockId})`);
          let settled = false;
          const migrating = migrateToLatest(fresh.database).finally(() => (settled = true));
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.equal(settled, false, "the migrator must wait while another session holds the lock");
          await holder.query(`select pg_advisory_unlock(${kyselyMigrationLockId})`);
          assert.deepEqual(await migrating, { applied: ["0001_event_journal", "0002_cluster", "0003_key_value_state", "0004_projection_offsets", "0005_idempotency_keys", "0006_view_tables", "0007_key_value_idempotency", "0008_timers", "0009_workflow_wake"] });
        } finally {
          await holder.end();
          await fresh.dispose();
        }
      });
    }
  });
}
