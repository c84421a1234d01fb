// The customer registry over REST (google.api.http in customer.proto): the
// entity's routes, the view's queries, a streamed query as newline-delimited
// JSON, and validation failures in the Google status shape, on a real server.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { customer, customersView } from "../src/customer.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

type Json = Record<string, unknown>;

describe("customer registry over REST", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let base: string;

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { "content-type": "application/json" } });
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    return { status: response.status, json: (await response.json()) as Json };
  }

  /** An open stream of newline-delimited JSON: its status and type, and its lines as they come. */
  async function openStream(path: string): Promise<{ status: number; type: string; next(): Promise<Json>; close(): void }> {
    const aborter = new AbortController();
    const response = await fetch(`${base}${path}`, { signal: aborter.signal });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    return {
      status: response.status,
      type: response.headers.get("content-type") ?? "",
      async next() {
        for (;;) {
          const end = buffered.indexOf("\n");
          if (end >= 0) {
            const line = buffered.slice(0, end);
            buffered = buffered.slice(end + 1);
            return JSON.parse(line) as Json;
          }
          const { value, done } = await reader.read();
          if (done) throw new Error("the stream ended");
          buffered += value;
        }
      },
      close: () => aborter.abort(),
    };
  }

  async function eventually(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 250; i++) {
      if (await check()) return;
      await sleep(20);
    }
    assert.fail("the view did not catch up within 5 s");
  }

  before(async () => {
    storage = await freshStorage();
    service = createService({
      components: [customer, customersView], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
    });
    base = (await service.start()).url;
    for (const [customerId, name, city] of [["r1", "Ann Lee", "Ogdenville"], ["r2", "Bob Stone", "Ogdenville"], ["r3", "Cat Moss", "Ogdenville"]] as const) {
      assert.equal((await rest("POST", "/customers", { customerId, email: `${customerId}@example.com`, name, address: { street: "1 Main St", city } })).status, 200);
    }
    await eventually(async () => ((await rest("GET", "/cities/Ogdenville/customers")).json["customers"] as unknown[] | undefined)?.length === 3);
  });
  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  it("creates, reads, renames, moves and deletes a customer through its routes", async () => {
    assert.deepEqual(await rest("POST", "/customers", { customerId: "x1", email: "x@example.com", name: "Xan" }), { status: 200, json: { customerId: "x1", email: "x@example.com", name: "Xan", address: {} } });
    assert.equal((await rest("POST", "/customers/x1:rename", { newName: "Xander" })).json["name"], "Xander");
    assert.deepEqual((await rest("PUT", "/customers/x1/address", { street: "9 Elm St", city: "Capital City" })).json["address"], { street: "9 Elm St", city: "Capital City" });
    assert.equal((await rest("GET", "/customers/x1")).json["name"], "Xander");
    assert.deepEqual(await rest("DELETE", "/customers/x1"), { status: 200, json: {} });
    assert.equal((await rest("GET", "/customers/x1")).status, 404);
  });

  it("rejects a request that breaks its validation rules with 400 and the violations, storing nothing", async () => {
    const bad = await rest("POST", "/customers", { customerId: "x2", email: "not an email", name: "N" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json["code"], 3);
    assert.equal(bad.json["message"], "CustomerService.Create: the request breaks its validation rules: email: must be a valid email address [string.email]");
    const [detail] = bad.json["details"] as Json[];
    assert.equal(detail?.["@type"], "type.googleapis.com/buf.validate.Violations");
    const violations = (detail?.["violations"] as Array<{ field: { elements: Array<{ fieldName: string }> }; ruleId: string; message: string }>).map((v) => [v.field.elements.map((e) => e.fieldName).join("."), v.ruleId, v.message]);
    assert.deepEqual(violations, [["email", "string.email", "must be a valid email address"]]);
    assert.equal((await rest("GET", "/customers/x2")).status, 404, "nothing was stored");
  });

  it("answers the view's queries: a page, one row by a path variable, a search from a query parameter", async () => {
    const page = await rest("GET", "/cities/Ogdenville/customers?page_size=2");
    assert.deepEqual((page.json["customers"] as Json[]).map((c) => c["name"]), ["Ann Lee", "Bob Stone"]);
    assert.equal(page.json["hasMore"], true);
    assert.equal((await rest("GET", "/emails/r3@example.com/customer")).json["name"], "Cat Moss");
    assert.equal((await rest("GET", "/emails/nobody@example.com/customer")).status, 404);
    assert.deepEqual(((await rest("GET", "/customers:search?query=stone")).json["customers"] as Json[]).map((c) => c["customerId"]), ["r2"]);
  });

  it("streams a server-streaming query as newline-delimited JSON, one result per line, then each change as it happens", async () => {
    const stream = await openStream("/cities/Ogdenville/customers:stream");
    try {
      assert.equal(stream.status, 200);
      assert.equal(stream.type, "application/x-ndjson");
      const first = [await stream.next(), await stream.next(), await stream.next()];
      assert.deepEqual(first.map((l) => (l["result"] as Json)["name"]), ["Ann Lee", "Bob Stone", "Cat Moss"]);
      await rest("POST", "/customers", { customerId: "r4", email: "r4@example.com", name: "Dan Lee", address: { city: "Ogdenville" } });
      assert.equal(((await stream.next())["result"] as Json)["name"], "Dan Lee");
    } finally {
      stream.close();
    }
    const empty = await openStream("/cities/Nowhere/customers:stream");
    assert.deepEqual([empty.status, empty.type], [200, "application/x-ndjson"], "a stream with nothing to send yet is open");
    empty.close();
  });

  it("lists the entity's and the view's routes in /openapi.json, the streamed query as newline-delimited JSON", async () => {
    const doc = (await rest("GET", "/openapi.json")).json as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, unknown> }> }>> };
    assert.deepEqual(Object.keys(doc.paths), [
      "/cities/{city}/customers", "/cities/{city}/customers:stream", "/customers", "/customers/{customer_id}", "/customers/{customer_id}/address",
      "/customers/{customer_id}:rename", "/customers:search", "/emails/{email}/customer",
    ]);
    assert.deepEqual(Object.keys(doc.paths["/customers/{customer_id}"]!).sort(), ["delete", "get"]);
    assert.deepEqual(Object.keys(doc.paths["/cities/{city}/customers:stream"]!["get"]!.responses["200"]!.content), ["application/x-ndjson"]);
  });

  it("answers a streamed query that breaks its validation rules with 400 before any line", async () => {
    const response = await fetch(`${base}/cities/Ogdenville/customers:stream?page_size=-1`);
    assert.equal(response.status, 400);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const body = (await response.json()) as Json;
    assert.equal(body["message"], "CustomersView.StreamCustomersByCity: the request breaks its validation rules: page_size: must be greater than or equal to 0 [int32.gte]");
  });
});
