import assert from "node:assert/strict";
import pg from "pg";
import { postgresServerUrl } from "./postgres-server.js";
import "./postgres.js"; // its root hook stops the embedded server after the run
import { startTcpProxy } from "./tcp-proxy.js";
import type { TcpProxy } from "./tcp-proxy.js";

describe("TcpProxy in front of PostgreSQL", function () {
  this.timeout(30_000);
  let proxy: TcpProxy;
  let url: string;
  const clients: pg.Client[] = [];

  before(async () => {
    const server = new URL(await postgresServerUrl());
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    server.port = String(proxy.port);
    url = server.toString();
  });
  afterEach(async () => {
    proxy.restore();
    await Promise.allSettled(clients.splice(0).map((c) => c.end()));
  });
  after(() => proxy.close());

  async function connected(options: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, ...options });
    client.on("error", () => undefined); // the faults below kill its connection on purpose
    clients.push(client);
    await client.connect();
    return client;
  }

  it("forwards queries and counts its connections", async () => {
    const client = await connected();
    assert.deepEqual((await client.query("select 1 as one")).rows, [{ one: 1 }]);
    assert.equal(proxy.connections, 1);
  });

  it("fails open connections and refuses new ones while cut, and lets new ones through after restore", async () => {
    const before = await connected();
    proxy.cut();
    assert.equal(proxy.mode, "cut");
    await assert.rejects(before.query("select 1"));
    await assert.rejects(connected());
    proxy.restore();
    const after = await connected();
    assert.deepEqual((await after.query("select 2 as two")).rows, [{ two: 2 }]);
  });

  it("holds queries while blackholed and delivers them after restore", async () => {
    const client = await connected();
    proxy.blackhole();
    let answered = false;
    const query = client.query("select 3 as three").then((r) => ((answered = true), r.rows));
    const fresh = new pg.Client({ connectionString: url, connectionTimeoutMillis: 300 });
    await assert.rejects(fresh.connect(), /timeout/i); // accepted, but the handshake never completes
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(answered, false, "a query went through the blackhole");
    proxy.restore();
    assert.deepEqual(await query, [{ three: 3 }]);
  });

  it("delivers what clients send but holds the answers while deaf, and delivers them after restore", async () => {
    const client = await connected();
    const watcher = new pg.Client({ connectionString: await postgresServerUrl() }); // straight to the server
    await watcher.connect();
    try {
      proxy.deafen();
      assert.equal(proxy.mode, "deaf");
      let answered = false;
      const query = client.query("select pg_backend_pid() as pid, 4 as four").then((r) => ((answered = true), r.rows));
      const pid = await (async () => {
        for (let i = 0; i < 100; i++) {
          const { rows } = await watcher.query("select pid from pg_stat_activity where query like 'select pg_backend_pid()%' and state = 'idle'");
          if (rows.length > 0) return rows[0].pid as number;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error("the query never reached the server");
      })();
      assert.equal(answered, false, "an answer came through while deaf");
      proxy.restore();
      assert.deepEqual(await query, [{ pid, four: 4 }]);
    } finally {
      await watcher.end();
    }
  });
});
