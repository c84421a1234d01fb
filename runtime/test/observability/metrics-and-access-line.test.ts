import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { Writable } from "node:stream";
import { createLogger } from "../../src/observability/index.js";
import { createService } from "../../src/index.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";

/** One h2c request; resolves with the status and body. */
function h2(url: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request(body === undefined ? { ":path": path } : { ":path": path, ":method": "POST", "content-type": "application/json" });
    let status = 0;
    let text = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.setEncoding("utf8");
    req.on("data", (c: string) => (text += c));
    req.on("end", () => {
      session.close();
      resolve({ status, body: text });
    });
    req.end(body);
  });
}

describe("observability", () => {
  it("counts calls by method and code at /metrics and writes an access line per call at debug, REST calls included", async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    const logger = createLogger({ level: "debug", format: "json", destination: { write: (s: string) => destination.write(s) } });
    const service = createService({ components: [cart], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logger });
    const { url } = await service.start();
    try {
      const add = (quantity: number) => h2(url, "/shop.cart.v1.ShoppingCartService/AddItem", JSON.stringify({ cartId: "m1", productId: "p", name: "P", quantity }));
      assert.equal((await add(1)).status, 200);
      assert.equal((await add(1)).status, 200);
      assert.equal((await add(0)).status, 400);
      await new Promise((r) => setTimeout(r, 50));
      const metrics = await h2(url, "/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^orrery_rpc_calls_total\{method="shop.cart.v1.ShoppingCartService\/AddItem",code="ok"\} 2$/m);
      assert.match(metrics.body, /^orrery_rpc_calls_total\{method="shop.cart.v1.ShoppingCartService\/AddItem",code="invalid_argument"\} 1$/m);
      assert.match(metrics.body, /^orrery_rpc_call_duration_seconds_count\{method="shop.cart.v1.ShoppingCartService\/AddItem"\} 3$/m);
      assert.match(metrics.body, /^orrery_entities_active\{entity_type="shopping-cart"\} 1$/m);
      assert.match(metrics.body, /^orrery_entity_recoveries_total\{entity_type="shopping-cart"\} 1$/m);
      assert.match(metrics.body, /^orrery_journal_batch_appends_count [1-9]/m);
      assert.match(metrics.body, /^nodejs_eventloop_lag_seconds /m);
      const access = lines.map((l) => JSON.parse(l) as { level: number; call?: Record<string, unknown> }).filter((l) => l.call !== undefined);
      assert.equal(access.length, 3);
      assert.deepEqual({ ...access[2]!.call, ms: undefined }, {
        protocol: "connect", method: "shop.cart.v1.ShoppingCartService/AddItem", entityType: "shopping-cart", entityId: "m1", code: "invalid_argument", ms: undefined, client: "127.0.0.1",
      });
      assert.equal(access[2]!.level, 20);

      // A REST call is the same call: counted by its method and logged with protocol rest.
      const viaRest = await fetch(`${url}/carts/m1`);
      assert.equal(viaRest.status, 200);
      await viaRest.text();
      await new Promise((r) => setTimeout(r, 50));
      assert.match((await h2(url, "/metrics")).body, /^orrery_rpc_calls_total\{method="shop.cart.v1.ShoppingCartService\/GetCart",code="ok"\} 1$/m);
      const last = lines.map((l) => JSON.parse(l) as { call?: Record<string, unknown> }).filter((l) => l.call !== undefined).at(-1);
      assert.deepEqual({ ...last?.call, ms: undefined }, {
        protocol: "rest", method: "shop.cart.v1.ShoppingCartService/GetCart", entityType: "shopping-cart", entityId: "m1", code: "ok", ms: undefined, client: "127.0.0.1",
      });
    } finally {
      await service.stop();
    }
  });

  it("writes one readable line per event in the pretty format", () => {
    const out: string[] = [];
    const logger = createLogger({ level: "info", format: "pretty", destination: { write: (s: string) => out.push(s) } });
    logger.info({ url: "http://x" }, "serving");
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^\[\d\d:\d\d:\d\d\.\d\d\d\] INFO: serving \{"url":"http:\/\/x"\}\n$/);
  });
});
