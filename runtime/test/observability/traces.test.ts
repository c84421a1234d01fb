import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createService } from "../../src/index.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";

describe("traces", () => {
  it("exports the server, entity and journal-commit spans of a call over OTLP http/protobuf on stop, in the caller's trace", async () => {
    const received: { path: string | undefined; type: string | undefined; body: Buffer }[] = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ path: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const service = createService({ components: [cart], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", logLevel: "warn", tracesEndpoint: endpoint });
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    try {
      const { url } = await service.start();
      const reply = await fetch(`${url}/shop.cart.v1.ShoppingCartService/AddItem`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-b7ad6b7169203331-01` },
        body: JSON.stringify({ cartId: "t1", productId: "p", name: "P", quantity: 1 }),
      });
      assert.equal(reply.status, 200);
      await reply.text();
    } finally {
      await service.stop();
      collector.close();
    }
    assert.equal(received.length, 1);
    const [batch] = received;
    assert.equal(batch!.path, "/v1/traces");
    assert.equal(batch!.type, "application/x-protobuf");
    const text = batch!.body.toString("latin1");
    for (const name of ["shop.cart.v1.ShoppingCartService/AddItem", "shopping-cart AddItem", "orrery.journal.commit", "rpc.system", "connect_rpc", "rpc.method"]) {
      assert.ok(text.includes(name), `the export holds ${name}`);
    }
    assert.ok(batch!.body.includes(Buffer.from(traceId, "hex")), "the spans carry the caller's trace id");
  });
});
