import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";
import { connectViolations } from "./support/violations.js";

const silent = pino({ level: "silent" });

describe("shopping cart served end to end", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let baseUrl: string;

  before(async () => {
    storage = await freshStorage();
    service = createService({
      components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir, snapshotEvery: 3,
    });
    baseUrl = (await service.start()).url;
  });

  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  const transports: Record<string, () => Transport> = {
    "Connect JSON over HTTP/1.1": () => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    "Connect binary over HTTP/2": () => createConnectTransport({ baseUrl, httpVersion: "2" }),
    "gRPC over h2c": () => createGrpcTransport({ baseUrl }),
    "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  };

  for (const [name, transport] of Object.entries(transports)) {
    describe(`through the generated client, ${name}`, () => {
      let client: Client<typeof ShoppingCartService>;
      const id = `cart-${name.replace(/\W+/g, "-")}`;
      before(() => {
        client = createClient(ShoppingCartService, transport());
      });

      it("adds items, merges quantities, removes and checks out", async () => {
        await client.addItem({ cartId: id, productId: "p1", name: "Pen", quantity: 2 });
        await client.addItem({ cartId: id, productId: "p2", name: "Ink", quantity: 1 });
        const merged = await client.addItem({ cartId: id, productId: "p1", name: "Pen", quantity: 3 });
        assert.deepEqual(merged.items.map((i) => [i.productId, i.quantity]), [["p1", 5], ["p2", 1]]);
        const removed = await client.removeItem({ cartId: id, productId: "p2" });
        assert.deepEqual(removed.items.map((i) => i.productId), ["p1"]);
        const done = await client.checkout({ cartId: id });
        assert.equal(done.checkedOut, true);
        const read = await client.getCart({ cartId: id });
        assert.equal(read.cartId, id);
        assert.equal(read.checkedOut, true);
      });

      it("answers an unknown cart with an empty cart", async () => {
        const read = await client.getCart({ cartId: `${id}-unknown` });
        assert.deepEqual(read.items, []);
        assert.equal(read.checkedOut, false);
      });

      it("maps handler rejections to their Connect codes with the entity named", async () => {
        await expectCode(client.removeItem({ cartId: `${id}-b`, productId: "nope" }), Code.NotFound, /RemoveItem .*not in the cart/);
        await expectCode(client.checkout({ cartId: `${id}-c` }), Code.FailedPrecondition, /empty/);
        await expectCode(client.addItem({ cartId: id, productId: "p9", name: "X", quantity: 1 }), Code.FailedPrecondition, /checked out/);
      });

      it("rejects a request that breaks its validation rules before the handler, with the violations as details, persisting nothing", async () => {
        await client.addItem({ cartId: `${id}-v`, productId: "p1", name: "Pen", quantity: 1 });
        await assert.rejects(client.addItem({ cartId: `${id}-v`, productId: "", name: "Ink", quantity: 0 }), (err: ConnectError) => {
          assert.equal(err.code, Code.InvalidArgument);
          assert.equal(err.rawMessage, "ShoppingCartService.AddItem: the request breaks its validation rules: product_id: must be at least 1 characters [string.min_len]; quantity: must be greater than 0 [int32.gt]");
          assert.deepEqual(connectViolations(err), [["product_id", "string.min_len", "must be at least 1 characters"], ["quantity", "int32.gt", "must be greater than 0"]]);
          return true;
        });
        await assert.rejects(client.getCart({ cartId: "" }), (err: ConnectError) => {
          assert.equal(err.code, Code.InvalidArgument);
          assert.deepEqual(connectViolations(err), [["cart_id", "string.min_len", "must be at least 1 characters"]]);
          return true;
        });
        assert.deepEqual((await client.getCart({ cartId: `${id}-v` })).items.map((i) => [i.productId, i.quantity]), [["p1", 1]]);
      });
    });
  }

  it("runs commands for one cart one at a time, in arrival order", async () => {
    const client = createClient(ShoppingCartService, transports["Connect binary over HTTP/2"]!());
    const replies = await Promise.all(
      Array.from({ length: 40 }, () => client.addItem({ cartId: "busy", productId: "p", name: "P", quantity: 1 })),
    );
    const seen = replies.map((r) => r.items[0]?.quantity).sort((a, b) => a! - b!);
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i + 1));
    assert.equal((await client.getCart({ cartId: "busy" })).items[0]?.quantity, 40);
  });

  it("keeps carts apart when many are written at once", async () => {
    const client = createClient(ShoppingCartService, transports["gRPC over h2c"]!());
    await Promise.all(Array.from({ length: 60 }, (_, i) =>
      client.addItem({ cartId: `many-${i % 20}`, productId: `p${i}`, name: "P", quantity: i + 1 })));
    for (let c = 0; c < 20; c++) {
      const read = await client.getCart({ cartId: `many-${c}` });
      assert.deepEqual(read.items.map((i) => i.productId), [`p${c}`, `p${c + 20}`, `p${c + 40}`]);
    }
  });

  it("serves the typed component client in-process, through the same routing point", async () => {
    const carts = service.components.forService(ShoppingCartService);
    await carts.addItem({ cartId: "in-process", productId: "p1", name: "Pen", quantity: 1 });
    const wire = createClient(ShoppingCartService, transports["Connect binary over HTTP/2"]!());
    assert.equal((await wire.getCart({ cartId: "in-process" })).items[0]?.quantity, 1);
    await expectCode(carts.checkout({ cartId: "in-process-empty" }), Code.FailedPrecondition, /Checkout for shopping-cart "in-process-empty": the cart is empty/);
  });

  it("serves Connect JSON to a plain HTTP client (curl-style)", async () => {
    const res = await fetch(`${baseUrl}/shop.cart.v1.ShoppingCartService/AddItem`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cartId: "curl", productId: "p1", name: "Pen", quantity: 2 }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { cartId: "curl", items: [{ productId: "p1", name: "Pen", quantity: 2 }] });
    const get = await fetch(`${baseUrl}/shop.cart.v1.ShoppingCartService/GetCart?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ cartId: "curl" }))}`);
    assert.equal(get.status, 200);
    assert.equal(((await get.json()) as { items: unknown[] }).items.length, 1);
    const bad = await fetch(`${baseUrl}/shop.cart.v1.ShoppingCartService/AddItem`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cartId: "curl", productId: "p1", quantity: -4 }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, "invalid_argument");
  });

  it("recovers every cart after a restart, from snapshots and events", async () => {
    const client = () => createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    for (let i = 0; i < 7; i++) await client().addItem({ cartId: "durable", productId: `p${i}`, name: "P", quantity: i + 1 });
    await client().removeItem({ cartId: "durable", productId: "p0" });
    const before = await client().getCart({ cartId: "durable" });
    await service.stop();
    service = createService({
      components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir, snapshotEvery: 3,
    });
    baseUrl = (await service.start()).url;
    const after = await client().getCart({ cartId: "durable" });
    assert.deepEqual(after, before);
    assert.equal(after.items.length, 6);
    const next = await client().addItem({ cartId: "durable", productId: "p0", name: "P", quantity: 1 });
    assert.equal(next.items.length, 7);
  });
});

async function expectCode(call: Promise<unknown>, code: Code, message: RegExp): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${Code[code]}, got ${Code[err.code]}: ${err.message}`);
    assert.match(err.rawMessage, message);
    return true;
  });
}
