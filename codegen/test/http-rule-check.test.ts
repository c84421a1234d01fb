import assert from "node:assert/strict";
import type { FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { OrreryCodegenError, pluginVersion } from "../src/index.js";
import { compileProtos, generate, generateError } from "./compile-protos.js";

/** A proto file `h/<name>.proto` with one entity whose rpcs are `rpcs`. */
function restFile(name: string, rpcs: string): [string, string] {
  return [`h/${name}.proto`, `syntax = "proto3";
package h.${name};
import "orrery/v1/options.proto";
import "google/api/annotations.proto";
service BookService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "${name.replaceAll("_", "-")}" state: "Book" events: ["Book"] } };
  ${rpcs}
}
message Shelf { string name = 1; int32 floor = 2; }
message BookRequest {
  string book_id = 1 [(orrery.v1.field).entity_key = true];
  string name = 2;
  Shelf shelf = 3;
  repeated string tags = 4;
  int32 count = 5;
  Book book = 6;
}
message Book { string title = 1; Shelf shelf = 2; }`];
}

const rpc = (option: string, name = "Get", stream = "") => `rpc ${name}(BookRequest) returns (${stream}Book) { option (google.api.http) = { ${option} }; }`;

const cases: Record<string, string> = {
  every_rule: [
    rpc('get: "/v1/books/{book_id}" response_body: "shelf"'),
    rpc('post: "/v1/{name=shelves/*/books/*}:cancel" body: "*"', "Cancel"),
    rpc('patch: "/v1/books/{book_id}/shelf/{shelf.name}" body: "book" additional_bindings { put: "/v1/b/{book_id}/**" body: "*" }', "Update"),
    rpc('delete: "/v1/files/{name=**}"', "Delete"),
  ].join("\n  "),
  unknown_body: rpc('post: "/v1/books/{book_id}" body: "boook"'),
  unknown_response_body: rpc('get: "/v1/books/{book_id}" response_body: "pages"'),
  get_with_body: rpc('get: "/v1/books/{book_id}" body: "*"'),
  delete_with_body: rpc('delete: "/v1/books/{book_id}" body: "book"'),
  unknown_variable: rpc('get: "/v1/books/{bok}"'),
  message_variable: rpc('get: "/v1/books/{shelf}"'),
  repeated_variable: rpc('get: "/v1/books/{tags}"'),
  nested_unknown_variable: rpc('get: "/v1/books/{shelf.room}"'),
  multi_segment_number: rpc('get: "/v1/{count=shelves/*}"'),
  empty_path: rpc('get: ""'),
  no_pattern: rpc('body: "*"'),
  custom: rpc('custom: { kind: "HEAD" path: "/v1/books/{book_id}" }'),
  syntax_error: rpc('get: "/v1/books/{book_id"'),
  nested_additional: rpc('get: "/v1/a/{book_id}" additional_bindings { get: "/v1/b/{book_id}" additional_bindings { get: "/v1/c/{book_id}" } }'),
  selector: rpc('selector: "h.selector.BookService.Get" get: "/v1/a/{book_id}"'),
  server_streaming: rpc('get: "/v1/books/{book_id}"', "Watch", "stream "),
  client_streaming: `rpc Upload(stream BookRequest) returns (Book) { option (google.api.http) = { post: "/v1/books" body: "*" }; }`,
  conflict: [rpc('get: "/v1/books/{book_id}"'), rpc('get: "/v1/books/{name}"', "Read")].join("\n  "),
  body_bound_by_path: rpc('post: "/v1/books/{book_id}/{shelf.name}" body: "shelf"'),
};

/** A view of h.key_value's shelves, with `queryOption` on its streaming query and `updateOption` on its update. */
function viewFile(name: string, queryOption: string, updateOption: string): string {
  return `syntax = "proto3";
package h.${name};
import "orrery/v1/options.proto";
import "google/api/annotations.proto";
import "h/key_value.proto";
service ShelvesView {
  option (orrery.v1.component) = { view: {} };
  rpc OnShelf(h.key_value.Shelf) returns (h.key_value.Shelf) {
    option (orrery.v1.method).view_update = { source: "shelf" table: "shelves" };
    ${updateOption}
  }
  rpc StreamShelves(ByName) returns (stream h.key_value.Shelf) {
    option (orrery.v1.method).view_query = { query: "SELECT * FROM shelves WHERE name = :name" };
    ${queryOption}
  }
}
message ByName { string name = 1; }`;
}

const otherKinds: Record<string, string> = {
  "h/key_value.proto": `syntax = "proto3";
package h.key_value;
import "orrery/v1/options.proto";
import "google/api/annotations.proto";
service ShelfService {
  option (orrery.v1.component) = { key_value_entity: { type: "shelf" state: "Shelf" } };
  rpc GetShelf(ShelfRequest) returns (Shelf) { option (google.api.http) = { get: "/v1/shelves/{shelf_id}" }; }
}
message ShelfRequest { string shelf_id = 1 [(orrery.v1.field).entity_key = true]; }
message Shelf { string name = 1; }`,
  "h/view.proto": viewFile("view", 'option (google.api.http) = { get: "/v1/shelves-by-name/{name}" };', ""),
  "h/view_update_route.proto": viewFile("view_update_route", "", 'option (google.api.http) = { post: "/v1/on-shelf" body: "*" };'),
  "h/consumer.proto": `syntax = "proto3";
package h.consumer;
import "orrery/v1/options.proto";
import "google/api/annotations.proto";
import "google/protobuf/empty.proto";
import "h/every_rule.proto";
service BookCounter {
  option (orrery.v1.component) = { consumer: { source: "every-rule" } };
  rpc OnBook(h.every_rule.Book) returns (google.protobuf.Empty) { option (google.api.http) = { post: "/v1/on-book" body: "*" }; }
}`,
};

describe("google.api.http checks", () => {
  let set: FileDescriptorSet;
  before(async () => {
    set = await compileProtos({ ...Object.fromEntries(Object.entries(cases).map(([name, rpcs]) => restFile(name, rpcs))), ...otherKinds });
  });

  function problemsOf(name: string): string[] {
    const error = generateError(set, [`h/${name}.proto`]);
    assert.ok(error instanceof OrreryCodegenError, String(error));
    return [...error.problems];
  }

  it("accepts every mapping rule the runtime serves", () => {
    const out = generate(set, ["h/every_rule.proto"]);
    assert.ok(out.has("h/every_rule_orrery.ts"));
  });

  const rejected: [string, RegExp][] = [
    ["unknown_body", /^h\/unknown_body\.proto:7:3: service h\.unknown_body\.BookService, rpc Get, option \(google\.api\.http\)\.body: h\.unknown_body\.BookRequest has no field "boook"\. Fix: name a top-level field of h\.unknown_body\.BookRequest \(book_id, name, shelf, tags, count, book\)/],
    ["unknown_response_body", /rpc Get, option \(google\.api\.http\)\.response_body: h\.unknown_response_body\.Book has no field "pages"/],
    ["get_with_body", /rpc Get, option \(google\.api\.http\)\.body: a GET request has no body, but the rule sets body: "\*"/],
    ["delete_with_body", /option \(google\.api\.http\)\.body: a DELETE request has no body/],
    ["unknown_variable", /option \(google\.api\.http\)\.get: path variable \{bok\}: h\.unknown_variable\.BookRequest has no field "bok"/],
    ["message_variable", /path variable \{shelf\}: shelf is a message \(h\.message_variable\.Shelf\), not a string, number, bool or enum/],
    ["repeated_variable", /path variable \{tags\}: tags is repeated; a path variable binds one value/],
    ["nested_unknown_variable", /path variable \{shelf\.room\}: h\.nested_unknown_variable\.Shelf has no field "room"/],
    ["multi_segment_number", /path variable \{count\} matches several segments, so it needs a string field/],
    ["empty_path", /option \(google\.api\.http\)\.get: the path is empty/],
    ["no_pattern", /option \(google\.api\.http\): the rule names no HTTP method and path/],
    ["custom", new RegExp(`option \\(google\\.api\\.http\\)\\.custom: custom HTTP methods \\(custom \\{ kind: "HEAD" \\}\\) are not supported yet by protoc-gen-orrery ${pluginVersion}`)],
    ["syntax_error", /option \(google\.api\.http\)\.get: path template "\/v1\/books\/\{book_id", at character 11: the variable has no closing "\}"/],
    ["nested_additional", /option \(google\.api\.http\)\.additional_bindings\[0\]: an additional binding has additional_bindings of its own/],
    ["selector", /option \(google\.api\.http\)\.selector: selector only means something in a service config file/],
    ["conflict", /rpc Read, option \(google\.api\.http\)\.get: REST routes conflict: GET \/v1\/books\/\{name\} and GET \/v1\/books\/\{book_id\} of h\.conflict\.BookService\.Get match the same requests/],
    ["body_bound_by_path", /option \(google\.api\.http\)\.body: the body field shelf is also bound by the path/],
  ];
  for (const [name, pattern] of rejected) {
    it(`rejects ${name.replaceAll("_", " ")}, naming file, service, rpc and rule`, () => {
      const problems = problemsOf(name);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0]!, pattern);
    });
  }

  it("accepts REST routes on a key-value entity", () => {
    assert.ok(generate(set, ["h/key_value.proto"]).has("h/key_value_orrery.ts"));
  });

  it("rejects REST routes on a consumer, whose rpcs only its source's events call", () => {
    const problems = problemsOf("consumer");
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0]!, /service h\.consumer\.BookCounter, rpc OnBook, option \(google\.api\.http\): a consumer's rpcs are called by its source's changes, not by clients, so they have no REST routes/);
  });

  it("accepts REST routes on a view's query, server-streaming too (served as newline-delimited JSON)", () => {
    assert.ok(generate(set, ["h/view.proto"]).has("h/view_orrery.ts"));
  });

  it("rejects a REST route on a view's update method, which cannot be called", () => {
    const problems = problemsOf("view_update_route");
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0]!, /service h\.view_update_route\.ShelvesView, rpc OnShelf, option \(google\.api\.http\): a view_update rpc is fed by its source and cannot be called/);
  });

  it("rejects REST on a client-streaming rpc; a server-streaming rpc on an entity fails as an entity rpc, not for its route", () => {
    assert.deepEqual(problemsOf("server_streaming").filter((p) => /google\.api\.http/.test(p)), []);
    assert.ok(problemsOf("client_streaming").some((p) => /rpc Upload, option \(google\.api\.http\): the rpc is client-streaming, and a REST route cannot carry a stream of requests/.test(p)));
  });
});
