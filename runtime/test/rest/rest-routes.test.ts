import assert from "node:assert/strict";
import { createRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { RestRouteError, RestRoutes } from "../../src/rest/rest-routes.js";
import type { RestBinding } from "../../src/rest/rest-routes.js";
import { restErrorResponse } from "../../src/rest/rest-error.js";
import { ShelfSchema } from "../gen/resttest/v1/resttest_pb.js";

const cart = (httpMethod: string, pattern: string, rpc: string, body = ""): RestBinding<string> => ({ httpMethod, pattern, body, responseBody: "", rpc, target: rpc });

// The shopping cart's routes (issue 10 fixes them exactly).
const cartRoutes = [
  cart("post", "/carts/{cart_id}/items", "AddItem", "*"),
  cart("get", "/carts/{cart_id}", "GetCart"),
  cart("delete", "/carts/{cart_id}/items/{product_id}", "RemoveItem"),
  cart("post", "/carts/{cart_id}:checkout", "Checkout", "*"),
];

describe("the REST route table", () => {
  it("routes the shopping cart's four routes by method, path and verb", () => {
    const routes = new RestRoutes(cartRoutes);
    const rpc = (method: string, path: string) => {
      const m = routes.match(method, path);
      return m.kind === "matched" ? [m.route.target, Object.fromEntries(m.bindings)] : m.kind;
    };
    assert.deepEqual(rpc("POST", "/carts/c1/items"), ["AddItem", { cart_id: "c1" }]);
    assert.deepEqual(rpc("GET", "/carts/c1"), ["GetCart", { cart_id: "c1" }]);
    assert.deepEqual(rpc("DELETE", "/carts/c1/items/p%201"), ["RemoveItem", { cart_id: "c1", product_id: "p 1" }]);
    assert.deepEqual(rpc("POST", "/carts/c1:checkout"), ["Checkout", { cart_id: "c1" }]);
    assert.equal(rpc("GET", "/carts"), "no-route");
    assert.equal(rpc("POST", "/nothing/here"), "no-route");
    assert.equal(routes.size, 4);
  });

  it("answers a known path with another method as method-not-allowed, listing the allowed ones", () => {
    const routes = new RestRoutes(cartRoutes);
    assert.deepEqual(routes.match("PUT", "/carts/c1"), { kind: "method-not-allowed", allowed: ["GET"] });
    assert.deepEqual(routes.match("GET", "/carts/c1/items"), { kind: "method-not-allowed", allowed: ["POST"] });
  });

  it("prefers the more specific route whatever the declaration order", () => {
    const routes = new RestRoutes([cart("get", "/v1/{path=**}", "Any"), cart("get", "/v1/{id}", "One"), cart("get", "/v1/mine", "Mine")]);
    const target = (path: string) => {
      const m = routes.match("GET", path);
      return m.kind === "matched" ? m.route.target : m.kind;
    };
    assert.equal(target("/v1/mine"), "Mine");
    assert.equal(target("/v1/other"), "One");
    assert.equal(target("/v1/a/b"), "Any");
  });

  it("refuses two routes no request could tell apart, naming both RPCs", () => {
    assert.throws(
      () => new RestRoutes([...cartRoutes, cart("GET", "/carts/{id}", "shop.v1.Other.Get")]),
      (e: unknown) => e instanceof RestRouteError && e.message === "REST routes conflict: GET /carts/{id} (shop.v1.Other.Get) and GET /carts/{cart_id} (GetCart) match the same requests; change one path or its verb",
    );
    assert.doesNotThrow(() => new RestRoutes([...cartRoutes, cart("PUT", "/carts/{id}", "Put")]), "another HTTP method is another route");
  });

  it("refuses a bad template naming the RPC", () => {
    assert.throws(() => new RestRoutes([cart("get", "carts/{id}", "shop.v1.Cart.Get")]), /^RestRouteError: shop\.v1\.Cart\.Get: path template "carts\/\{id\}", at character 1: must start with "\/"$/);
  });
});

describe("a REST call's error", () => {
  it("is the google.rpc.Status shape with the HTTP status of its code", () => {
    const cases: [Code, number][] = [[Code.InvalidArgument, 400], [Code.NotFound, 404], [Code.FailedPrecondition, 400], [Code.AlreadyExists, 409], [Code.PermissionDenied, 403], [Code.Unauthenticated, 401], [Code.ResourceExhausted, 429], [Code.Unavailable, 503], [Code.Unimplemented, 501], [Code.Internal, 500], [Code.DeadlineExceeded, 504]];
    for (const [code, status] of cases) {
      assert.deepEqual(restErrorResponse(new ConnectError("no such cart", code)), { status, body: { code, message: "no such cart", details: [] } });
    }
  });

  it("carries the details as JSON Any, and never the message of a non-Connect error", () => {
    const withDetail = new ConnectError("bad shelf", Code.InvalidArgument, undefined, [{ desc: ShelfSchema, value: { name: "s1", floor: 2 } }]);
    assert.deepEqual(restErrorResponse(withDetail).body.details, [{ "@type": "type.googleapis.com/resttest.v1.Shelf", name: "s1", floor: 2 }]);
    const incoming = new ConnectError("x", Code.Aborted, undefined, undefined);
    incoming.details.push({ type: "resttest.v1.Shelf", value: new Uint8Array([10, 2, 115, 49]), debug: undefined });
    assert.deepEqual(restErrorResponse(incoming, createRegistry(ShelfSchema)).body.details, [{ "@type": "type.googleapis.com/resttest.v1.Shelf", name: "s1" }]);
    assert.deepEqual(restErrorResponse(incoming).body.details, [{ "@type": "type.googleapis.com/resttest.v1.Shelf", value: "CgJzMQ==" }]);
    assert.deepEqual(restErrorResponse(new TypeError("secret at /srv/db")), { status: 500, body: { code: Code.Internal, message: "internal error", details: [] } });
  });
});
