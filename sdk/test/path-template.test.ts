import assert from "node:assert/strict";
import { comparePrecedence, matchPathTemplate, parsePathTemplate, PathTemplateError, sameRoute } from "../src/path-template.js";

const match = (template: string, path: string) => {
  const bindings = matchPathTemplate(parsePathTemplate(template), path);
  return bindings === undefined ? undefined : Object.fromEntries(bindings);
};

describe("google.api.http path templates", () => {
  describe("parsing", () => {
    it("reads literals, variables with and without segments, wildcards and the verb", () => {
      const t = parsePathTemplate("/v1/{parent=shelves/*}/books/{book.id}:publish");
      assert.deepEqual(t.segments.map((s) => (s.kind === "literal" ? s.value : s.kind)), ["v1", "shelves", "wildcard", "books", "wildcard"]);
      assert.deepEqual(t.variables, [{ fieldPath: ["parent"], start: 1, end: 3 }, { fieldPath: ["book", "id"], start: 4, end: 5 }]);
      assert.equal(t.verb, "publish");
      assert.equal(parsePathTemplate("/carts/{cart_id}").verb, undefined);
    });

    const bad: [string, RegExp][] = [
      ["carts/{id}", /must start with "\/"/],
      ["/carts//{id}", /character 8: empty segment/],
      ["/carts/{id", /no closing "}"/],
      ["/carts/{a=x/{b}}", /cannot hold another variable/],
      ["/carts/{9lives}", /"9lives" is not a field path/],
      ["/files/**/tail", /"\*\*" may only be the last segment/],
      ["/carts/{id}/x/{id}", /the field id is bound twice/],
      ["/carts/{id}:", /custom verb "" must be a non-empty literal/],
      ["/carts/{id=}", /has "=" but no segments/],
      ["/ca rts", /"ca rts" is not a literal segment/],
    ];
    for (const [template, message] of bad) {
      it(`rejects ${template} saying where and why`, () => {
        assert.throws(() => parsePathTemplate(template), (e: unknown) => e instanceof PathTemplateError && message.test(e.message) && e.message.includes(JSON.stringify(template)));
      });
    }
  });

  describe("matching", () => {
    it("binds a single-segment variable, percent-decoded", () => {
      assert.deepEqual(match("/carts/{cart_id}", "/carts/c%201"), { cart_id: "c 1" });
      assert.deepEqual(match("/carts/{cart_id}/items/{product_id}", "/carts/c1/items/p%2F2"), { cart_id: "c1", product_id: "p/2" });
    });

    it("binds a multi-segment variable with its slashes, keeping an encoded slash encoded", () => {
      assert.deepEqual(match("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b%2F1"), { name: "shelves/s1/books/b%2F1" });
      assert.deepEqual(match("/v1/{path=**}", "/v1/a/b%20c/d"), { path: "a/b c/d" });
      assert.deepEqual(match("/v1/files/{path=**}", "/v1/files"), { path: "" });
    });

    it("matches the custom verb exactly, and only with one", () => {
      assert.deepEqual(match("/carts/{cart_id}:checkout", "/carts/c1:checkout"), { cart_id: "c1" });
      assert.equal(match("/carts/{cart_id}:checkout", "/carts/c1:cancel"), undefined);
      assert.equal(match("/carts/{cart_id}:checkout", "/carts/c1"), undefined);
      assert.deepEqual(match("/carts/{cart_id}", "/carts/c1:checkout"), { cart_id: "c1:checkout" }, "without a verb in the template, a colon is part of the segment");
    });

    it("does not match other lengths, other literals, empty segments or broken encodings", () => {
      assert.equal(match("/carts/{cart_id}", "/carts"), undefined);
      assert.equal(match("/carts/{cart_id}", "/carts/c1/items"), undefined);
      assert.equal(match("/carts/{cart_id}", "/cart/c1"), undefined);
      assert.equal(match("/carts/{cart_id}", "/carts/"), undefined);
      assert.equal(match("/carts/{cart_id}", "/carts/%E0%A4%A"), undefined);
      assert.equal(match("/carts/*", "carts/x"), undefined);
    });
  });

  describe("precedence and conflicts", () => {
    it("orders literal before * before **, and a verb before none", () => {
      const sorted = ["/v1/{a=**}", "/v1/{a}", "/v1/special", "/v1/{a}:run"].map(parsePathTemplate).sort(comparePrecedence).map((t) => t.source);
      assert.deepEqual(sorted, ["/v1/special", "/v1/{a}:run", "/v1/{a}", "/v1/{a=**}"]);
    });

    it("calls two templates the same route when only their variable names differ", () => {
      assert.equal(sameRoute(parsePathTemplate("/carts/{cart_id}"), parsePathTemplate("/carts/{id}")), true);
      assert.equal(sameRoute(parsePathTemplate("/carts/{cart_id}"), parsePathTemplate("/carts/mine")), false);
      assert.equal(sameRoute(parsePathTemplate("/carts/{cart_id}"), parsePathTemplate("/carts/{cart_id}:checkout")), false);
      assert.equal(sameRoute(parsePathTemplate("/v1/{name=shelves/*}"), parsePathTemplate("/v1/shelves/{id}")), true);
    });
  });
});
