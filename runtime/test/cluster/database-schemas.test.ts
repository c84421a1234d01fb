// ORRERY_DATABASE_SCHEMA: services sharing one PostgreSQL database, each in a
// schema of its own, do not form one cluster: each owns all its shards.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { pino } from "pino";
import { ConfigError, createService, loadConfig } from "../../src/index.js";
import type { OrreryService, ServiceOptions } from "../../src/index.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, fast, freshDatabase } from "./cluster-fixtures.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";

const silent = pino({ level: "silent" });

async function startNode(more: Partial<ServiceOptions>): Promise<OrreryService> {
  const service = createService({ components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false, ...fast, ...more });
  await service.start();
  return service;
}

const cartClient = (service: OrreryService) => createClient(ShoppingCartService, createConnectTransport({ baseUrl: service.url, httpVersion: "2" }));

describe("ORRERY_DATABASE_SCHEMA", function () {
  this.timeout(60_000);

  describe("two services on one PostgreSQL database, each in its own schema", () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    const services: OrreryService[] = [];
    before(async () => {
      db = await freshDatabase();
    });
    after(async () => {
      await Promise.allSettled(services.splice(0).map((service) => service.stop()));
      await db?.drop();
    });

    it("each own all their shards, serve their own data, and keep every table in their schema", async () => {
      const a = await startNode({ databaseUrl: db.url, databaseSchema: "shop_a" });
      services.push(a);
      const b = await startNode({ databaseUrl: db.url, databaseSchema: "Shop_B" });
      services.push(b);
      // Given time to rebalance, neither hands the other a shard: they are not one cluster.
      await new Promise((r) => setTimeout(r, 4 * fast.heartbeatMs + fast.rebalanceStableMs));
      assert.equal(a.cluster!.ownedShards().length, 1024);
      assert.equal(b.cluster!.ownedShards().length, 1024);
      for (const service of [a, b]) assert.equal((await fetch(`${service.url}/readyz`)).status, 200);

      await cartClient(a).addItem({ cartId: "shared-id", productId: "from-a", name: "A", quantity: 1 });
      await cartClient(b).addItem({ cartId: "shared-id", productId: "from-b", name: "B", quantity: 2 });
      assert.deepEqual((await cartClient(a).getCart({ cartId: "shared-id" })).items.map((i) => i.productId), ["from-a"]);
      assert.deepEqual((await cartClient(b).getCart({ cartId: "shared-id" })).items.map((i) => i.productId), ["from-b"]);

      const tables = await sql<{ schema: string; name: string }>`
        select table_schema as schema, table_name as name from information_schema.tables
        where table_name like 'orrery%' order by 1, 2`.execute(db.database.db);
      const inSchema = (schema: string) => tables.rows.filter((t) => t.schema === schema).map((t) => t.name);
      for (const schema of ["shop_a", "Shop_B"]) {
        for (const table of ["orrery_events", "orrery_kv_state", "orrery_migration", "orrery_nodes", "orrery_shards", "orrery_timers"]) {
          assert.ok(inSchema(schema).includes(table), `${table} in ${schema}: ${inSchema(schema).join(", ")}`);
        }
      }
      assert.deepEqual(inSchema("public"), [], "nothing in public");
      assert.deepEqual(new Set(tables.rows.map((t) => t.schema)), new Set(["shop_a", "Shop_B"]));
      const nodes = await sql<{ n: number }>`select count(*)::int as n from "Shop_B".orrery_nodes`.execute(db.database.db);
      assert.equal(nodes.rows[0]?.n, 1, "one node in B's cluster");
    });

    it("a second node given the same schema joins that service's cluster, and only that one", async () => {
      const [a, b] = services;
      const a2 = await startNode({ databaseUrl: db.url, databaseSchema: "shop_a" });
      services.push(a2);
      await eventually("the two nodes of shop_a split its shards", () =>
        a!.cluster!.ownedShards().length + a2.cluster!.ownedShards().length === 1024 && a2.cluster!.ownedShards().length > 0, 20_000);
      assert.equal(b!.cluster!.ownedShards().length, 1024);
      // The new node forwards to the old one where needed: it sees A's cart, not B's.
      assert.deepEqual((await cartClient(a2).getCart({ cartId: "shared-id" })).items.map((i) => i.productId), ["from-a"]);
    });
  });

  it("is checked: letters, digits and _ only, not pg_, at most 40 characters", () => {
    for (const bad of ["funds-wallet", "1wallet", "pg_wallet", "a;drop", "x".repeat(41)]) {
      assert.throws(() => loadConfig({ DATABASE_URL: "postgres://x@h/d", ORRERY_DATABASE_SCHEMA: bad }), (error: unknown) =>
        error instanceof ConfigError && error.message.includes(`ORRERY_DATABASE_SCHEMA: ${JSON.stringify(bad)}`));
    }
    assert.equal(loadConfig({ DATABASE_URL: "postgres://x@h/d", ORRERY_DATABASE_SCHEMA: " funds_wallet " }).databaseSchema, "funds_wallet");
    assert.equal(loadConfig({}).databaseSchema, undefined);
  });

  it("on PGlite, the start is refused saying why", async () => {
    const service = createService({ components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false, databaseUrl: undefined, dataDir: "memory:", databaseSchema: "shop" });
    await assert.rejects(service.start(), /ORRERY_DATABASE_SCHEMA \("shop"\) is not supported on PGlite: each service has its own data directory/);
  });

  it("a bad name stops the process at startup with one line and exit code 1", async () => {
    const script = `import { createService } from "./src/index.ts"; await createService({ components: [] }).start();`;
    const child = spawn(process.execPath, ["--conditions=orrery-source", "--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none", ORRERY_DATABASE_SCHEMA: "funds-wallet" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 1);
    assert.match(stderr, /^orrery: cannot start: invalid configuration: ORRERY_DATABASE_SCHEMA: "funds-wallet" is not a schema name: use letters, digits and _, not starting with a digit \(e\.g\. funds_wallet\)\n$/);
  });
});
