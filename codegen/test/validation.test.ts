import assert from "node:assert/strict";
import type { FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { OrreryCodegenError, pluginVersion } from "../src/index.js";
import { assertBlock, compileProtos, generate, generateError } from "./compile-protos.js";

/** A proto file `v/<name>.proto` (package v.<name>) with one entity service; parts replace the defaults. */
function entityFile(name: string, parts: { option?: string; rpcs?: string; messages?: string } = {}): [string, string] {
  const option = parts.option ?? 'type: "cart" state: "Cart" events: ["Added"]';
  const rpcs = parts.rpcs ?? "rpc Add(AddRequest) returns (Cart);";
  const messages = parts.messages ?? 'message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }';
  return [`v/${name}.proto`, [
    'syntax = "proto3";',
    `package v.${name};`,
    'import "orrery/v1/options.proto";',
    "service CartService {",
    `  option (orrery.v1.component) = { event_sourced_entity: { ${option} } };`,
    `  ${rpcs}`,
    "}",
    "message Cart {}",
    "message Added {}",
    "enum Status { STATUS_UNSPECIFIED = 0; }",
    messages,
  ].join("\n")];
}

const files = Object.fromEntries([
  entityFile("empty_type", { option: 'type: " " state: "Cart" events: ["Added"]' }),
  entityFile("state_not_found", { option: 'type: "cart" state: "Crt" events: ["Added"]' }),
  entityFile("no_state", { option: 'type: "cart" events: ["Added"]' }),
  entityFile("state_enum", { option: 'type: "cart" state: "Status" events: ["Added"]' }),
  entityFile("event_service", { option: 'type: "cart" state: "Cart" events: ["Added", "CartService"]' }),
  entityFile("event_not_found", { option: 'type: "cart" state: "Cart" events: ["Added", "Removed"]' }),
  entityFile("duplicate_event", { option: 'type: "cart" state: "Cart" events: ["Added", "v.duplicate_event.Added"]' }),
  entityFile("no_events", { option: 'type: "cart" state: "Cart"' }),
  entityFile("streaming", { rpcs: "rpc Add(AddRequest) returns (Cart); rpc Watch(AddRequest) returns (stream Cart);" }),
  entityFile("reserved_name", { rpcs: "rpc ApplyEvent(AddRequest) returns (Cart);" }),
  entityFile("no_key", { messages: "message AddRequest { int32 quantity = 1; string cart_id = 2; }" }),
  entityFile("two_keys", {
    messages: "message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; string shop_id = 2 [(orrery.v1.field).entity_key = true]; }",
  }),
  entityFile("key_not_string", {
    rpcs: "rpc Add(AddRequest) returns (Cart); rpc AddMany(AddManyRequest) returns (Cart);",
    messages: [
      "message AddRequest { int64 cart_id = 1 [(orrery.v1.field).entity_key = true]; }",
      "message AddManyRequest { repeated string cart_id = 1 [(orrery.v1.field).entity_key = true]; }",
    ].join("\n"),
  }),
  entityFile("same_type_a"),
  entityFile("same_type_b"),
  entityFile("many_problems", {
    option: 'type: "" state: "Cart" events: ["Added", "Gone"]',
    rpcs: "rpc Add(AddRequest) returns (Cart); rpc Watch(AddRequest) returns (stream Cart);",
  }),
  entityFile("access_options", {
    rpcs: [
      'option (orrery.v1.service) = { acl: { allow: ["internet", "service:*", "service:orders", "cluster", "authenticated", "all"] } rate_limit: { requests: 5 by: "principal" } };',
      'rpc Add(AddRequest) returns (Cart) { option (orrery.v1.method) = { acl: { deny: ["internet"] } }; }',
      'rpc Get(AddRequest) returns (Cart) { option (orrery.v1.method) = { read_only: true jwt: { require_bearer_token: true required_claims: { name: "scope" values: "read" } } }; }',
    ].join("\n  "),
  }),
  entityFile("claims_typed", {
    rpcs: 'option (orrery.v1.service) = { claims: "Claims" };\n  rpc Add(AddRequest) returns (Cart);',
    messages: "message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }\nmessage Claims { bool email_verified = 1; }",
  }),
  entityFile("claims_not_found", { rpcs: 'option (orrery.v1.service) = { claims: "Claim" };\n  rpc Add(AddRequest) returns (Cart);', messages: "message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }\nmessage Claims {}" }),
  entityFile("claims_enum", { rpcs: 'option (orrery.v1.service) = { claims: "Status" };\n  rpc Add(AddRequest) returns (Cart);' }),
  entityFile("bad_access_options", {
    rpcs: [
      'option (orrery.v1.service) = { acl: { allow: ["internets"] } };',
      'rpc Add(AddRequest) returns (Cart) { option (orrery.v1.method) = { acl: { deny: ["service:"] } rate_limit: { requests: 1 by: "ip" } }; }',
      'rpc Get(AddRequest) returns (Cart) { option (orrery.v1.method) = { jwt: { issuers: " " required_claims: { name: "" } } }; }',
    ].join("\n  "),
  }),
  ["v/other_kinds.proto", `syntax = "proto3";
package v.other_kinds;
import "orrery/v1/options.proto";
service FlowService {
  option (orrery.v1.component) = { workflow: { type: " " state: "Empty" } };
  rpc Steps(FlowRequest) returns (Empty);
  rpc Watch(FlowRequest) returns (stream Empty);
}
message FlowRequest { string flow_id = 1 [(orrery.v1.field).entity_key = true]; }
service ViewService { option (orrery.v1.component) = { view: {} }; }
service NoKindService { option (orrery.v1.component) = {}; }
message Empty {}`],
  ["v/claims_elsewhere.proto", `syntax = "proto3";
package v.claims_elsewhere;
import "orrery/v1/options.proto";
service FlowService {
  option (orrery.v1.component) = { workflow: { type: "flow" state: "Empty" } };
  option (orrery.v1.service) = { claims: "Empty" };
  rpc Start(FlowRequest) returns (Empty);
}
message FlowRequest { string flow_id = 1 [(orrery.v1.field).entity_key = true]; }
service EmptyView {
  option (orrery.v1.component) = { view: {} };
  option (orrery.v1.service) = { claims: "Empty" };
}
message Empty {}`],
  ["v/kv_problems.proto", `syntax = "proto3";
package v.kv_problems;
import "orrery/v1/options.proto";
service BlankService { option (orrery.v1.component) = { key_value_entity: { type: " " state: "Customr" } }; }
service NoStateService { option (orrery.v1.component) = { key_value_entity: { type: "no-state" } }; }
service CustomerService {
  option (orrery.v1.component) = { key_value_entity: { type: "customer" state: "Customer" } };
  rpc Watch(GetRequest) returns (stream Customer);
  rpc InitialState(GetRequest) returns (Customer);
  rpc Get(NoKeyRequest) returns (Customer);
}
message Customer { string customer_id = 1; }
message GetRequest { string customer_id = 1 [(orrery.v1.field).entity_key = true]; }
message NoKeyRequest { string customer_id = 1; }`],
  ["v/consumer_problems.proto", `syntax = "proto3";
package v.consumer_problems;
import "google/protobuf/empty.proto";
import "orrery/v1/options.proto";
service CartService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "cart" state: "Cart" events: ["Added", "Removed", "Paid"] } };
  rpc Add(AddRequest) returns (Cart);
}
service KvService {
  option (orrery.v1.component) = { key_value_entity: { type: "kv" state: "Cart" } };
  rpc Add(AddRequest) returns (Cart);
}
service NoSourceConsumer { option (orrery.v1.component) = { consumer: {} }; }
service UnknownSourceConsumer { option (orrery.v1.component) = { consumer: { source: "crat" } }; }
service StateConsumer {
  option (orrery.v1.component) = { consumer: { source: "kv" ignore: ["Added"] } };
  rpc OnAdded(Added) returns (google.protobuf.Empty);
}
service GoodStateConsumer {
  option (orrery.v1.component) = { consumer: { source: "kv" } };
  rpc OnChange(Cart) returns (google.protobuf.Empty);
  rpc OnDelete(google.protobuf.Empty) returns (google.protobuf.Empty);
}
service BadConsumer {
  option (orrery.v1.component) = { consumer: { source: "cart" ignore: ["Added", "Cart"] } };
  rpc OnAdded(Added) returns (google.protobuf.Empty);
  rpc OnAddedAgain(Added) returns (google.protobuf.Empty);
  rpc OnCart(Cart) returns (google.protobuf.Empty);
  rpc OnPaid(Paid) returns (Cart);
}
message Cart {}
message Added {}
message Removed {}
message Paid {}
message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }`],
  ["v/access_not_served.proto", `syntax = "proto3";
package v.access_not_served;
import "google/protobuf/empty.proto";
import "orrery/v1/options.proto";
service CartService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "cart" state: "Cart" events: ["Added"] } };
  rpc Add(AddRequest) returns (Cart);
}
service CartConsumer {
  option (orrery.v1.component) = { consumer: { source: "cart" } };
  option (orrery.v1.service) = { acl: { deny: "internet" } };
  rpc OnAdded(Added) returns (google.protobuf.Empty) { option (orrery.v1.method).jwt = { require_bearer_token: true }; }
}
service CartsView {
  option (orrery.v1.component) = { view: {} };
  rpc OnAdded(Added) returns (Row) { option (orrery.v1.method) = { view_update: { source: "cart" table: "carts" } rate_limit: { requests: 1 } }; }
  rpc All(google.protobuf.Empty) returns (Rows) { option (orrery.v1.method) = { view_query: { query: "SELECT * AS rows FROM carts" } acl: { deny: "internet" } }; }
}
message Cart {}
message Added { string cart_id = 1; }
message Row { string cart_id = 1; }
message Rows { repeated Row rows = 1; }
message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }`],
  ["v/view_problems.proto", `syntax = "proto3";
package v.view_problems;
import "orrery/v1/options.proto";
service CartService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "cart" state: "Cart" events: ["Added", "Removed"] } };
  rpc Add(AddRequest) returns (Cart);
}
service CartsView {
  option (orrery.v1.component) = { view: {} };
  rpc OnAdded(Added) returns (Cart) { option (orrery.v1.method).view_update = { source: "cart" table: "carts" }; }
  rpc OnCart(Cart) returns (Cart) { option (orrery.v1.method).view_update = { source: "cart" table: "carts" }; }
  rpc NoTable(Added) returns (Cart) { option (orrery.v1.method).view_update = { source: "cart" }; }
  rpc Unmarked(AddRequest) returns (Cart);
  rpc ByOwner(AddRequest) returns (Cart) { option (orrery.v1.method).view_query = { query: "SELECT * FROM carts WHERE owner = :cart_id" }; }
}
message Cart { string cart_id = 1; }
message Added {}
message Removed {}
message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }`],
  ["v/stream_updates_problems.proto", `syntax = "proto3";
package v.stream_updates_problems;
import "orrery/v1/options.proto";
service CartService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "cart" state: "Cart" events: ["Added"] } };
  rpc Add(AddRequest) returns (Cart);
}
service CartsView {
  option (orrery.v1.component) = { view: {} };
  rpc OnAdded(Added) returns (Cart) { option (orrery.v1.method).view_update = { source: "cart" table: "carts" }; }
  rpc OneCart(AddRequest) returns (Cart) { option (orrery.v1.method).view_query = { query: "SELECT * FROM carts WHERE cart_id = :cart_id" stream_updates: true }; }
  rpc Carts(AddRequest) returns (stream Cart) { option (orrery.v1.method).view_query = { query: "SELECT * FROM carts" stream_updates: true }; }
}
message Cart { string cart_id = 1; }
message Added {}
message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }`],
  ["v/view_options_elsewhere.proto", `syntax = "proto3";
package v.view_options_elsewhere;
import "orrery/v1/options.proto";
service QueryingService {
  option (orrery.v1.component) = { event_sourced_entity: { type: "querying" state: "Cart" events: ["Cart"] } };
  rpc Add(AddRequest) returns (Cart) { option (orrery.v1.method).view_query = { query: "SELECT * FROM carts" }; }
}
message Cart {}
message AddRequest { string cart_id = 1 [(orrery.v1.field).entity_key = true]; }`],
  ["v/same_base.proto", `syntax = "proto3";
package v.same_base;
import "orrery/v1/options.proto";
service Cart { option (orrery.v1.component) = { event_sourced_entity: { type: "cart-1" state: "State" events: ["State"] } }; }
service CartService { option (orrery.v1.component) = { event_sourced_entity: { type: "cart-2" state: "State" events: ["State"] } }; }
message State {}`],
]);

describe("protoc-gen-orrery", () => {
  let set: FileDescriptorSet;
  before(async () => {
    set = await compileProtos(files);
  });

  /** The problem lines of generating `names` (without the "v/" and ".proto"). */
  function problemsOf(...names: string[]): string[] {
    const error = generateError(set, names.map((n) => `v/${n}.proto`));
    assert.ok(error instanceof OrreryCodegenError, `expected an OrreryCodegenError, got ${String(error)}`);
    assert.equal(error.message, `${error.problems.length === 1 ? "1 problem" : `${error.problems.length} problems`} in the Orrery options:\n${error.problems.join("\n")}`);
    for (const line of error.problems) assert.doesNotMatch(line, /\n/);
    return [...error.problems];
  }

  /** Asserts a single problem line that matches every pattern. */
  function assertProblem(names: string | string[], ...patterns: RegExp[]): void {
    const problems = problemsOf(...[names].flat());
    assert.equal(problems.length, 1, problems.join("\n"));
    for (const pattern of patterns) assert.match(problems[0] ?? "", pattern);
  }

  describe("rejects", () => {
    it("an event_sourced_entity with an empty type, naming the file, line, service and option", () => {
      assertProblem("empty_type",
        /^v\/empty_type\.proto:4:1: service v\.empty_type\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.type: the entity type is empty\. Fix: set type to .*, e\.g\. type: "cart"$/);
    });

    it("a state message that does not exist, suggesting a close name", () => {
      assertProblem("state_not_found",
        /service v\.state_not_found\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.state: message "Crt" not found \(looked up v\.state_not_found\.Crt, Crt\); did you mean "Cart"\?/,
        /Fix: name a message declared in this file or one it imports \(fully-qualified or relative to package v\.state_not_found\)$/);
    });

    it("an entity without a state message", () => {
      assertProblem("no_state", /service v\.no_state\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.state: no state message is named/);
    });

    it("a state that names an enum", () => {
      assertProblem("state_enum", /event_sourced_entity\.state: "Status" names v\.state_enum\.Status, which is an enum, not a message\. Fix: name a message/);
    });

    it("an event that names a service", () => {
      assertProblem("event_service", /event_sourced_entity\.events: "CartService" names v\.event_service\.CartService, which is a service, not a message/);
    });

    it("an event that does not exist", () => {
      assertProblem("event_not_found", /^v\/event_not_found\.proto:4:1: service v\.event_not_found\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.events: message "Removed" not found/);
    });

    it("an event listed twice, even when written once relative and once fully-qualified", () => {
      assertProblem("duplicate_event", /event_sourced_entity\.events: event v\.duplicate_event\.Added is listed more than once\. Fix: list "v\.duplicate_event\.Added" once$/);
    });

    it("an entity without events", () => {
      assertProblem("no_events", /service v\.no_events\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.events: no events are listed\. Fix: list every event message/);
    });

    it("a streaming rpc, naming the rpc", () => {
      assertProblem("streaming", /^v\/streaming\.proto:6:39: service v\.streaming\.CartService, rpc Watch: the rpc is server-streaming, but an event-sourced entity's rpcs are unary\. Fix: drop `stream`/);
    });

    it("an rpc whose handler would take the name of applyEvent", () => {
      assertProblem("reserved_name", /service v\.reserved_name\.CartService, rpc ApplyEvent: the handler name applyEvent is taken/);
    });

    it("a request message without an entity_key field, suggesting the id field", () => {
      assertProblem("no_key",
        /service v\.no_key\.CartService, rpc Add: request message v\.no_key\.AddRequest has no field marked \[\(orrery\.v1\.field\)\.entity_key = true\]\. Fix: mark the field that holds the entity id, e\.g\. string cart_id = 2 \[\(orrery\.v1\.field\)\.entity_key = true\];$/);
    });

    it("a request message with two entity_key fields", () => {
      assertProblem("two_keys", /rpc Add: request message v\.two_keys\.AddRequest marks 2 fields as entity_key \(cart_id, shop_id\)\. Fix: keep entity_key on exactly one field$/);
    });

    it("entity keys that are not a singular string, naming each field and where it is", () => {
      const problems = problemsOf("key_not_string");
      assert.equal(problems.length, 2, problems.join("\n"));
      assert.match(problems[0] ?? "", /^v\/key_not_string\.proto:6:3: service v\.key_not_string\.CartService, rpc Add, field v\.key_not_string\.AddRequest\.cart_id \(v\/key_not_string\.proto:11:22\): the entity key is declared "int64 cart_id = 1", but an entity key must be a singular string\. Fix: declare it as string cart_id = 1$/);
      assert.match(problems[1] ?? "", /rpc AddMany, field v\.key_not_string\.AddManyRequest\.cart_id .*: the entity key is declared "repeated string cart_id = 1"/);
    });

    it("two services that declare the same component type, naming both", () => {
      assertProblem(["same_type_a", "same_type_b"],
        /^v\/same_type_b\.proto:4:1: service v\.same_type_b\.CartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.type: type "cart" is also declared by service v\.same_type_a\.CartService in v\/same_type_a\.proto/);
    });

    it("the mistakes of a key-value entity, each naming its service and site", () => {
      const problems = problemsOf("kv_problems").map((p) => p.replace(/^v\/kv_problems\.proto:\d+:\d+: /, ""));
      assert.deepEqual(problems.map((p) => p.replace(/\.? Fix: .*/, "")), [
        "service v.kv_problems.BlankService, option (orrery.v1.component).key_value_entity.type: the entity type is empty",
        'service v.kv_problems.BlankService, option (orrery.v1.component).key_value_entity.state: message "Customr" not found (looked up v.kv_problems.Customr, Customr); did you mean "Customer"?',
        "service v.kv_problems.NoStateService, option (orrery.v1.component).key_value_entity.state: no state message is named",
        "service v.kv_problems.CustomerService, rpc Watch: the rpc is server-streaming, but a key-value entity's rpcs are unary",
        "service v.kv_problems.CustomerService, rpc InitialState: the handler name initialState is taken by the key-value entity's own initialState member",
        "service v.kv_problems.CustomerService, rpc Get: request message v.kv_problems.NoKeyRequest has no field marked [(orrery.v1.field).entity_key = true]",
      ]);
      assert.match(problems[0]!, /Fix: set type to the stable name stored with the entity's state, e\.g\. type: "blank"/);
    });

    it("the mistakes of a consumer, checked against its source's events", () => {
      const problems = problemsOf("consumer_problems").map((p) => p.replace(/^v\/consumer_problems\.proto:\d+:\d+: /, "").replace(/\.? Fix: .*/, ""));
      assert.match(problems[1]!, /UnknownSourceConsumer, option \(orrery\.v1\.component\)\.consumer\.source: no component has the type "crat" \(known: "cart", .*"kv"/);
      problems.splice(1, 1);
      assert.deepEqual(problems, [
        "service v.consumer_problems.NoSourceConsumer, option (orrery.v1.component).consumer.source: no source is named",
        'service v.consumer_problems.StateConsumer, option (orrery.v1.component).consumer.ignore: "kv" is a key-value entity, which has no event types to ignore',
        "service v.consumer_problems.StateConsumer, rpc OnAdded: the rpc takes v.consumer_problems.Added; a consumer of the key-value entity \"kv\" takes its state v.consumer_problems.Cart (each change) or google.protobuf.Empty (each deletion)",
        'service v.consumer_problems.StateConsumer, option (orrery.v1.component).consumer: no rpc takes v.consumer_problems.Cart, the state of "kv"',
        "service v.consumer_problems.BadConsumer, rpc OnAddedAgain: v.consumer_problems.Added is already handled by rpc OnAdded",
        'service v.consumer_problems.BadConsumer, rpc OnCart: the rpc takes v.consumer_problems.Cart, which is not an event of "cart" (v.consumer_problems.Added, v.consumer_problems.Removed, v.consumer_problems.Paid)',
        "service v.consumer_problems.BadConsumer, rpc OnPaid: the rpc returns v.consumer_problems.Cart; a consumer's rpcs return google.protobuf.Empty",
        "service v.consumer_problems.BadConsumer, option (orrery.v1.component).consumer.ignore: v.consumer_problems.Added is both ignored and handled by rpc OnAdded",
        'service v.consumer_problems.BadConsumer, option (orrery.v1.component).consumer.ignore: v.consumer_problems.Cart is not an event of "cart"',
        'service v.consumer_problems.BadConsumer, option (orrery.v1.component).consumer: event v.consumer_problems.Removed of "cart" is neither handled nor ignored',
      ]);
      assert.match(problemsOf("consumer_problems").at(-1)!, /Fix: add rpc OnRemoved\(v\.consumer_problems\.Removed\) returns \(google\.protobuf\.Empty\), or list it in ignore/);
    });

    it("the mistakes of a view: update methods against their source, and each query at its column", () => {
      const problems = problemsOf("view_problems").map((p) => p.replace(/^v\/view_problems\.proto:\d+:\d+: /, "").replace(/\.? Fix: .*/, ""));
      assert.deepEqual(problems, [
        'service v.view_problems.CartsView, rpc OnCart, option (orrery.v1.method).view_update: the rpc takes v.view_problems.Cart, which is not an event of "cart" (v.view_problems.Added, v.view_problems.Removed)',
        "service v.view_problems.CartsView, rpc NoTable, option (orrery.v1.method).view_update.table: no table is named",
        "service v.view_problems.CartsView, rpc Unmarked: the rpc has neither view_update nor view_query",
        'service v.view_problems.CartsView, option (orrery.v1.component).view: table carts: event v.view_problems.Removed of "cart" is neither handled nor ignored',
        'service v.view_problems.CartsView, rpc ByOwner, option (orrery.v1.method).view_query.query: at column 27 ("owner"): unknown column owner: table carts (v.view_problems.Cart) has no field owner (its fields: cart_id)',
      ]);
    });

    it("stream_updates on a unary query, and on a response without a key field for its deletion markers", () => {
      const problems = problemsOf("stream_updates_problems").map((p) => p.replace(/^v\/stream_updates_problems\.proto:\d+:\d+: /, ""));
      assert.deepEqual(problems, [
        "service v.stream_updates_problems.CartsView, rpc OneCart, option (orrery.v1.method).view_query.stream_updates: stream_updates needs a server-streaming rpc; this one is unary. " +
          "Fix: return a stream: rpc OneCart(AddRequest) returns (stream Cart)",
        "service v.stream_updates_problems.CartsView, rpc Carts, option (orrery.v1.method).view_query.stream_updates: stream_updates sends a row that stops matching as a deletion marker " +
          "carrying only the row's key, and the response message v.stream_updates_problems.Cart marks no field for it. " +
          "Fix: mark the string field that holds the source entity's id: string id = N [(orrery.v1.field).entity_key = true];",
      ]);
    });

    it("view_query or view_update on an rpc that is not a view's, instead of accepting and ignoring it", () => {
      assertProblem("view_options_elsewhere", /rpc Add, option \(orrery\.v1\.method\)\.view_query: view_query is for the rpcs of a view, and this service is an event-sourced entity\. Fix: remove it, or move the rpc to a service with option \(orrery\.v1\.component\) = \{ view: \{\} \}/);
    });

    it("two entities in one file whose generated names would clash", () => {
      assertProblem("same_base", /service v\.same_base\.CartService: its generated names \(Cart, CartHandlers, \.\.\.\) clash with those of service v\.same_base\.Cart in the same file/);
    });

    it("a workflow's problems (no type, an rpc named after a member of its behaviour, a streaming rpc), an empty view, and an option without a kind", () => {
      const problems = problemsOf("other_kinds");
      assert.deepEqual(problems.map((p) => p.replace(/^v\/other_kinds\.proto:\d+:\d+: /, "").replace(/\. Fix: .*/, "")), [
        "service v.other_kinds.FlowService, option (orrery.v1.component).workflow.type: the workflow type is empty",
        "service v.other_kinds.FlowService, rpc Steps: the handler name steps is taken by the workflow's own steps member",
        "service v.other_kinds.FlowService, rpc Watch: the rpc is server-streaming, but a workflow's rpcs are unary",
        "service v.other_kinds.ViewService: the view has no update method, so its tables would stay empty",
        "service v.other_kinds.NoKindService, option (orrery.v1.component): the option declares no component kind",
      ]);
    });

    it("access options where no call from the wire arrives: a consumer's service and rpcs, a view's update rpcs", () => {
      assert.deepEqual(problemsOf("access_not_served").map((p) => p.replace(/^v\/access_not_served\.proto:\d+:\d+: /, "")), [
        "service v.access_not_served.CartConsumer, option (orrery.v1.service).acl: acl governs calls from the wire, and a consumer's rpcs are not served there. Fix: remove it",
        "service v.access_not_served.CartConsumer, rpc OnAdded, option (orrery.v1.method).jwt: jwt governs calls from the wire, and a consumer's rpcs are not served there. Fix: remove it",
        "service v.access_not_served.CartsView, rpc OnAdded, option (orrery.v1.method).rate_limit: rate_limit governs calls from the wire, and a view's update rpcs are not served there. Fix: remove it",
      ]);
    });

    it("types the principal's claims in the command context as the message (orrery.v1.service).claims names, and passes its schema to the runtime", () => {
      const out = generate(set, ["v/claims_typed.proto"]).get("v/claims_typed_orrery.ts");
      assertBlock(out, "export type CartContext = CommandContext<Cart$1, CartEvent, Claims>;");
      assertBlock(out, "    claims: ClaimsSchema,");
    });

    it("a claims message that does not resolve to a message, naming the file, the service and the option", () => {
      assert.deepEqual([...problemsOf("claims_not_found"), ...problemsOf("claims_enum")].map((p) => p.replace(/:\d+:\d+:/, ":")), [
        'v/claims_not_found.proto: service v.claims_not_found.CartService, option (orrery.v1.service).claims: message "Claim" not found (looked up v.claims_not_found.Claim, Claim); did you mean "Claims"? Fix: name a message declared in this file or one it imports (fully-qualified or relative to package v.claims_not_found)',
        'v/claims_enum.proto: service v.claims_enum.CartService, option (orrery.v1.service).claims: "Status" names v.claims_enum.Status, which is an enum, not a message. Fix: name a message (fully-qualified or relative to package v.claims_enum)',
      ]);
    });

    it("a claims message on a workflow or a view, whose contexts do not type claims, instead of ignoring it", () => {
      const claims = problemsOf("claims_elsewhere").filter((p) => p.includes("(orrery.v1.service).claims")).map((p) => p.replace(/^v\/claims_elsewhere\.proto:\d+:\d+: /, ""));
      assert.deepEqual(claims, [
        "service v.claims_elsewhere.FlowService, option (orrery.v1.service).claims: claims are typed in the command context of an event-sourced or key-value entity only, not of a workflow. Fix: remove it, or read the claims in an entity the component calls",
        "service v.claims_elsewhere.EmptyView, option (orrery.v1.service).claims: claims are typed in the command context of an event-sourced or key-value entity only, not of a view. Fix: remove it, or read the claims in an entity the component calls",
      ]);
    });

    it("access options (acl, jwt, rate_limit) naming an unknown principal, an empty issuer or claim, or an unknown rate-limit key", () => {
      assert.ok(generate(set, ["v/access_options.proto"]).size > 0);
      assert.deepEqual(problemsOf("bad_access_options").map((p) => p.replace(/^v\/bad_access_options\.proto:\d+:\d+: service v\.bad_access_options\.CartService/, "")), [
          ', option (orrery.v1.service).acl: the acl names the principal "internets". Fix: name "internet", "authenticated", "service:<name>", "service:*", "cluster" or "all"',
          ', rpc Add, option (orrery.v1.method).acl: the acl names the principal "service:". Fix: name "internet", "authenticated", "service:<name>", "service:*", "cluster" or "all"',
          ', rpc Add, option (orrery.v1.method).rate_limit.by: the rate limit counts by "ip". Fix: use "address" or "principal"',
          ", rpc Get, option (orrery.v1.method).jwt.issuers: an accepted issuer is empty. Fix: name the issuer as its tokens' iss claim holds it, or remove the entry",
          ', rpc Get, option (orrery.v1.method).jwt.required_claims: a required claim has no name. Fix: name the claim, e.g. "email_verified" or "realm_access.roles"',
      ]);
    });
  });

  it("reports every problem of a run together, one line each", () => {
    const problems = problemsOf("many_problems", "no_key", "other_kinds");
    assert.equal(problems.length, 3 + 1 + 5, problems.join("\n"));
    assert.match(problems[0] ?? "", /^v\/many_problems\.proto:4:1: .*: the entity type is empty/);
    assert.match(problems[1] ?? "", /^v\/many_problems\.proto:4:1: .*: message "Gone" not found/);
    assert.match(problems[2] ?? "", /^v\/many_problems\.proto:6:39: .*rpc Watch: the rpc is server-streaming/);
    assert.match(problems[3] ?? "", /^v\/no_key\.proto:6:3: .*rpc Add: request message v\.no_key\.AddRequest has no field marked/);
    assert.match(problems[8] ?? "", /^v\/other_kinds\.proto:11:1: .*the option declares no component kind/);
  });
});
