// The customers view end to end: rows follow the customers' state changes, and
// each query of the proto answers over Connect.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { customer, customersView } from "../src/customer.js";
import { CustomerService, CustomersView } from "../src/gen/customer/registry/v1/customer_pb.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

describe("the customers view", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let customers: Client<typeof CustomerService>;
  let view: Client<typeof CustomersView>;

  before(async () => {
    storage = await freshStorage();
    service = createService({
      components: [customer, customersView], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
    });
    const { url } = await service.start();
    const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
    customers = createClient(CustomerService, transport);
    view = createClient(CustomersView, transport);
    const people = [
      ["c1", "Ann Lee", "Springfield"], ["c2", "Bob Stone", "Springfield"], ["c3", "Cat Moss", "Shelbyville"],
      ["c4", "Dan Lee", "Springfield"], ["c5", "Eve Park", "Springfield"],
    ];
    for (const [customerId, name, city] of people) {
      await customers.create({ customerId, email: `${customerId}@example.com`, name, address: { street: "1 Main St", city } });
    }
    await eventually(async () => (await view.getCustomersByCity({ city: "Springfield" })).customers.length === 4);
  });
  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  /** Views are updated just after the write commits: poll briefly. */
  async function eventually(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 250; i++) {
      if (await check()) return;
      await sleep(20);
    }
    assert.fail("the view did not catch up within 5 s");
  }

  it("pages through a city's customers by name with opaque page tokens", async () => {
    const first = await view.getCustomersByCity({ city: "Springfield", pageSize: 3 });
    assert.deepEqual(first.customers.map((c) => c.name), ["Ann Lee", "Bob Stone", "Dan Lee"]);
    assert.equal(first.hasMore, true);
    assert.notEqual(first.nextPageToken, "");
    const second = await view.getCustomersByCity({ city: "Springfield", pageSize: 3, pageToken: first.nextPageToken });
    assert.deepEqual(second.customers.map((c) => c.name), ["Eve Park"]);
    assert.deepEqual([second.hasMore, second.nextPageToken], [false, ""]);
    await assert.rejects(view.getCustomersByCity({ city: "Springfield", pageSize: 3, pageToken: "not-a-token" }),
      (error: ConnectError) => error.code === Code.InvalidArgument && /page_token is not a page token of this query/.test(error.rawMessage));
  });

  it("finds one customer by email, NOT_FOUND when none", async () => {
    assert.equal((await view.getCustomerByEmail({ email: "c3@example.com" })).name, "Cat Moss");
    await assert.rejects(view.getCustomerByEmail({ email: "nobody@example.com" }), (error: ConnectError) => {
      assert.equal(error.code, Code.NotFound);
      assert.equal(error.rawMessage, "CustomersView.GetCustomerByEmail: no row of table customers matches the query");
      return true;
    });
  });

  it("searches names by words, and binds what it is given: an injection attempt is just a search that finds nothing", async () => {
    assert.deepEqual((await view.searchCustomers({ query: "lee" })).customers.map((c) => c.name), ["Ann Lee", "Dan Lee"]);
    assert.deepEqual((await view.searchCustomers({ query: "' OR 1=1 --" })).customers, []);
    assert.equal((await view.getCustomerByEmail({ email: "c1@example.com" })).name, "Ann Lee", "the table is intact");
  });

  it("streams a city's customers, then stays open for updates", async () => {
    const open = new AbortController();
    const names: string[] = [];
    const stream = view.streamCustomersByCity({ city: "Shelbyville" }, { signal: open.signal })[Symbol.asyncIterator]();
    names.push((await stream.next()).value.name);
    assert.deepEqual(names, ["Cat Moss"]);
    open.abort();
    await assert.rejects(stream.next(), (error: ConnectError) => error.code === Code.Canceled);
  });

  it("follows renames, moves and deletions", async () => {
    await customers.changeName({ customerId: "c2", newName: "Bo Stone" });
    await customers.changeAddress({ customerId: "c5", newAddress: { street: "2 Elm St", city: "Shelbyville" } });
    await customers.delete({ customerId: "c4" });
    await eventually(async () => {
      const names = (await view.getCustomersByCity({ city: "Springfield" })).customers.map((c) => c.name);
      return JSON.stringify(names) === JSON.stringify(["Ann Lee", "Bo Stone"]);
    });
    assert.equal((await view.getCustomerByEmail({ email: "c5@example.com" })).address?.city, "Shelbyville");
    await assert.rejects(view.getCustomerByEmail({ email: "c4@example.com" }), (error: ConnectError) => error.code === Code.NotFound);
  });

  it("does not let an update method be called", async () => {
    await assert.rejects(view.onCustomerChanged({ customerId: "x" }), (error: ConnectError) => error.code === Code.Unimplemented);
  });
});
