// A durable timer outlives its process: scheduled, then the server is killed
// with SIGKILL before the timer is due, and the restarted server fires it.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CartReminderService } from "../src/gen/shop/cart/v1/reminder_pb.js";
import { startServerProcess } from "./support/server-process.js";
import { freshStorageOn } from "./support/storage.js";

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`a timer scheduled before a SIGKILL, on ${dialect}`, function () {
    this.timeout(120_000);

    it("fires after the restart, once the server is back; one cancelled before the kill never fires", async () => {
      const storage = await freshStorageOn(dialect);
      const env = { DATABASE_URL: storage.databaseUrl ?? "", ORRERY_DATA_DIR: storage.dataDir };
      try {
        const first = await startServerProcess(env);
        const before = createClient(CartReminderService, createConnectTransport({ baseUrl: first.url, httpVersion: "2" }));
        const { dueAtMs } = await before.remind({ cartId: "survivor", delayMs: 1_500n });
        await before.remind({ cartId: "cancelled", delayMs: 1_500n });
        await before.cancel({ cartId: "cancelled" });
        first.child.kill("SIGKILL");
        assert.equal(await first.exited, "SIGKILL");
        assert.ok(Date.now() < Number(dueAtMs), "the server died before the timer was due");

        const second = await startServerProcess(env);
        try {
          const after = createClient(CartReminderService, createConnectTransport({ baseUrl: second.url, httpVersion: "2" }));
          for (let i = 0; (await after.getReminder({ cartId: "survivor" })).fired === 0; i++) {
            if (i > 500) assert.fail(`the timer did not fire within 10 s of the restart:\n${second.output()}`);
            await sleep(20);
          }
          const fired = await after.getReminder({ cartId: "survivor" });
          console.log(`      ${dialect}: fired ${fired.firedAtMs - fired.dueAtMs} ms after its due time (the restart took part of that)`);
          assert.ok(fired.firedAtMs >= dueAtMs);
          await sleep(Math.max(0, Number(dueAtMs) + 500 - Date.now()));
          assert.equal((await after.getReminder({ cartId: "cancelled" })).fired, 0);
        } finally {
          second.child.kill("SIGTERM");
          await second.exited;
        }
      } finally {
        await storage.cleanup();
      }
    });
  });
}
