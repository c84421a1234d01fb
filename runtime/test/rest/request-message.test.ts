import assert from "node:assert/strict";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { httpRequestMessage } from "../../src/rest/request-message.js";
import type { HttpRequestParts } from "../../src/rest/request-message.js";
import { Color, EverythingRequestSchema } from "../gen/resttest/v1/resttest_pb.js";

function parts(bindings: Record<string, string>, query = "", body?: HttpRequestParts["body"]): HttpRequestParts {
  return { bindings: new Map(Object.entries(bindings)), query: new URLSearchParams(query), body };
}

function rejects(work: () => unknown, message: RegExp): void {
  assert.throws(work, (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && message.test(e.rawMessage), String(message));
}

describe("the request message of a REST call", () => {
  it("reads path variables and query parameters of every scalar kind, enums by name or number, nested fields and repeated ones", () => {
    const m = httpRequestMessage(
      EverythingRequestSchema,
      "",
      parts({ name: "n 1", "shelf.name": "s1" }, "count=7&big=9007199254740993&ubig=18446744073709551615&flag=true&ratio=0.5&blob=AQID&color=COLOR_GREEN&tags=a&tags=b&numbers=1&numbers=2&colors=1&colors=COLOR_GREEN&shelf.floor=3&book.tags=x&nickname=nick"),
    );
    assert.equal(m.name, "n 1");
    assert.equal(m.count, 7);
    assert.equal(m.big, 9007199254740993n);
    assert.equal(m.ubig, 18446744073709551615n);
    assert.equal(m.flag, true);
    assert.equal(m.ratio, 0.5);
    assert.deepEqual([...m.blob], [1, 2, 3]);
    assert.equal(m.color, Color.GREEN);
    assert.deepEqual(m.tags, ["a", "b"]);
    assert.deepEqual(m.numbers, [1, 2]);
    assert.deepEqual(m.colors, [Color.RED, Color.GREEN]);
    assert.equal(m.shelf?.name, "s1");
    assert.equal(m.shelf?.floor, 3);
    assert.deepEqual(m.book?.tags, ["x"]);
    assert.equal(m.nickname, "nick");
  });

  it("reads well-known types from their JSON string forms, and wrappers from their value", () => {
    const m = httpRequestMessage(EverythingRequestSchema, "", parts({}, "at=2026-12-02T06:00:00Z&wait=1.5s&mask=name,shelf.floor&maybe=0"));
    assert.deepEqual(toJson(EverythingRequestSchema, m), { at: "2026-12-02T06:00:00Z", wait: "1.500s", mask: "name,shelf.floor", maybe: 0 });
  });

  it("accepts JSON names as well as proto names in parameters", () => {
    assert.equal(httpRequestMessage(EverythingRequestSchema, "", parts({}, "book.bookId=b7")).book?.bookId, "b7");
    assert.equal(httpRequestMessage(EverythingRequestSchema, "", parts({}, "book.book_id=b7")).book?.bookId, "b7");
  });

  it('takes every other field from the body with body "*", the path winning only when it agrees', () => {
    const m = httpRequestMessage(EverythingRequestSchema, "*", parts({ name: "cart-1" }, "", { count: 2, labels: { k: "v" }, shelf: { floor: 1 } }));
    assert.equal(m.name, "cart-1");
    assert.equal(m.count, 2);
    assert.deepEqual(m.labels, { k: "v" });
    assert.equal(httpRequestMessage(EverythingRequestSchema, "*", parts({ name: "c" }, "", { name: "c" })).name, "c");
    rejects(() => httpRequestMessage(EverythingRequestSchema, "*", parts({ name: "c1" }, "", { name: "c2" })), /name is "c1" in the path but "c2" in the body/);
    rejects(() => httpRequestMessage(EverythingRequestSchema, "*", parts({}, "count=1", {})), /query parameter count: this route takes every field from the body/);
    rejects(() => httpRequestMessage(EverythingRequestSchema, "*", parts({}, "", [1])), /the body must be a JSON object/);
  });

  it("puts the body into the named field and the rest from the query", () => {
    const m = httpRequestMessage(EverythingRequestSchema, "book", parts({ name: "s" }, "count=4", { bookId: "b1", title: "T" }));
    assert.equal(m.book?.title, "T");
    assert.equal(m.count, 4);
    rejects(() => httpRequestMessage(EverythingRequestSchema, "book", parts({}, "book.title=x", { title: "T" })), /query parameter book\.title: book comes from the body/);
  });

  it("answers INVALID_ARGUMENT naming the parameter for every mistake", () => {
    const cases: [HttpRequestParts, RegExp][] = [
      [parts({}, "colour=red"), /query parameter colour: resttest\.v1\.EverythingRequest has no field "colour"/],
      [parts({}, "flag=yes"), /query parameter flag: expected true or false, got "yes"/],
      [parts({}, "count=1&count=2"), /query parameter count is given more than once, but count is not a repeated field/],
      [parts({}, "shelf=x"), /query parameter shelf: shelf is a resttest\.v1\.Shelf; set its fields one by one/],
      [parts({}, "labels=x"), /labels is a map, which only the body can set/],
      [parts({}, "name.first=x"), /name is not a message, so it has no field "first"/],
      [parts({ name: "a" }, "name=b"), /query parameter name: name is already set by the path/],
      [parts({}, "count=seven"), /cannot read the request as resttest\.v1\.EverythingRequest: .*count/],
      [parts({}, "color=COLOR_BLUE"), /query parameter color: resttest\.v1\.Color has no value "COLOR_BLUE" \(it has COLOR_UNSPECIFIED, COLOR_RED, COLOR_GREEN\)/],
      [parts({}, "colors=COLOR_RED&colors=BLUE"), /query parameter colors: resttest\.v1\.Color has no value "BLUE"/],
      [parts({}, "at=yesterday"), /cannot read the request as resttest\.v1\.EverythingRequest/],
      [parts({}, "", { count: 1 }), /this route takes no body/],
    ];
    for (const [p, message] of cases) rejects(() => httpRequestMessage(EverythingRequestSchema, "", p), message);
  });
});
