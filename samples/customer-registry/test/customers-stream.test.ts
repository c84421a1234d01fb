// StreamCustomersByCity with stream_updates, end to end over HTTP/2 on both
// databases: the city's customers now, then every change made after the
// stream opened (joins, renames, moves away, deletions as markers), nothing
// for customers elsewhere, and an UNAVAILABLE end when the server stops.
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import pg from "pg";
import { pino } from "pino";
import { customer, customersView } from "../src/customer.js";
import { CustomerService, CustomersView } from "../src/gen/customer/registry/v1/customer_pb.js";
import type { Customer } from "../src/gen/customer/registry/v1/customer_pb.js";
import { freshStorageOn } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

/** What a streamed customer says, in short: `id name (city)`, or `id gone` for a deletion marker. */
function describe_(c: Customer): string {
  return c.email === "" && c.name === "" && c.address === undefined ? `${c.customerId} gone` : `${c.customerId} ${c.name} (${c.address?.city ?? "-"})`;
}

/** Reads a stream into a queue, so a test can wait for the next message with a deadline. */
function reader(stream: AsyncIterable<Customer>) {
  const received: string[] = [];
  let failure: unknown;
  let waiter: (() => void) | undefined;
  void (async () => {
    try {
      for await (const c of stream) {
        received.push(describe_(c));
        waiter?.();
      }
    } catch (error) {
      failure = error;
      waiter?.();
    }
  })();
  return {
    received,
    get failure() {
      return failure;
    },
    /** Waits until `count` messages arrived (or the stream failed); fails after `ms`. */
    async until(count: number, ms = 5_000): Promise<string[]> {
      const deadline = performance.now() + ms;
      while (received.length < count && failure === undefined) {
        const left = deadline - performance.now();
        if (left <= 0) assert.fail(`only ${received.length} of ${count} messages arrived within ${ms} ms: ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, left).unref();
        });
      }
      return received.slice(0, count);
    },
  };
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`StreamCustomersByCity with stream_updates (${dialect})`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService | undefined;
    let customers: Client<typeof CustomerService>;
    let view: Client<typeof CustomersView>;
    const open = new AbortController();

    before(async () => {
      storage = await freshStorageOn(dialect);
      service = createService({
        components: [customer, customersView], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
        databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
      });
      const { url } = await service.start();
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      customers = createClient(CustomerService, transport);
      view = createClient(CustomersView, transport);
      const add = (customerId: string, name: string, city: string) =>
        customers.create({ customerId, email: `${customerId}@example.com`, name, address: { street: "1 Main St", city } });
      await add("o1", "Ada Ray", "Ogdenville");
      await add("o2", "Ben Ode", "Ogdenville");
      await add("x1", "Xia Far", "Capital City");
      // The stream starts from the view's rows: wait until both are there.
      for (let i = 0; (await view.getCustomersByCity({ city: "Ogdenville" })).customers.length < 2; i++) {
        if (i > 250) assert.fail("the view did not catch up");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    after(async () => {
      open.abort();
      await service?.stop();
      await storage?.cleanup();
    });

    it("sends the current rows, then each change made after it opened, and deletion markers", async () => {
      const stream = reader(view.streamCustomersByCity({ city: "Ogdenville" }, { signal: open.signal }));
      assert.deepEqual(await stream.until(2), ["o1 Ada Ray (Ogdenville)", "o2 Ben Ode (Ogdenville)"]);

      await customers.create({ customerId: "o3", email: "o3@example.com", name: "Cy Lane", address: { street: "3 Oak St", city: "Ogdenville" } });
      assert.deepEqual((await stream.until(3)).slice(2), ["o3 Cy Lane (Ogdenville)"], "a customer who joined the city");

      await customers.changeName({ customerId: "o1", newName: "Ada Rae" });
      assert.deepEqual((await stream.until(4)).slice(3), ["o1 Ada Rae (Ogdenville)"], "a rename");

      // A change elsewhere sends nothing: the next message is the move away, not it.
      await customers.changeName({ customerId: "x1", newName: "Xia Near" });
      await customers.changeAddress({ customerId: "o2", newAddress: { street: "9 Elm St", city: "Shelbyville" } });
      assert.deepEqual((await stream.until(5)).slice(4), ["o2 gone"], "a customer who moved away is a deletion marker");

      await customers.delete({ customerId: "o3" });
      assert.deepEqual((await stream.until(6)).slice(5), ["o3 gone"], "a deletion is a deletion marker");

      // Moving back in is a new row again.
      await customers.changeAddress({ customerId: "o2", newAddress: { street: "2 Oak St", city: "Ogdenville" } });
      assert.deepEqual((await stream.until(7)).slice(6), ["o2 Ben Ode (Ogdenville)"]);
      assert.equal(stream.failure, undefined);
    });

    if (dialect === "PostgreSQL") {
      it("loses no change while its LISTEN connection is down: it compares everything once the connection is back", async () => {
        // No one lives in Shelbyville now: the stream opens empty.
        const stream = reader(view.streamCustomersByCity({ city: "Shelbyville" }, { signal: open.signal }));
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(stream.received, []);
        const admin = new pg.Client({ connectionString: storage.databaseUrl });
        await admin.connect();
        try {
          const { rowCount } = await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'orrery listener'");
          assert.ok((rowCount ?? 0) >= 1, "a listener connection was there to end");
          // Made while the listener reconnects: its notification is gone, the resync finds it.
          await customers.create({ customerId: "s9", email: "s9@example.com", name: "Sid Vale", address: { street: "5 Pine St", city: "Shelbyville" } });
        } finally {
          await admin.end();
        }
        assert.deepEqual(await stream.until(1, 10_000), ["s9 Sid Vale (Shelbyville)"]);
      });
    }

    it("ends open streams with UNAVAILABLE when the service stops, so clients reopen them", async () => {
      const stream = reader(view.streamCustomersByCity({ city: "Capital City" }));
      await stream.until(1);
      const stopped = service!.stop();
      await stream.until(2, 10_000).catch(() => undefined);
      await stopped;
      service = undefined;
      const failure = ConnectError.from(stream.failure);
      assert.equal(failure.code, Code.Unavailable, failure.message);
      assert.match(failure.rawMessage, /CustomersView\.StreamCustomersByCity: the node is shutting down; open the stream again/);
    });
  });
}
