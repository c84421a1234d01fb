import assert from "node:assert/strict";
import { create, createFileRegistry, setExtension } from "@bufbuild/protobuf";
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { http } from "../../src/gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "../../src/gen/google/api/http_pb.js";
import { createService } from "../../src/index.js";
import { createRestRoutes, restBindings, RestRouteError } from "../../src/rest/index.js";
import { ClashingService, LibraryService } from "../gen/resttest/v1/resttest_pb.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";

/** `bad.v1.BadService/Get(bad.v1.Req)` with `rule` as its google.api.http option. */
function serviceWith(rule: MessageInitShape<typeof HttpRuleSchema>): DescService {
  const options = create(MethodOptionsSchema);
  setExtension(options, http, create(HttpRuleSchema, rule));
  const file = create(FileDescriptorProtoSchema, {
    name: "bad/v1/bad.proto", package: "bad.v1", syntax: "proto3",
    messageType: [{ name: "Req", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }, { name: "tags", number: 2, type: 9, label: 3, jsonName: "tags" }] }],
    service: [{ name: "BadService", method: [{ name: "Get", inputType: ".bad.v1.Req", outputType: ".bad.v1.Req", options }] }],
  });
  return createFileRegistry(file, () => undefined).getService("bad.v1.BadService")!;
}

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

  const unservable: [string, MessageInitShape<typeof HttpRuleSchema>, RegExp][] = [
    ["a path variable naming no field", { pattern: { case: "get", value: "/v1/{nope}" } }, /^bad\.v1\.BadService\.Get: path variable \{nope\} of \/v1\/\{nope\} does not name a singular scalar or enum field of bad\.v1\.Req$/],
    ["a path variable naming a repeated field", { pattern: { case: "get", value: "/v1/{tags}" } }, /path variable \{tags\}/],
    ["a template that does not parse", { pattern: { case: "get", value: "/v1/{id" } }, /^bad\.v1\.BadService\.Get: path template "\/v1\/\{id", at character 5: the variable has no closing "\}"$/],
    ["a GET with a body", { pattern: { case: "get", value: "/v1/{id}" }, body: "*" }, /GET \/v1\/\{id\} has body "\*", but a GET request has no body/],
    ["an unknown response_body", { pattern: { case: "get", value: "/v1/{id}" }, responseBody: "nope" }, /response_body names "nope", which is not a field of bad\.v1\.Req/],
    ["a custom method", { pattern: { case: "custom", value: { $typeName: "google.api.CustomHttpPattern", kind: "HEAD", path: "/v1/{id}" } } }, /custom HTTP methods .* are not supported yet/],
    ["no pattern", {}, /names no HTTP method and path/],
  ];
  for (const [what, rule, message] of unservable) {
    it(`rejects ${what} at start`, () => {
      assert.throws(() => createRestRoutes([serviceWith(rule)]), (error: unknown) => error instanceof RestRouteError && message.test(error.message));
    });
  }

  it("fails a service's start on a route conflict, before it opens anything", async () => {
    // Stand-ins: only their services matter, since the routes are checked before anything runs.
    const component = (type: string, service: typeof LibraryService | typeof ClashingService) => ({
      ...cart,
      spec: { ...cart.spec, type, service, methods: Object.fromEntries(service.methods.map((m) => [m.localName, { entityKey: "name", readOnly: false }])) },
    }) as unknown as typeof cart;
    const library = component("library", LibraryService);
    const clashing = component("clashing", ClashingService);
    const service = createService({ components: [library, clashing], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent" });
    await assert.rejects(service.start(), /^RestRouteError: REST routes conflict: GET \/v1\/echo\/\{count\} \(resttest\.v1\.ClashingService\.Lookup\) and GET \/v1\/echo\/\{name\} \(resttest\.v1\.LibraryService\.Echo\)/);
  });
});
