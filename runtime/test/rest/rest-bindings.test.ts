import assert from "node:assert/strict";
import { createService } from "../../src/index.js";
import { createRestRoutes, restBindings, RestRouteError } from "../../src/rest/index.js";
import { ClashingService, LibraryService } from "../gen/resttest/v1/resttest_pb.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";

describe("REST bindings", () => {
  it("reads every google.api.http rule, its additional bindings, body and response_body", () => {
    const bindings = restBindings([LibraryService]).map((b) => `${b.httpMethod} ${b.pattern} body=${b.body} response_body=${b.responseBody} ${b.rpc}`);
    assert.deepEqual(bindings.slice(0, 3), [
      "GET /v1/echo/{name} body= response_body= resttest.v1.LibraryService.Echo",
      "GET /v1/shelves/{shelf.name}/floors/{shelf.floor}/echo body= response_body= resttest.v1.LibraryService.Echo",
      "POST /v1/echo body=* response_body= resttest.v1.LibraryService.Echo",
    ]);
    assert.ok(bindings.includes("GET /v1/shelves/{name}/shelf body= response_body=shelf resttest.v1.LibraryService.GetShelf"));
    assert.ok(bindings.includes("PATCH /v1/shelves/{name}/book body=book response_body= resttest.v1.LibraryService.UpdateBook"));
  });

  it("gives the shopping cart exactly its four routes", () => {
    assert.deepEqual(restBindings([ShoppingCartService]).map((b) => `${b.httpMethod} ${b.pattern} ${b.body}`), [
      "POST /carts/{cart_id}/items *",
      "DELETE /carts/{cart_id}/items/{product_id} ",
      "GET /carts/{cart_id} ",
      "POST /carts/{cart_id}:checkout *",
    ]);
  });

  it("rejects two routes no request could tell apart, naming both rpcs", () => {
    assert.throws(() => createRestRoutes([LibraryService, ClashingService]), (error: unknown) => {
      assert.ok(error instanceof RestRouteError);
      assert.equal(error.message, "REST routes conflict: GET /v1/echo/{count} (resttest.v1.ClashingService.Lookup) and GET /v1/echo/{name} (resttest.v1.LibraryService.Echo) match the same requests; change one path or its verb");
      return true;
    });
  });

  it("fails a service's start on a route conflict, before it opens anything", async () => {
    // Stand-ins: only their services matter, since the routes are checked before anything runs.
    const component = (type: string, service: typeof LibraryService | typeof ClashingService) => ({
      ...cart,
      spec: { ...cart.spec, type, service, methods: Object.fromEntries(service.methods.map((m) => [m.localName, { entityKey: "name", readOnly: false }])) },
    }) as unknown as typeof cart;
    const library = component("library", LibraryService);
    const clashing = component("clashing", ClashingService);
    const service = createService({ components: [library, clashing], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", logLevel: "silent" });
    await assert.rejects(service.start(), /^RestRouteError: REST routes conflict: GET \/v1\/echo\/\{count\} \(resttest\.v1\.ClashingService\.Lookup\) and GET \/v1\/echo\/\{name\} \(resttest\.v1\.LibraryService\.Echo\)/);
  });
});
