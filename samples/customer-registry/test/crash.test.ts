// SIGKILL the server while clients rename customers; after a restart every
// customer holds its last acknowledged name, or the one write that was in
// flight when the process died: nothing acknowledged is lost and nothing
// unsent appears; the next write continues from the stored revision.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CustomerService } from "../src/gen/customer/registry/v1/customer_pb.js";
import { startServerProcess } from "./support/server-process.js";
import { freshStorageOn } from "./support/storage.js";

const CUSTOMERS = 24;

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`a customer registry killed with SIGKILL mid-load, on ${dialect}`, function () {
    this.timeout(120_000);

    it("keeps every acknowledged write, and at most the one in flight after it", async () => {
      const storage = await freshStorageOn(dialect);
      const env = { DATABASE_URL: storage.databaseUrl ?? "", ORRERY_DATA_DIR: storage.dataDir };
      try {
        const first = await startServerProcess(env);
        const client = createClient(CustomerService, createConnectTransport({ baseUrl: first.url, httpVersion: "2" }));
        const ids = Array.from({ length: CUSTOMERS }, (_, i) => `crash-${i}`);
        await Promise.all(ids.map((customerId) => client.create({ customerId, email: `${customerId}@example.com`, name: "n0" })));
        // One writer per customer, so each customer's writes are ordered: n1, n2, ...
        const acked = new Map(ids.map((id) => [id, 0]));
        let stop = false;
        const workers = ids.map(async (customerId) => {
          for (let n = 1; !stop; n++) {
            try {
              await client.changeName({ customerId, newName: `n${n}` });
              acked.set(customerId, n);
            } catch {
              return; // the server is gone
            }
          }
        });
        while ([...acked.values()].reduce((a, n) => a + n, 0) < 400) await new Promise((r) => setTimeout(r, 20));
        first.child.kill("SIGKILL");
        assert.equal(await first.exited, "SIGKILL");
        stop = true;
        await Promise.all(workers);

        const second = await startServerProcess(env);
        const after = createClient(CustomerService, createConnectTransport({ baseUrl: second.url, httpVersion: "2" }));
        for (const customerId of ids) {
          const { name } = await after.getCustomer({ customerId });
          const n = Number(name.slice(1));
          const last = acked.get(customerId)!;
          assert.ok(n === last || n === last + 1, `${customerId}: stored ${name}, last acknowledged n${last}`);
          // The next write continues from the stored revision, on the same entity.
          assert.equal((await after.changeName({ customerId, newName: "after" })).name, "after");
        }
        second.child.kill("SIGTERM");
        assert.equal(await second.exited, 0, `graceful shutdown failed:\n${second.output()}`);
      } finally {
        await storage.cleanup();
      }
    });
  });
}
