import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { Validator } from "@seriousme/openapi-schema-validator";
import { pino } from "pino";
import { desiredOwner } from "../../../runtime/src/cluster/placement.js";
import { shardOf } from "../../../runtime/src/cluster/shard-hash.js";
import { admin, postgresServerUrl, withDatabase } from "../../../runtime/test/support/postgres-server.js";
import { cart } from "../src/cart.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

const silent = pino({ level: "silent" });

/** One REST call with fetch: the status and the parsed JSON answer. */
async function rest(base: string, method: string, path: string, body?: string, contentType = "application/json"): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, { method, body, headers: body === undefined ? {} : { "content-type": contentType } });
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("shopping cart over REST", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let base: string;

  before(async () => {
    storage = await freshStorage();
    service = createService({
      components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
    });
    base = (await service.start()).url;
  });

  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  it("sends no CORS header and answers no preflight when CORS is not configured (the default)", async () => {
    const read = await fetch(`${base}/carts/r0`, { headers: { origin: "https://shop.example" } });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${base}/carts/r0`, { method: "OPTIONS", headers: { origin: "https://shop.example", "access-control-request-method": "GET" } });
    assert.notEqual(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  });

  it("serves an OpenAPI 3.1 document of the four routes at /openapi.json, with their parameters and schemas", async () => {
    const res = await fetch(`${base}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    type Operation = { operationId: string; parameters?: Array<{ name: string; in: string; required: boolean }>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, { content: Record<string, { schema: unknown }> }> };
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const validation = await new Validator().validate(structuredClone(doc));
    assert.deepEqual(validation, { valid: true }, JSON.stringify(validation.errors));
    assert.equal(doc.openapi, "3.1.0");
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`));
    assert.deepEqual(routes.sort(), [
      "DELETE /carts/{cart_id}/items/{product_id} shop.cart.v1.ShoppingCartService.RemoveItem",
      "GET /carts/{cart_id} shop.cart.v1.ShoppingCartService.GetCart",
      "POST /carts/{cart_id}/items shop.cart.v1.ShoppingCartService.AddItem",
      "POST /carts/{cart_id}:checkout shop.cart.v1.ShoppingCartService.Checkout",
    ]);
    const addItem = doc.paths["/carts/{cart_id}/items"]!["post"]!;
    assert.deepEqual(addItem.parameters, [{ name: "cart_id", in: "path", required: true, schema: { type: "string" } }]);
    assert.deepEqual(addItem.requestBody?.content["application/json"]?.schema, {
      type: "object", additionalProperties: false,
      properties: { productId: { type: "string" }, name: { type: "string" }, quantity: { type: "integer", format: "int32" } },
    });
    assert.deepEqual(addItem.responses["200"]?.content["application/json"]?.schema, { $ref: "#/components/schemas/shop.cart.v1.Cart" });
    assert.deepEqual(addItem.responses["default"]?.content["application/json"]?.schema, { $ref: "#/components/schemas/google.rpc.Status" });
    assert.deepEqual(Object.keys(doc.components.schemas["shop.cart.v1.Cart"]!.properties), ["cartId", "items", "checkedOut"]);
    assert.deepEqual(doc.components.schemas["shop.cart.v1.LineItem"]!.properties["quantity"], { type: "integer", format: "int32" });
    assert.deepEqual(doc.paths["/carts/{cart_id}/items/{product_id}"]!["delete"]!.parameters?.map((p) => [p.name, p.in]), [["cart_id", "path"], ["product_id", "path"]]);
    assert.equal(doc.paths["/carts/{cart_id}"]!["get"]!.requestBody, undefined);
  });

  it("adds items, reads, removes and checks out through the four routes", async () => {
    const added = await rest(base, "POST", "/carts/r1/items", JSON.stringify({ productId: "p1", name: "Pen", quantity: 2 }));
    assert.deepEqual(added, { status: 200, json: { cartId: "r1", items: [{ productId: "p1", name: "Pen", quantity: 2 }] } });
    await rest(base, "POST", "/carts/r1/items", JSON.stringify({ productId: "p2", name: "Ink", quantity: 1 }));
    assert.deepEqual((await rest(base, "GET", "/carts/r1")).json, {
      cartId: "r1", items: [{ productId: "p1", name: "Pen", quantity: 2 }, { productId: "p2", name: "Ink", quantity: 1 }],
    });
    const removed = await rest(base, "DELETE", "/carts/r1/items/p2");
    assert.deepEqual(removed, { status: 200, json: { cartId: "r1", items: [{ productId: "p1", name: "Pen", quantity: 2 }] } });
    const done = await rest(base, "POST", "/carts/r1:checkout");
    assert.deepEqual(done, { status: 200, json: { cartId: "r1", items: [{ productId: "p1", name: "Pen", quantity: 2 }], checkedOut: true } });
    // The same cart through Connect: one entity, whichever protocol wrote it.
    const connect = await fetch(`${base}/shop.cart.v1.ShoppingCartService/GetCart`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"cartId":"r1"}' });
    assert.equal(((await connect.json()) as { checkedOut?: boolean }).checkedOut, true);
  });

  it("checks out with a JSON body too, the cart id taken from the path", async () => {
    await rest(base, "POST", "/carts/r2/items", JSON.stringify({ productId: "p1", name: "Pen", quantity: 1 }));
    assert.equal((await rest(base, "POST", "/carts/r2:checkout", "{}")).status, 200);
  });

  it("answers an unknown cart with an empty cart, as the Connect GetCart does", async () => {
    assert.deepEqual(await rest(base, "GET", "/carts/never-seen"), { status: 200, json: { cartId: "never-seen" } });
  });

  it("answers the cart's errors in the Google status shape with their HTTP status", async () => {
    assert.deepEqual(await rest(base, "DELETE", "/carts/r3/items/nope"), {
      status: 404, json: { code: 5, message: 'ShoppingCartService.RemoveItem for shopping-cart "r3": product "nope" is not in the cart', details: [] },
    });
    const quantityRule = { elements: [{ fieldNumber: 3, fieldName: "int32", fieldType: "TYPE_MESSAGE" }, { fieldNumber: 4, fieldName: "gt", fieldType: "TYPE_INT32" }] };
    assert.deepEqual(await rest(base, "POST", "/carts/r3/items", JSON.stringify({ productId: "p1", name: "Pen", quantity: 0 })), {
      status: 400,
      json: {
        code: 3,
        message: "ShoppingCartService.AddItem: the request breaks its validation rules: quantity: must be greater than 0 [int32.gt]",
        details: [{
          "@type": "type.googleapis.com/buf.validate.Violations",
          violations: [{
            field: { elements: [{ fieldNumber: 4, fieldName: "quantity", fieldType: "TYPE_INT32" }] },
            rule: quantityRule, ruleId: "int32.gt", message: "must be greater than 0", forKey: false,
          }],
        }],
      },
    });
    assert.deepEqual((await rest(base, "GET", "/carts/r3")).json, { cartId: "r3" }, "nothing was persisted");
    const empty = await rest(base, "POST", "/carts/r3:checkout");
    assert.equal(empty.status, 400);
    assert.equal(empty.json["code"], 9); // FAILED_PRECONDITION
    assert.match(String(empty.json["message"]), /the cart is empty/);
  });

  it("rejects bad input with a 4xx and keeps serving", async () => {
    const malformed = await rest(base, "POST", "/carts/r4/items", '{"productId":');
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.json["message"]), /AddItem: the request body is not valid JSON/);
    const wrongType = await rest(base, "POST", "/carts/r4/items", '{"productId":"p","quantity":"lots"}');
    assert.equal(wrongType.status, 400);
    const unknownField = await rest(base, "POST", "/carts/r4/items", '{"productId":"p","quantity":1,"colour":"red"}');
    assert.equal(unknownField.status, 400);
    assert.match(String(unknownField.json["message"]), /colour/);
    const conflicting = await rest(base, "POST", "/carts/r4/items", '{"cartId":"other","productId":"p","quantity":1}');
    assert.equal(conflicting.status, 400);
    assert.match(String(conflicting.json["message"]), /cart_id is "r4" in the path but "other" in the body/);
    assert.equal((await rest(base, "POST", "/carts/r4/items", "productId=p", "application/x-www-form-urlencoded")).status, 415);
    const wrongMethod = await fetch(`${base}/carts/r4`, { method: "PUT" });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "GET");
    assert.equal((await rest(base, "GET", "/carts")).status, 404);
    assert.equal((await rest(base, "POST", "/carts/r4/items", JSON.stringify({ productId: "p", name: "P", quantity: 1 }))).status, 200);
  });

  it("applies a POST with an orrery-idempotency-key once: the retry gets the first answer and adds nothing", async () => {
    const post = () => fetch(`${base}/carts/r5/items`, {
      method: "POST",
      headers: { "content-type": "application/json", "orrery-idempotency-key": "order-17/line-1" },
      body: JSON.stringify({ productId: "pen", name: "Pen", quantity: 2 }),
    }).then(async (r) => ({ status: r.status, json: await r.json() as Record<string, unknown> }));
    const first = await post();
    assert.equal(first.status, 200);
    assert.deepEqual(await post(), first);
    const cart = await rest(base, "GET", "/carts/r5");
    assert.deepEqual(cart.json["items"], [{ productId: "pen", name: "Pen", quantity: 2 }]);
  });
});

describe("shopping cart over REST in a cluster", function () {
  this.timeout(60_000);
  const services: OrreryService[] = [];
  let drop: (() => Promise<void>) | undefined;
  after(async () => {
    await Promise.allSettled(services.map((s) => s.stop()));
    await drop?.();
  });

  it("forwards a REST call for a cart another node owns, with the owner's reply and error", async () => {
    const server = await postgresServerUrl();
    const name = `cart_rest_${process.pid}_${randomBytes(4).toString("hex")}`;
    await admin(server, `create database ${name}`);
    drop = () => admin(server, `drop database if exists ${name} with (force)`);
    const settings = {
      components: [cart], port: 0, host: "127.0.0.1", logger: silent, handleSignals: false, databaseUrl: withDatabase(server, name),
      heartbeatMs: 50, selfFenceAfterMs: 200, deadAfterMs: 300, rebalanceStableMs: 200, clusterSecret: "a-test-secret-of-the-cluster",
    };
    const a = createService(settings);
    await a.start();
    services.push(a);
    const b = createService(settings);
    await b.start();
    services.push(b);
    const until = performance.now() + 20_000;
    const ready = async (s: OrreryService) => (await fetch(`${s.url}/readyz`)).status === 200;
    while (!((await ready(a)) && (await ready(b)) && a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024 && b.cluster!.ownedShards().length > 0)) {
      if (performance.now() > until) throw new Error("the two nodes did not split the shards in time");
      await sleep(20);
    }
    const placement = [a.cluster!.name!, b.cluster!.name!].map((n) => ({ name: n, weight: 100 }));
    let cartOfB = "";
    for (let i = 0; cartOfB === ""; i++) if (desiredOwner(shardOf("shopping-cart", `c-${i}`, 1024), placement) === b.cluster!.name) cartOfB = `c-${i}`;
    assert.equal(b.cluster!.epochOf(shardOf("shopping-cart", cartOfB, 1024)) !== undefined, true, "b serves the cart's shard");

    const viaA = await rest(a.url, "POST", `/carts/${cartOfB}/items`, JSON.stringify({ productId: "p", name: "P", quantity: 2 }));
    assert.equal(viaA.status, 200);
    assert.deepEqual(await rest(b.url, "GET", `/carts/${cartOfB}`), viaA);
    const forwardedError = await rest(a.url, "DELETE", `/carts/${cartOfB}/items/nope`);
    assert.deepEqual(forwardedError, await rest(b.url, "DELETE", `/carts/${cartOfB}/items/nope`));
    assert.equal(forwardedError.status, 404);
  });
});
