import assert from "node:assert/strict";
import pg from "pg";
import { startEmbeddedPostgres } from "./embedded-postgres.js";
import type { EmbeddedPostgres } from "./embedded-postgres.js";

describe("an embedded PostgreSQL server", function () {
  this.timeout(60_000);
  let server: EmbeddedPostgres;

  before(async () => (server = await startEmbeddedPostgres()));
  after(() => server.stop());

  async function query(sql: string): Promise<unknown[]> {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  it("keeps its data and port across shutdown() and start(), and refuses connections in between", async () => {
    await query("create table kept (n int); insert into kept values (7)");
    await server.shutdown();
    assert.equal(server.running, false);
    await assert.rejects(query("select 1"), /ECONNREFUSED/);
    await server.start();
    assert.equal(server.running, true);
    assert.deepEqual(await query("select n from kept"), [{ n: 7 }]);
  });

  it("disconnects its clients on restart() and serves the same data afterwards", async () => {
    const client = new pg.Client({ connectionString: server.url });
    const errors: Error[] = [];
    client.on("error", (error) => errors.push(error));
    await client.connect();
    await server.restart();
    await assert.rejects(client.query("select 1"));
    assert.match(String(errors[0]?.message), /terminating connection due to administrator command/);
    assert.deepEqual(await query("select n from kept"), [{ n: 7 }]);
  });
});
