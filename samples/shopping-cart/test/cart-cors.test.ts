// CORS switched on (corsOrigins, ORRERY_CORS_ORIGINS): browsers at an allowed
// origin may call the cart over REST and Connect; preflights are answered;
// other origins get no CORS header. Real fetch requests against a real server.
import assert from "node:assert/strict";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

describe("shopping cart with CORS configured", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let base: string;
  const shop = "https://shop.example";

  before(async () => {
    storage = await freshStorage();
    service = createService({
      components: [cart], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir, corsOrigins: [shop, "http://localhost:5173"],
    });
    base = (await service.start()).url;
  });
  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  it("answers an allowed origin's preflight with the methods and the headers it asked for", async () => {
    const res = await fetch(`${base}/carts/c1/items`, {
      method: "OPTIONS",
      headers: { origin: shop, "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), shop);
    assert.match(res.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.equal(res.headers.get("access-control-allow-headers"), "content-type,authorization");
    assert.equal(res.headers.get("vary"), "Origin");
  });

  it("adds the CORS headers to REST and Connect answers, errors included", async () => {
    const added = await fetch(`${base}/carts/c1/items`, { method: "POST", headers: { origin: shop, "content-type": "application/json" }, body: JSON.stringify({ productId: "p1", name: "Pen", quantity: 1 }) });
    assert.equal(added.status, 200);
    assert.equal(added.headers.get("access-control-allow-origin"), shop);
    const rejected = await fetch(`${base}/carts/c1/items`, { method: "POST", headers: { origin: shop, "content-type": "application/json" }, body: JSON.stringify({ productId: "p1", quantity: 0 }) });
    assert.equal(rejected.status, 400);
    assert.equal(rejected.headers.get("access-control-allow-origin"), shop);
    const connect = await fetch(`${base}/shop.cart.v1.ShoppingCartService/GetCart`, { method: "POST", headers: { origin: shop, "content-type": "application/json" }, body: JSON.stringify({ cartId: "c1" }) });
    assert.equal(connect.status, 200);
    assert.equal(connect.headers.get("access-control-allow-origin"), shop);
    assert.match(connect.headers.get("access-control-expose-headers") ?? "", /Grpc-Status-Details-Bin/);
  });

  it("gives another origin no CORS header, and refuses its preflight", async () => {
    const read = await fetch(`${base}/carts/c1`, { headers: { origin: "https://evil.example" } });
    assert.equal(read.status, 200, "the server answers; the browser withholds the answer");
    assert.equal(read.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${base}/carts/c1`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  });

  it("leaves requests without an Origin (curl, servers) as they are", async () => {
    const read = await fetch(`${base}/carts/c1`);
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("access-control-allow-origin"), null);
  });
});
