import assert from "node:assert/strict";
import { sql } from "kysely";
import { openDatabase, StorageError, StorageUnavailableError } from "../../src/storage/index.js";
import { freePort } from "../support/postgres-server.js";
import { testDatabases, withDatabase, type TestDatabase } from "../support/postgres.js";

/** True when `bytes` is a plain Uint8Array (not a Buffer) that owns its whole ArrayBuffer. */
function isOwnedUint8Array(bytes: unknown): boolean {
  return (
    bytes instanceof Uint8Array &&
    Object.getPrototypeOf(bytes) === Uint8Array.prototype &&
    bytes.byteOffset === 0 &&
    bytes.buffer.byteLength === bytes.byteLength
  );
}

for (const setup of testDatabases()) {
  describe(`Database on ${setup.name}`, () => {
    let test: TestDatabase;
    before(async () => (test = await setup.create()));
    after(() => test?.dispose());

    it("returns int8 and xid8 as numbers and bytea as an unshared Uint8Array", async () => {
      const { rows } = await sql<Record<string, unknown>>`select 9007199254740991::int8 as big, 5::int8 as small,
        '\\x00ff10'::bytea as bytes, pg_current_xact_id() as xid, array[1, 2]::int8[] as numbers,
        array['\\x01'::bytea, null, '\\x'::bytea] as byte_arrays, count(*) as counted from (values (1), (2)) v`.execute(
        test.database.db,
      );
      const row = rows[0]!;
      assert.equal(row["big"], Number.MAX_SAFE_INTEGER);
      assert.equal(row["small"], 5);
      assert.equal(row["counted"], 2);
      assert.equal(typeof row["xid"], "number");
      assert.deepEqual(row["numbers"], [1, 2]);
      assert.ok(isOwnedUint8Array(row["bytes"]));
      assert.deepEqual(row["bytes"], new Uint8Array([0, 255, 16]));
      const arrays = row["byte_arrays"] as unknown[];
      assert.deepEqual(arrays, [new Uint8Array([1]), null, new Uint8Array([])]);
      assert.ok(isOwnedUint8Array(arrays[0]));
    });

    it("refuses an int8 past 2^53 instead of losing precision", async () => {
      await assert.rejects(sql`select 9007199254740993::int8 as n`.execute(test.database.db), /without losing precision/);
      // The connection is still usable afterwards.
      const { rows } = await sql<{ n: number }>`select 1::int8 as n`.execute(test.database.db);
      assert.equal(rows[0]?.n, 1);
    });

    it("reports the dialect's capabilities", () => {
      const expected = setup.dialect === "postgres";
      assert.equal(test.database.dialect, setup.dialect);
      assert.deepEqual(test.database.capabilities, { concurrentTransactions: expected, listenNotify: expected, exclusiveWriter: !expected });
    });

    if (setup.name === "pglite-file") {
      it("refuses a second open of a data directory that is in use", async () => {
        await assert.rejects(test.reopen(), (error: unknown) => {
          assert.ok(error instanceof StorageError);
          assert.match(error.message, /already open in this process/);
          return true;
        });
      });

      it("releases the data directory on close, idempotently, so it can be reopened", async () => {
        await Promise.all([test.database.close(), test.database.close()]);
        const again = await test.reopen();
        const { rows } = await sql<{ n: number }>`select 1::int8 as n`.execute(again.db);
        assert.equal(rows[0]?.n, 1);
      });
    }

    if (setup.dialect === "postgres") {
      it("closes idempotently", async () => {
        const extra = await test.reopen();
        await Promise.all([extra.close(), extra.close()]);
        await extra.close();
      });

      it("sets the session guards", async () => {
        const timeout = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(test.database.db);
        const idle = await sql<{ idle_in_transaction_session_timeout: string }>`show idle_in_transaction_session_timeout`.execute(
          test.database.db,
        );
        assert.equal(timeout.rows[0]?.statement_timeout, "5s");
        assert.equal(idle.rows[0]?.idle_in_transaction_session_timeout, "30s");
      });

      it("names the host and database when the database does not exist", async () => {
        const url = withDatabase(test.url!, "orrery_no_such_database");
        const { hostname, port } = new URL(url);
        await assert.rejects(openDatabase({ url }), (error: unknown) => {
          assert.ok(error instanceof StorageError);
          assert.equal(error.retryable, false);
          assert.ok(error.message.includes(`could not connect to PostgreSQL at ${hostname}:${port}/orrery_no_such_database`), error.message);
          assert.match(error.message, /does not exist; check DATABASE_URL/);
          assert.ok(!error.message.includes(new URL(url).password || "\u0000"), "the password stays out of the message");
          return true;
        });
      });
    }
  });
}

describe("openDatabase with a bad DATABASE_URL", () => {
  it("reports a refused connection as retryable, naming the address", async () => {
    const port = await freePort();
    await assert.rejects(openDatabase({ url: `postgres://postgres:secret@127.0.0.1:${port}/orders` }), (error: unknown) => {
      assert.ok(error instanceof StorageUnavailableError);
      assert.equal(error.retryable, true);
      assert.match(error.message, new RegExp(`^could not connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/orders: .*ECONNREFUSED`));
      assert.match(error.message, /check DATABASE_URL .* and that the server is running$/);
      assert.ok(!error.message.includes("secret"));
      return true;
    });
  });

  it("rejects a URL that is not a PostgreSQL URL", async () => {
    await assert.rejects(openDatabase({ url: "localhost:5432" }), /DATABASE_URL has scheme "localhost:" instead of "postgres:"/);
    await assert.rejects(openDatabase({ url: "not a url" }), /DATABASE_URL is not a valid URL; check DATABASE_URL/);
  });
});
