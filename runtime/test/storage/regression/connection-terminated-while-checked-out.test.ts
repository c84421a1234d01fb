// Regression: pg emits 'error' on a client the server drops; a client checked
// out of the pool (inside a transaction) had no listener, so the process crashed.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { createEventJournal, StorageError, type EventJournal } from "../../../src/storage/index.js";
import { event, newId } from "../../support/journal-fixtures.js";
import pg from "pg";
import { testDatabases, type TestDatabase } from "../../support/postgres.js";

for (const setup of testDatabases().filter((s) => s.dialect === "postgres")) {
  describe(`regression on ${setup.name}`, () => {
    let test: TestDatabase;
    let journal: EventJournal;
    before(async () => {
      test = await setup.create({ migrate: true });
      journal = createEventJournal(test.database);
    });
    after(async () => {
      await journal?.close();
      await test?.dispose();
    });

    it("a connection terminated while checked out of the pool does not crash the process", async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => void uncaught.push(error);
      process.on("uncaughtException", onUncaught);
      try {
        const database = new URL(test.url!).pathname.slice(1);
        const outcome = await test.database.db.transaction().execute(async (trx) => {
          await sql`select 1`.execute(trx);
          const terminated = await onAdminConnection(test.url!, (client) => client.query(`
            select pg_terminate_backend(pid) from pg_stat_activity
            where datname = $1 and application_name like 'orrery%' and state = 'idle in transaction'`, [database]));
          assert.equal(terminated.rowCount, 1, "the transaction's session was found and terminated");
          // The error reaches the client while nothing runs on it: only its own listener hears it.
          await new Promise((resolve) => setTimeout(resolve, 100));
          return sql`select 2`.execute(trx).then(() => "answered", (error: unknown) => error);
        }).catch((error: unknown) => ({ rollback: error }));

        assert.notEqual(outcome, "answered");
        const failure = (outcome as { rollback?: unknown }).rollback ?? outcome;
        assert.ok(failure instanceof Error, String(failure));
        assert.ok(failure instanceof StorageError || /terminat|not queryable|Connection/i.test(failure.message), failure.message);
        assert.deepEqual(uncaught, []);
        await journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] });
      } finally {
        process.off("uncaughtException", onUncaught);
      }
    });
  });
}

async function onAdminConnection<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
