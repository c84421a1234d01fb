// The customer-orders view end to end on both databases: two tables of one
// view, joined, with a customer's orders nested by collect().
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { customer } from "../src/customer.js";
import { customerOrdersView, order } from "../src/orders.js";
import { CustomerService } from "../src/gen/customer/registry/v1/customer_pb.js";
import { CustomerOrdersView, OrderService } from "../src/gen/customer/registry/v1/orders_pb.js";
import { freshStorageOn } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`the customer-orders view, a JOIN with collect() (${dialect})`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService;
    let customers: Client<typeof CustomerService>;
    let orders: Client<typeof OrderService>;
    let view: Client<typeof CustomerOrdersView>;

    /** Views are updated just after the write commits: poll briefly. */
    async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
      for (let i = 0; ; i++) {
        const value = await read();
        if (done(value)) return value;
        if (i > 250) assert.fail(`the view did not catch up within 5 s: ${JSON.stringify(value)}`);
        await sleep(20);
      }
    }

    before(async () => {
      storage = await freshStorageOn(dialect);
      service = createService({
        components: [customer, order, customerOrdersView], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
        databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
      });
      const { url } = await service.start();
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      customers = createClient(CustomerService, transport);
      orders = createClient(OrderService, transport);
      view = createClient(CustomerOrdersView, transport);
      for (const [customerId, name] of [["k1", "Kim Bay"], ["k2", "Lou Fern"], ["k3", "Al Moor"]] as const) {
        await customers.create({ customerId, email: `${customerId}@example.com`, name, address: { street: "1 Main St", city: "Springfield" } });
      }
      await orders.placeOrder({ orderId: "o-2", customerId: "k1", item: "ink", quantity: 2 });
      await orders.placeOrder({ orderId: "o-1", customerId: "k1", item: "pen", quantity: 1 });
      await orders.placeOrder({ orderId: "o-3", customerId: "k3", item: "pen", quantity: 5 });
    });
    after(async () => {
      await service?.stop();
      await storage?.cleanup();
    });

    it("nests a customer's orders in order id order, and gives a customer without orders an empty list", async () => {
      const kim = await eventually(() => view.getCustomerWithOrders({ customerId: "k1" }), (c) => c.orders.length === 2);
      assert.equal(kim.name, "Kim Bay");
      assert.deepEqual(kim.orders.map((o) => [o.orderId, o.item, o.quantity]), [["o-1", "pen", 1], ["o-2", "ink", 2]]);
      const lou = await view.getCustomerWithOrders({ customerId: "k2" });
      assert.equal(lou.name, "Lou Fern");
      assert.deepEqual(lou.orders, []);
      await assert.rejects(view.getCustomerWithOrders({ customerId: "nobody" }), (error: ConnectError) => error.code === Code.NotFound);
    });

    it("filters on the joined table and returns each customer once", async () => {
      const byPen = await eventually(() => view.getCustomersByItem({ item: "pen" }), (p) => p.customers.length === 2);
      assert.deepEqual(byPen.customers.map((c) => c.name), ["Al Moor", "Kim Bay"]);
      await orders.placeOrder({ orderId: "o-4", customerId: "k1", item: "pen", quantity: 3 });
      await eventually(() => view.getCustomerWithOrders({ customerId: "k1" }), (c) => c.orders.length === 3);
      assert.deepEqual((await view.getCustomersByItem({ item: "pen" })).customers.map((c) => c.name), ["Al Moor", "Kim Bay"], "a second pen order does not repeat Kim");
      assert.deepEqual((await view.getCustomersByItem({ item: "stamp" })).customers, []);
    });

    it("follows both tables: a rename shows with the orders, a deleted customer is gone", async () => {
      await customers.changeName({ customerId: "k3", newName: "Al Moore" });
      const al = await eventually(() => view.getCustomerWithOrders({ customerId: "k3" }), (c) => c.name === "Al Moore");
      assert.deepEqual(al.orders.map((o) => o.orderId), ["o-3"]);
      await customers.delete({ customerId: "k2" });
      await eventually(() => view.getCustomerWithOrders({ customerId: "k2" }).then(() => "there", (e: ConnectError) => (e.code === Code.NotFound ? "gone" : String(e))), (s) => s === "gone");
    });

    it("rejects bad orders before they reach the view", async () => {
      await assert.rejects(orders.placeOrder({ orderId: "o-9", customerId: "k1", item: "pen", quantity: 0 }), (error: ConnectError) => error.code === Code.InvalidArgument);
      await assert.rejects(orders.placeOrder({ orderId: "o-1", customerId: "k1", item: "pen", quantity: 1 }), (error: ConnectError) => error.code === Code.AlreadyExists);
    });
  });
}
