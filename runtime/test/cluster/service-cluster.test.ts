import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { pino } from "pino";
import { create, toBinary } from "@bufbuild/protobuf";
import { createCallSigner } from "../../src/cluster/call-signature.js";
import { ForwardedCallSchema, NodeService } from "../../src/gen/orrery/cluster/v1/node_pb.js";
import { createService } from "../../src/index.js";
import type { OrreryService, ServiceOptions } from "../../src/index.js";
import { desiredShards } from "../../src/cluster/placement.js";
import { shardOf } from "../../src/cluster/shard-hash.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, fast, freshDatabase, idsOwnedBy } from "./cluster-fixtures.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { AddItemRequestSchema, ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { ProductPopularityService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/popularity_pb.js";
import { popularity, popularProducts } from "../../../samples/shopping-cart/src/popularity.js";

const silent = pino({ level: "silent" });
/** Cart ids whose shard placement gives to `node` among `nodes`. */
const cartsOf = (node: string, nodes: string[], count: number) => idsOwnedBy("shopping-cart", "cart", node, nodes, count);

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
    // Alone, nothing can take its shards: the test's 200 ms self-fence would only make a busy machine's slow heartbeat fail it.
    const service = await startNode({ dataDir: "memory:", databaseUrl: undefined, logger, selfFenceAfterMs: 5_000, deadAfterMs: 6_000 });
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

    it("splits the shards between two services by rendezvous; each answers for every cart, forwarding to the owner, with the owner's reply and error text; a graceful stop hands everything to the survivor", async () => {
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
      // Through the node that does not own it: forwarded, and the same reply as from the owner.
      const viaA = await clientA.addItem({ cartId: cartOfB!, productId: "p", name: "P", quantity: 2 });
      assert.deepEqual(viaA, await clientB.getCart({ cartId: cartOfB! }));
      assert.equal((await clientB.getCart({ cartId: cartOfA! })).items[0]?.quantity, 1);
      // An error of the owner arrives with its code and text unchanged.
      const fromOwner = await clientB.removeItem({ cartId: cartOfB!, productId: "absent" }).catch((e: unknown) => e);
      const forwarded = await clientA.removeItem({ cartId: cartOfB!, productId: "absent" }).catch((e: unknown) => e);
      assert.ok(fromOwner instanceof ConnectError && forwarded instanceof ConnectError);
      assert.equal(forwarded.code, Code.NotFound);
      assert.equal(forwarded.rawMessage, fromOwner.rawMessage);
      const status = await (await fetch(`${a.url}/orrery/cluster`)).json() as { members: Array<{ name: string; shards: number; state: string }>; unowned: number };
      assert.deepEqual(status.members.filter((m) => m.state === "up").map((m) => m.shards).sort(), [...shares].sort());
      assert.equal(status.unowned, 0);

      await b.stop();
      await eventually("a owns every shard", () => a.cluster!.ownedShards().length === 1024, 3_000);
      assert.equal((await readyz(a)).status, 200);
      const moved = await clientA.getCart({ cartId: cartOfB! });
      assert.equal(moved.items[0]?.quantity, 2, "a serves b's cart, recovered from the journal");
      assert.equal(a.cluster!.ownedShards().find((l) => l.shard === shardOf("shopping-cart", cartOfB!, 1024))?.epoch, 3, "b handed the shard straight to a (epoch 3)");
    });

    it("runs a consumer on exactly one node, the owner of its shard, and moves it with the shard when that node stops", async () => {
      const components = [cart, popularity, popularProducts];
      const a = await startNode({ databaseUrl: db.url, components });
      services.push(a);
      const b = await startNode({ databaseUrl: db.url, components });
      services.push(b);
      await eventually("both are ready with their share", async () =>
        (await readyz(a)).status === 200 && (await readyz(b)).status === 200 && b.cluster!.ownedShards().length > 0 &&
          a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024);
      const shard = a.cluster!.shardOf("orrery.projection", popularProducts.spec.name);
      const [owner, other] = a.cluster!.epochOf(shard) !== undefined ? [a, b] : [b, a];
      const counts = async (via: OrreryService) => {
        const reply = await createClient(ProductPopularityService, createConnectTransport({ baseUrl: via.url, httpVersion: "2" })).getPopularity({ productId: "pen" });
        return Number(reply.quantityAdded);
      };
      // Carts of both nodes: each node appends its own; were the consumer running on both, every one would count twice.
      await Promise.all(Array.from({ length: 40 }, (_, i) => cartClient(i % 2 === 0 ? a : b).addItem({ cartId: `pop-${i}`, productId: "pen", name: "Pen", quantity: 1 })));
      await eventually("the 40 additions are counted", async () => (await counts(other)) === 40);
      await sleep(300);
      assert.equal(await counts(other), 40, "counted once each");

      await owner.stop();
      await eventually("the survivor owns every shard", () => other.cluster!.ownedShards().length === 1024, 3_000);
      await Promise.all(Array.from({ length: 10 }, (_, i) => cartClient(other).addItem({ cartId: `pop-after-${i}`, productId: "pen", name: "Pen", quantity: 2 })));
      await eventually("the survivor counts the later additions", async () => (await counts(other)) === 60);
      await sleep(300);
      assert.equal(await counts(other), 60, "nothing counted twice across the move");
    });

    it("warns when the nodes' connection pools together may exceed the server's max_connections, saying what to set", async () => {
      const { rows } = await sql<{ max: number; reserved: number }>`select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved`.execute(db.database.db);
      const { max, reserved } = rows[0]!;
      // One node's pool fits; two do not (pools open lazily, so nothing near that many is opened here).
      const dbPoolSize = Math.floor((max - reserved) / 2) + 5;
      const lines: Array<{ msg: string; nodes?: number }> = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
      const a = await startNode({ databaseUrl: db.url, dbPoolSize, logger });
      services.push(a);
      assert.equal(lines.filter((l) => /connections to PostgreSQL/.test(l.msg)).length, 0, "one node fits");
      const b = await startNode({ databaseUrl: db.url, dbPoolSize, logger });
      services.push(b);
      await eventually("the budget warning", () => lines.some((l) => /connections to PostgreSQL/.test(l.msg)));
      const warning = lines.find((l) => /connections to PostgreSQL/.test(l.msg))!;
      const fit = Math.floor((max - reserved) / 2) - 1;
      assert.equal(warning.msg, `the cluster's 2 nodes may open up to ${2 * (dbPoolSize + 1)} connections to PostgreSQL (2 × (ORRERY_DB_POOL_SIZE ${dbPoolSize} + 1)), ` +
        `more than the server's max_connections ${max} less ${reserved} reserved; under load new connections will fail with "too many clients": ` +
        `set ORRERY_DB_POOL_SIZE to ${fit} or less on every node, or raise max_connections`);
    });

    it("turns away internal calls that are unsigned, wrongly signed, stale or replayed with UNAUTHENTICATED, and logs them", async () => {
      const lines: string[] = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
      const a = await startNode({ databaseUrl: db.url, logger });
      services.push(a);
      const node = createClient(NodeService, createConnectTransport({ baseUrl: a.url, httpVersion: "2", useBinaryFormat: true }));
      const call = toBinary(ForwardedCallSchema, create(ForwardedCallSchema, {
        entityType: "shopping-cart", entityId: "forged", method: "AddItem",
        command: toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId: "forged", productId: "p", name: "P", quantity: 1 })),
      }));
      const rejected = async (request: Parameters<typeof node.forward>[0], reason: RegExp) => {
        await assert.rejects(node.forward(request), (error: unknown) => {
          assert.ok(error instanceof ConnectError, String(error));
          assert.equal(error.code, Code.Unauthenticated, error.message);
          assert.match(error.rawMessage, reason);
          return true;
        });
      };
      await rejected({ call }, /not signed|names no sender/);
      await rejected(createCallSigner("another-secret-entirely", () => "mallory/1").sign(call), /signature does not match this node's cluster secret \(sender mallory\/1\)/);
      const signed = createCallSigner(fast.clusterSecret, () => "peer/1").sign(call);
      await rejected({ ...signed, signedAtMs: signed.signedAtMs - 60_000n }, /signature does not match/); // the time is signed too
      const stale = createCallSigner(fast.clusterSecret, () => "peer/1");
      const realNow = Date.now;
      Date.now = () => realNow() - 60_000;
      const old = stale.sign(call);
      Date.now = realNow;
      await rejected(old, /signed 6\d{4} ms ago by peer\/1, outside the 10000 ms window/);
      // A correctly signed call runs once; the same bytes again are a replay.
      const reply = await node.forward(signed);
      assert.ok(reply.reply.length > 0);
      await rejected(signed, /a replay of a call peer\/1 sent before/);
      // The batched route checks each call of a batch on its own, the same way.
      const results = [];
      for await (const result of node.forwardBatch({ calls: [{ call }, createCallSigner("another-secret-entirely", () => "mallory/1").sign(call), signed] })) results.push(result);
      assert.deepEqual(results.map((r) => r.index).sort(), [0, 1, 2]);
      for (const result of results) {
        assert.equal(result.outcome.case, "errorJson", `call ${result.index} of the batch was run`);
        const error = JSON.parse(new TextDecoder().decode(result.outcome.value as Uint8Array)) as { code: string; message: string };
        assert.equal(error.code, "unauthenticated");
        assert.match(error.message, [/not signed|names no sender/, /signature does not match/, /a replay of a call peer\/1 sent before/][result.index]!);
      }
      const events = await sql<{ n: string }>`select count(*) as n from orrery_events where entity_id = 'forged'`.execute(db.database.db);
      assert.equal(Number(events.rows[0]!.n), 1, "only the genuine call was applied");
      assert.equal(lines.filter((line) => line.includes("rejected an internal call")).length, 8);
    });

    it("without a cluster secret a node forwards nothing: it is not ready while it has peers, and answers UNAVAILABLE naming the owner", async () => {
      const a = await startNode({ databaseUrl: db.url, clusterSecret: undefined });
      services.push(a);
      const b = await startNode({ databaseUrl: db.url, clusterSecret: undefined });
      services.push(b);
      const [nameA, nameB] = [a.cluster!.name!, b.cluster!.name!];
      const view = [nameA, nameB].map((name) => ({ name, weight: 100 }));
      const wantB = desiredShards(nameB, 1024, view).length;
      await eventually("the shards are split as placement says", () => a.cluster!.ownedShards().length === 1024 - wantB && b.cluster!.ownedShards().length === wantB);
      const ready = await readyz(a);
      assert.equal(ready.status, 503);
      assert.match(ready.body, new RegExp(`ORRERY_CLUSTER_SECRET is not set, so this node cannot forward calls to the other members \\(${nameB}\\)`));
      const [cartOfB] = cartsOf(nameB, [nameA, nameB], 1);
      await assert.rejects(cartClient(a).getCart({ cartId: cartOfB! }), (error: unknown) => {
        assert.ok(error instanceof ConnectError && error.code === Code.Unavailable, String(error));
        assert.match(error.rawMessage, new RegExp(`GetCart for shopping-cart "${cartOfB}": shard \\d+ is owned by node ${nameB} at ${b.url}, not by this node`));
        assert.equal(error.metadata.get("orrery-shard-owner"), b.url);
        return true;
      });
    });

    it("a service cut off from the database stops serving and says so at /readyz before the survivor takes its shards", async () => {
      const url = new URL(db.url);
      const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
      try {
        const a = await startNode({ databaseUrl: `postgres://${url.username}@127.0.0.1:${proxy.port}${url.pathname}`, dbStatementTimeoutMs: 500, storageWaitMs: 300, shardWaitMs: 300 });
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
          error instanceof ConnectError && error.code === Code.Unavailable && /is moving between nodes .*serves no shards right now.*safe to retry/.test(error.rawMessage));
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
