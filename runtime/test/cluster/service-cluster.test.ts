import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { pino } from "pino";
import { createService } from "../../src/index.js";
import type { OrreryService, ServiceOptions } from "../../src/index.js";
import { desiredOwner } from "../../src/cluster/placement.js";
import { shardOf } from "../../src/cluster/shard-hash.js";
import { openDatabase } from "../../src/storage/index.js";
import type { Database } from "../../src/storage/index.js";
import { admin, postgresServerUrl, withDatabase } from "../support/postgres-server.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { startTcpProxy } from "../support/tcp-proxy.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";

const silent = pino({ level: "silent" });
/** 50 ms heartbeats, fenced after 200 ms, dead after 300 ms, shards move after 200 ms of a stable view. */
const fast = { heartbeatMs: 50, selfFenceAfterMs: 200, deadAfterMs: 300, rebalanceStableMs: 200 } satisfies Partial<ServiceOptions>;

function startNode(more: Partial<ServiceOptions>): Promise<OrreryService> {
  const service = createService({ components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false, ...fast, ...more });
  return service.start().then(() => service);
}

const cartClient = (service: OrreryService): Client<typeof ShoppingCartService> =>
  createClient(ShoppingCartService, createConnectTransport({ baseUrl: service.url, httpVersion: "2" }));

async function readyz(service: OrreryService): Promise<{ status: number; body: string }> {
  const response = await fetch(`${service.url}/readyz`);
  return { status: response.status, body: (await response.text()).trim() };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** A fresh database on the test server, named cluster_…, and a connection of the test's own to it. */
async function freshDatabase(): Promise<{ url: string; database: Database; drop(): Promise<void> }> {
  const server = await postgresServerUrl();
  const name = `cluster_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(server, `create database ${name}`);
  const url = withDatabase(server, name);
  const database = await openDatabase({ url });
  return {
    url,
    database,
    async drop() {
      await database.close();
      await admin(server, `drop database if exists ${name} with (force)`);
    },
  };
}

/** Cart ids whose shard placement gives to `node` among `nodes`. */
function cartsOf(node: string, nodes: string[], count: number): string[] {
  const ids: string[] = [];
  const placement = nodes.map((name) => ({ name, weight: 100 }));
  for (let i = 0; ids.length < count; i++) {
    const id = `cart-${i}`;
    if (desiredOwner(shardOf("shopping-cart", id, 1024), placement) === node) ids.push(id);
  }
  return ids;
}

describe("a service in a cluster", function () {
  this.timeout(30_000);
  const services: OrreryService[] = [];
  afterEach(async () => {
    await Promise.allSettled(services.splice(0).map((service) => service.stop()));
  });

  it("alone on PGlite, owns all 1024 shards once started, is ready, and appends without the database fence no other process could need", async () => {
    const statements: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void statements.push(String((JSON.parse(line) as { sql?: string }).sql ?? "")) });
    const started = performance.now();
    // databaseUrl: undefined, written out: PGlite even when the suite runs with DATABASE_URL.
    const service = await startNode({ dataDir: "memory:", databaseUrl: undefined, logger });
    services.push(service);
    const ms = performance.now() - started;
    assert.equal(service.cluster?.ownedShards().length, 1024);
    assert.ok(service.cluster.ownedShards().every((lease) => lease.epoch === 1));
    assert.deepEqual(await readyz(service), { status: 200, body: "serving" });
    const reply = await cartClient(service).addItem({ cartId: "solo", productId: "p", name: "P", quantity: 1 });
    assert.equal(reply.items.length, 1);
    const append = statements.find((s) => /insert into "?orrery_events"?/i.test(s));
    // PGlite's data directory is locked to this process: no other node can write its journal.
    assert.ok(append !== undefined, "the append was logged");
    assert.doesNotMatch(append, /orrery_shards/, "no fence on PGlite");
    assert.ok(ms < 10_000, `start took ${ms} ms`);
  });

  describe("on PostgreSQL", () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    beforeEach(async () => {
      db = await freshDatabase();
    });
    afterEach(async () => {
      await Promise.allSettled(services.splice(0).map((service) => service.stop()));
      await db?.drop();
    });

    it("alone, owns all 1024 shards; a write at a stale epoch fails UNAVAILABLE naming the entity and shard, writes nothing, and drops the entity", async () => {
      const service = await startNode({ databaseUrl: db.url });
      services.push(service);
      const node = service.cluster!;
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from orrery_shards where owner_name = ${node.name!} and owner_incarnation = ${node.incarnation!} and epoch = 1`.execute(db.database.db);
      assert.equal(rows[0]?.n, 1024);
      const client = cartClient(service);
      await client.addItem({ cartId: "fenced", productId: "p1", name: "P", quantity: 1 });
      const shard = node.shardOf("shopping-cart", "fenced");
      // Another owner moved the shard on behind this node's back.
      await sql`update orrery_shards set epoch = epoch + 1 where shard = ${shard}`.execute(db.database.db);
      await assert.rejects(client.addItem({ cartId: "fenced", productId: "p2", name: "P", quantity: 1 }), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.Unavailable);
        assert.match(error.rawMessage, new RegExp(`AddItem for shopping-cart "fenced": shard ${shard} of this entity moved to another node .*epoch 1, the shard is at 2.*not applied`));
        return true;
      });
      const events = await sql<{ seq_nr: number }>`select seq_nr from orrery_events where entity_id = 'fenced' order by seq_nr`.execute(db.database.db);
      assert.deepEqual(events.rows.map((r) => Number(r.seq_nr)), [1], "the fenced write wrote nothing");
      // The node re-reads the shard table, serves the shard again at its epoch and reloads the entity.
      await eventually("the shard is served again", () => node.epochOf(shard) === 2);
      const after = await client.addItem({ cartId: "fenced", productId: "p3", name: "P", quantity: 1 });
      assert.deepEqual(after.items.map((i) => i.productId), ["p1", "p3"]);
    });

    it("splits the shards between two services by rendezvous; each answers for its own carts, the other answers UNAVAILABLE naming the owner; a graceful stop hands everything to the survivor", async () => {
      const a = await startNode({ databaseUrl: db.url });
      services.push(a);
      const b = await startNode({ databaseUrl: db.url });
      services.push(b);
      const [nameA, nameB] = [a.cluster!.name!, b.cluster!.name!];
      await eventually("both are ready with their share", async () =>
        (await readyz(a)).status === 200 && (await readyz(b)).status === 200 && a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024 && b.cluster!.ownedShards().length > 0);
      const shares = [a.cluster!.ownedShards().length, b.cluster!.ownedShards().length];
      assert.ok(shares.every((n) => n > 400 && n < 624), `shares ${shares}`);

      const [cartOfA] = cartsOf(nameA, [nameA, nameB], 1);
      const [cartOfB] = cartsOf(nameB, [nameA, nameB], 1);
      const [clientA, clientB] = [cartClient(a), cartClient(b)];
      await clientA.addItem({ cartId: cartOfA!, productId: "p", name: "P", quantity: 1 });
      await clientB.addItem({ cartId: cartOfB!, productId: "p", name: "P", quantity: 2 });
      await assert.rejects(clientA.getCart({ cartId: cartOfB! }), (error: unknown) => {
        assert.ok(error instanceof ConnectError && error.code === Code.Unavailable, String(error));
        assert.match(error.rawMessage, new RegExp(`GetCart for shopping-cart "${cartOfB}": shard \\d+ is owned by node ${nameB} at ${b.url}, not by this node`));
        assert.equal(error.metadata.get("orrery-shard-owner"), b.url);
        return true;
      });
      await assert.rejects(clientB.addItem({ cartId: cartOfA!, productId: "p", name: "P", quantity: 1 }), (error: unknown) => error instanceof ConnectError && error.code === Code.Unavailable);

      await b.stop();
      await eventually("a owns every shard", () => a.cluster!.ownedShards().length === 1024, 3_000);
      assert.equal((await readyz(a)).status, 200);
      const moved = await clientA.getCart({ cartId: cartOfB! });
      assert.equal(moved.items[0]?.quantity, 2, "a serves b's cart, recovered from the journal");
    });

    it("a service cut off from the database stops serving and says so at /readyz before the survivor takes its shards", async () => {
      const url = new URL(db.url);
      const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
      try {
        const a = await startNode({ databaseUrl: `postgres://${url.username}@127.0.0.1:${proxy.port}${url.pathname}`, dbStatementTimeoutMs: 500, storageWaitMs: 300 });
        services.push(a);
        const b = await startNode({ databaseUrl: db.url });
        services.push(b);
        await eventually("the shards are split", () => a.cluster!.ready && b.cluster!.ready && b.cluster!.ownedShards().length < 1024);
        const [cartOfA] = cartsOf(a.cluster!.name!, [a.cluster!.name!, b.cluster!.name!], 1);
        await cartClient(a).addItem({ cartId: cartOfA!, productId: "p", name: "P", quantity: 1 });
        let notReadyAt = 0;
        let takenAt = 0;
        const cutAt = performance.now();
        proxy.blackhole();
        await eventually("b took every shard", async () => {
          if (notReadyAt === 0 && (await readyz(a)).status === 503) notReadyAt = performance.now();
          if (takenAt === 0 && b.cluster!.ownedShards().length === 1024) takenAt = performance.now();
          return takenAt > 0 && notReadyAt > 0;
        }, 5_000);
        assert.ok(notReadyAt < takenAt, `a stopped serving ${notReadyAt - cutAt} ms after the cut, b took over at ${takenAt - cutAt} ms`);
        assert.match((await readyz(a)).body, /^unavailable: .*no successful heartbeat to the database within 200 ms/);
        await assert.rejects(cartClient(a).getCart({ cartId: cartOfA! }), (error: unknown) =>
          error instanceof ConnectError && error.code === Code.Unavailable && /serves no shards right now/.test(error.rawMessage));
        const fromB = await cartClient(b).getCart({ cartId: cartOfA! });
        assert.equal(fromB.items.length, 1);
        proxy.restore();
        await eventually("a is back as a member with its share", async () => (await readyz(a)).status === 200 && a.cluster!.ownedShards().length > 0, 8_000);
      } finally {
        await Promise.allSettled(services.splice(0).map((service) => service.stop()));
        await proxy.close();
      }
    });
  });
});
