import assert from "node:assert/strict";
import * as net from "node:net";
import { Writable } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { cartHandlers } from "../src/cart.js";
import { ShoppingCart } from "../src/gen/shop/cart/v1/cart_orrery.js";
import { AddItemRequestSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";
import { connectViolations } from "./support/violations.js";

// A cart whose handlers fail on purpose for some product ids.
const faultyCart = ShoppingCart.implement({
  ...cartHandlers,
  addItem(state, cmd, ctx) {
    if (cmd.productId === "boom-handler") throw new Error("kaboom in the handler");
    return cartHandlers.addItem(state, cmd, ctx);
  },
  applyEvent(state, event) {
    const next = cartHandlers.applyEvent(state, event);
    if (event.$typeName === "shop.cart.v1.ItemAdded" && event.productId === "boom-apply") throw new Error("kaboom in applyEvent");
    return next;
  },
});

describe("bad input to the shopping cart", () => {
  let storage: TestStorage;
  let service: OrreryService;
  let baseUrl: string;
  const logs: Array<Record<string, unknown>> = [];

  before(async () => {
    storage = await freshStorage();
    const sink = new Writable({ write(chunk, _enc, cb) { logs.push(JSON.parse(String(chunk))); cb(); } });
    service = createService({
      components: [faultyCart], port: 0, host: "127.0.0.1", logger: pino({ level: "error" }, sink), handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir, maxMessageBytes: 1024,
    });
    baseUrl = (await service.start()).url;
  });

  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  async function post(path: string, contentType: string, body: string | Uint8Array) {
    const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
    return { status: res.status, body: (await res.json()) as { code: string; message: string } };
  }

  async function stillServing(): Promise<void> {
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    assert.equal((await client.getCart({ cartId: "alive" })).cartId, "alive");
  }

  it("rejects a malformed protobuf body with INVALID_ARGUMENT naming the method", async () => {
    const res = await post("/shop.cart.v1.ShoppingCartService/AddItem", "application/proto", new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(res.status, 400);
    assert.equal(res.body.code, "invalid_argument");
    assert.match(res.body.message, /ShoppingCartService[./]AddItem/);
    await stillServing();
  });

  it("rejects a malformed JSON body with INVALID_ARGUMENT naming the method", async () => {
    const res = await post("/shop.cart.v1.ShoppingCartService/AddItem", "application/json", "{\"cartId\": ");
    assert.equal(res.body.code, "invalid_argument");
    assert.match(res.body.message, /ShoppingCartService[./]AddItem/);
    await stillServing();
  });

  it("rejects an unknown JSON field with INVALID_ARGUMENT", async () => {
    const res = await post("/shop.cart.v1.ShoppingCartService/AddItem", "application/json", JSON.stringify({ cartId: "x", colour: "red" }));
    assert.equal(res.body.code, "invalid_argument");
    assert.match(res.body.message, /colour/);
  });

  it("answers an unknown service with UNIMPLEMENTED listing the services", async () => {
    const res = await post("/shop.cart.v1.NoSuchService/AddItem", "application/json", "{}");
    assert.equal(res.status, 404);
    assert.equal(res.body.code, "unimplemented");
    assert.match(res.body.message, /shop\.cart\.v1\.NoSuchService/);
    assert.match(res.body.message, /shop\.cart\.v1\.ShoppingCartService/);
  });

  it("answers an unknown method with UNIMPLEMENTED listing the methods, over Connect and gRPC", async () => {
    const res = await post("/shop.cart.v1.ShoppingCartService/Explode", "application/json", "{}");
    assert.equal(res.body.code, "unimplemented");
    assert.match(res.body.message, /Explode/);
    assert.match(res.body.message, /AddItem/);
    const grpcRes = await rawGrpc("/shop.cart.v1.ShoppingCartService/Explode");
    assert.equal(grpcRes.status, String(Code.Unimplemented));
    assert.match(decodeURIComponent(grpcRes.message), /Explode/);
    await stillServing();
  });

  // Regression: a NUL reached PostgreSQL and came back as HTTP 500 with its "invalid byte sequence" text.
  it("rejects a NUL in the entity key with INVALID_ARGUMENT naming the field, and nothing internal", async () => {
    const res = await post("/shop.cart.v1.ShoppingCartService/AddItem", "application/json", JSON.stringify({ cartId: "a\u0000b", productId: "p", name: "P", quantity: 1 }));
    assert.equal(res.body.code, "invalid_argument");
    assert.match(res.body.message, /AddItem for shopping-cart: the entity key "cart_id" contains a NUL character/);
    assert.doesNotMatch(res.body.message, /byte sequence|UTF8|0x00/);
    await stillServing();
  });

  // Regression: a quantity past int32 answered INTERNAL from the protobuf encoder.
  it("refuses an AddItem that would overflow a line's quantity with FAILED_PRECONDITION, keeping the cart", async () => {
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    await client.addItem({ cartId: "overflow", productId: "p", name: "P", quantity: 2147483647 });
    await assert.rejects(client.addItem({ cartId: "overflow", productId: "p", name: "P", quantity: 1 }), (err: ConnectError) => {
      assert.equal(err.code, Code.FailedPrecondition);
      assert.match(err.rawMessage, /would exceed the most one line can hold \(2147483647\)/);
      return true;
    });
    assert.equal((await client.getCart({ cartId: "overflow" })).items[0]?.quantity, 2147483647);
  });

  it("rejects an empty or too long cart id by its validation rule, over gRPC too", async () => {
    const client = createClient(ShoppingCartService, createGrpcTransport({ baseUrl }));
    for (const [cartId, violation] of [["", ["cart_id", "string.min_len", "must be at least 1 characters"]], ["c".repeat(129), ["cart_id", "string.max_len", "must be at most 128 characters"]]] as const) {
      await assert.rejects(client.addItem({ cartId, productId: "p", name: "P", quantity: 1 }), (err: ConnectError) => {
        assert.equal(err.code, Code.InvalidArgument);
        assert.match(err.rawMessage, /^ShoppingCartService\.AddItem: the request breaks its validation rules: cart_id: /);
        assert.deepEqual(connectViolations(err), [violation]);
        return true;
      });
    }
  });

  it("turns a throwing handler into INTERNAL with an error id, logs it, and keeps the state", async () => {
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    await client.addItem({ cartId: "fragile", productId: "p1", name: "Pen", quantity: 1 });
    for (const productId of ["boom-handler", "boom-apply"]) {
      await assert.rejects(client.addItem({ cartId: "fragile", productId, name: "X", quantity: 1 }), (err: ConnectError) => {
        assert.equal(err.code, Code.Internal);
        assert.match(err.rawMessage, /AddItem for shopping-cart "fragile": .*\(error id [0-9a-f]{8}\); the entity's state is unchanged/);
        const errorId = /error id ([0-9a-f]{8})/.exec(err.rawMessage)?.[1];
        assert.ok(logs.some((l) => l["errorId"] === errorId && l["entityId"] === "fragile"), "the failure is logged with its error id");
        return true;
      });
    }
    assert.deepEqual((await client.getCart({ cartId: "fragile" })).items.map((i) => i.productId), ["p1"]);
    const next = await client.addItem({ cartId: "fragile", productId: "p2", name: "Ink", quantity: 1 });
    assert.deepEqual(next.items.map((i) => i.productId), ["p1", "p2"]);
  });

  it("rejects a message over the size limit with RESOURCE_EXHAUSTED", async () => {
    const big = toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId: "big", productId: "p", name: "x".repeat(5000), quantity: 1 }));
    const res = await post("/shop.cart.v1.ShoppingCartService/AddItem", "application/proto", big);
    assert.equal(res.body.code, "resource_exhausted");
    assert.match(res.body.message, /AddItem/);
    const client = createClient(ShoppingCartService, createGrpcTransport({ baseUrl }));
    await assert.rejects(client.addItem({ cartId: "big", productId: "p", name: "x".repeat(5000), quantity: 1 }), (err: ConnectError) => {
      assert.equal(err.code, Code.ResourceExhausted);
      return true;
    });
    await stillServing();
  });

  describe("over REST", () => {
    /** One request on its own HTTP/1.1 connection, written as is (no client normalises its path); the status line and the body. */
    async function raw(request: string | Buffer): Promise<{ status: number; body: { code?: number; message?: string } }> {
      const url = new URL(baseUrl);
      const socket = net.connect(Number(url.port), url.hostname);
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("end", resolve);
        socket.on("close", () => resolve());
        socket.on("error", reject);
        socket.end(request);
      });
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf("\r\n\r\n") + 4);
      return { status, body: body.startsWith("{") ? (JSON.parse(body) as { code?: number; message?: string }) : {} };
    }
    const request = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = { "content-type": "application/json" }) => {
      const bytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
      const head = [`${method} ${path} HTTP/1.1`, "host: cart", "connection: close", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${bytes.length}`].join("\r\n");
      return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, "latin1"), bytes]);
    };
    const addItem = (body: string | Buffer) => request("POST", "/carts/rest-bad/items", body);

    const cases: Array<[string, Buffer, number, Code, RegExp]> = [
      ["malformed JSON", addItem('{"productId": '), 400, Code.InvalidArgument, /AddItem: the request body is not valid JSON/],
      ["a string for a number", addItem('{"productId":"p","quantity":"lots"}'), 400, Code.InvalidArgument, /AddItemRequest\.quantity from JSON: expected number \(int32\), got "lots"/],
      ["a fraction for an int32", addItem('{"productId":"p","quantity":1.5}'), 400, Code.InvalidArgument, /AddItemRequest\.quantity from JSON: expected number \(int32\), got 1\.5/],
      ["an object for a string", addItem('{"productId":{"x":1},"quantity":1}'), 400, Code.InvalidArgument, /AddItemRequest\.product_id from JSON: expected string, got object/],
      ["a body that is not an object", addItem("[1,2]"), 400, Code.InvalidArgument, /JSON object/],
      ["an unknown field", addItem('{"productId":"p","quantity":1,"colour":"red"}'), 400, Code.InvalidArgument, /key "colour" is unknown/],
      ["a huge body (declared length past ORRERY_MAX_MESSAGE_BYTES)", addItem(JSON.stringify({ productId: "p", name: "x".repeat(5000), quantity: 1 })), 413, Code.ResourceExhausted, /larger than 1024 bytes/],
      ["invalid UTF-8", addItem(Buffer.from([...Buffer.from('{"productId":"'), 0xc3, 0x28, ...Buffer.from('","quantity":1}')])), 400, Code.InvalidArgument, /not valid UTF-8/],
      ["a missing body (the body's fields then fail their rules)", request("POST", "/carts/rest-bad/items"), 400, Code.InvalidArgument, /validation rules: product_id: must be at least 1 characters/],
      // The cart's routes bind every field by path or body; a duplicate of a singular query field is in runtime/test/rest/rest-server.test.ts.
      ["the path's field again in the query, twice", request("GET", "/carts/rest-bad?cart_id=a&cart_id=b"), 400, Code.InvalidArgument, /query parameter cart_id: cart_id is already set by the path/],
      ["an unknown query parameter, twice", request("DELETE", "/carts/rest-bad/items/p1?x=1&x=2"), 400, Code.InvalidArgument, /query parameter x: shop\.cart\.v1\.RemoveItemRequest has no field "x"/],
      ["path traversal with dot segments", request("GET", "/carts/rest-bad/items/../../other"), 400, Code.InvalidArgument, /^GET \/carts\/rest-bad\/items\/\.\.\/\.\.\/other: the path has a "\." or "\.\." segment/],
      ["path traversal with encoded dot segments", request("DELETE", "/carts/%2e%2e/items/p1"), 400, Code.InvalidArgument, /the path has a "\." or "\.\." segment/],
      ["a percent-encoded slash that would make another route", request("DELETE", "/carts/rest-bad%2Fitems%2Fp1"), 405, Code.Unimplemented, /DELETE is not served/],
      ["a malformed percent-encoding", request("GET", "/carts/%zz"), 400, Code.InvalidArgument, /a "%" that is not followed by two hex digits/],
      ["a NUL in a path variable", request("GET", "/carts/a%00b"), 400, Code.InvalidArgument, /NUL/],
      ["a body that is not JSON", request("POST", "/carts/rest-bad/items", "productId=p", { "content-type": "application/x-www-form-urlencoded" }), 415, Code.InvalidArgument, /application\/json/],
    ];
    for (const [what, bytes, status, code, message] of cases) {
      it(`answers ${what} with ${status} in the Google status shape, and keeps serving`, async () => {
        const res = await raw(bytes);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.code, code, JSON.stringify(res.body));
        assert.match(res.body.message ?? "", message);
        const alive = await fetch(`${baseUrl}/carts/alive`);
        assert.deepEqual([alive.status, ((await alive.json()) as { cartId: string }).cartId], [200, "alive"]);
        await stillServing();
      });
    }

    it("answers a huge body sent without a length (chunked) with 413 once past the limit, and keeps serving", async () => {
      const chunk = "x".repeat(600);
      const body = `{"productId":"p","name":"${chunk}${chunk}","quantity":1}`;
      const head = "POST /carts/rest-bad/items HTTP/1.1\r\nhost: cart\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
      const res = await raw(`${head}${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      assert.equal(res.status, 413);
      assert.equal(res.body.code, Code.ResourceExhausted);
      await stillServing();
    });

    it("takes a percent-encoded slash in the cart id as part of the id, never as a path separator", async () => {
      const add = await fetch(`${baseUrl}/carts/a%2Fb/items`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"productId":"p","name":"P","quantity":1}' });
      assert.equal(add.status, 200);
      assert.equal(((await add.json()) as { cartId: string }).cartId, "a/b");
      const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
      assert.equal((await client.getCart({ cartId: "a/b" })).items.length, 1);
    });
  });

  async function rawGrpc(path: string): Promise<{ status: string; message: string }> {
    const http2 = await import("node:http2");
    const session = http2.connect(baseUrl);
    try {
      return await new Promise((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
        let headers: Record<string, unknown> = {};
        req.on("response", (h) => { headers = h; });
        req.on("trailers", (t) => { headers = { ...headers, ...t }; });
        req.on("error", reject);
        req.on("close", () => resolve({ status: String(headers["grpc-status"]), message: String(headers["grpc-message"] ?? "") }));
        req.resume();
        req.end(new Uint8Array([0, 0, 0, 0, 0]));
      });
    } finally {
      session.close();
    }
  }
});
