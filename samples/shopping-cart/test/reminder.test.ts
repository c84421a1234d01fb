// Durable timers in one service, on both databases: the cart reminders'
// timers fire soon after they are due, a cancelled one never fires, a
// reschedule replaces, a failing call is retried with backoff, and a command
// that does not commit leaves no timer behind.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { Code } from "@orrery/sdk";
import { KeyValueTestKit } from "@orrery/sdk/testkit";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { CartReminder } from "../src/gen/shop/cart/v1/reminder_orrery.js";
import { CartReminderService } from "../src/gen/shop/cart/v1/reminder_pb.js";
import type { Reminder } from "../src/gen/shop/cart/v1/reminder_pb.js";
import { cartReminder, reminderTimer } from "../src/reminder.js";
import { startTcpProxy } from "../../../runtime/test/support/tcp-proxy.js";
import { freshStorageOn } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

/** A reminder that schedules its timer and then rejects the command, or throws: neither commits. */
const failingReminder = CartReminder.implement({
  remind(_state, cmd, ctx) {
    ctx.timers.schedule(reminderTimer(cmd.cartId), { delayMs: 0 }, CartReminderService.method.fire, { cartId: cmd.cartId });
    if (cmd.delayMs === 1n) throw new Error("the handler broke after scheduling");
    return ctx.error(Code.FailedPrecondition, "rejected after scheduling");
  },
  fire: (state, _cmd, ctx) => ctx.updateState({ ...state, fired: state.fired + 1 }).thenReply((s) => s),
  cancel: (state, _cmd, ctx) => ctx.reply(state),
  getReminder: (state, _cmd, ctx) => ctx.reply(state),
});

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`durable timers on ${dialect}`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService;
    let reminders: Client<typeof CartReminderService>;
    let carts: Client<typeof ShoppingCartService>;
    const logged: Array<Record<string, unknown>> = [];

    before(async () => {
      storage = await freshStorageOn(dialect);
      const logger = pino({ level: "warn" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
      service = createService({
        components: [cart, cartReminder], port: 0, host: "127.0.0.1", logger, handleSignals: false,
        databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
      });
      const { url } = await service.start();
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      reminders = createClient(CartReminderService, transport);
      carts = createClient(ShoppingCartService, transport);
    });

    after(async () => {
      await service?.stop();
      await storage?.cleanup();
    });

    /** Polls the reminder until it fired, or `ms` passed. */
    async function firedWithin(cartId: string, ms: number): Promise<Reminder> {
      const until = Date.now() + ms;
      for (;;) {
        const reminder = await reminders.getReminder({ cartId });
        if (reminder.fired > 0 || Date.now() > until) return reminder;
        await sleep(5);
      }
    }

    it("fires a timer scheduled by a command handler soon after it is due on an idle node", async () => {
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { dueAtMs } = await reminders.remind({ cartId: `idle-${i}`, delayMs: 300n });
        const fired = await firedWithin(`idle-${i}`, 5_000);
        assert.equal(fired.fired, 1, "the reminder fired once");
        assert.ok(fired.dueAtMs >= dueAtMs, "the timer counts from the commit of Remind");
        delays.push(Number(fired.firedAtMs - fired.dueAtMs)); // the timer's own due time, from its call's orrery-timer-due header
      }
      console.log(`      ${dialect}: fire time - due time on an idle node: ${delays.join(", ")} ms`);
      for (const delay of delays) {
        assert.ok(delay >= 0, `fired ${-delay} ms early`);
        assert.ok(delay < 1_000, `fired ${delay} ms after it was due`);
      }
    });

    it("never fires a cancelled timer", async () => {
      await reminders.remind({ cartId: "cancelled", delayMs: 300n });
      await reminders.cancel({ cartId: "cancelled" });
      await sleep(900);
      const reminder = await reminders.getReminder({ cartId: "cancelled" });
      assert.equal(reminder.fired, 0);
      assert.equal(reminder.cancelled, true);
    });

    it("replaces a timer rescheduled under the same name", async () => {
      await reminders.remind({ cartId: "moved", delayMs: 200n });
      const { dueAtMs } = await reminders.remind({ cartId: "moved", delayMs: 700n });
      const fired = await firedWithin("moved", 5_000);
      assert.ok(fired.firedAtMs >= dueAtMs, "it fired at the second due time, not the first");
      await sleep(400);
      assert.equal((await reminders.getReminder({ cartId: "moved" })).fired, 1, "the first timer is gone");
    });

    it("retries a failing call with backoff, logging it, until it succeeds", async () => {
      // Checking out an empty cart fails (FAILED_PRECONDITION) until an item is in it.
      await service.timers.schedule("checkout-later", { delayMs: 0 }, ShoppingCartService.method.checkout, { cartId: "retried" });
      const failures = () => logged.filter((line) => line["timer"] === "checkout-later");
      for (let i = 0; failures().length < 3; i++) {
        if (i > 300) assert.fail(`fewer than 3 attempts in 3 s: ${JSON.stringify(failures())}`);
        await sleep(10);
      }
      await carts.addItem({ cartId: "retried", productId: "pen", name: "Pen", quantity: 1 });
      for (let i = 0; !(await carts.getCart({ cartId: "retried" })).checkedOut; i++) {
        if (i > 300) assert.fail("the timer's call did not succeed after the cart was filled");
        await sleep(20);
      }
      const [first, second, third] = failures();
      assert.deepEqual([first!["attempt"], second!["attempt"], third!["attempt"]], [1, 2, 3]);
      assert.equal(first!["service"], "shop.cart.v1.ShoppingCartService");
      assert.equal(first!["method"], "Checkout");
      assert.match(String(first!["msg"]), /timer "checkout-later": calling shop\.cart\.v1\.ShoppingCartService\/Checkout failed \(attempt 1\): .*retrying in 100 ms/);
      assert.match(String(second!["msg"]), /retrying in 200 ms/);
      const gap = Number(third!["time"]) - Number(second!["time"]);
      assert.ok(gap >= 180, `the third attempt came ${gap} ms after the second, before its 200 ms backoff`);
    });
  });

  describe(`timers of a command that does not commit, on ${dialect}`, function () {
    this.timeout(60_000);

    it("leaves no timer behind when it is rejected or its handler throws", async () => {
      const storage = await freshStorageOn(dialect);
      const service = createService({
        components: [failingReminder], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
        databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
      });
      try {
        const { url } = await service.start();
        const reminders = createClient(CartReminderService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
        await assert.rejects(reminders.remind({ cartId: "rejected", delayMs: 0n }), { code: Code.FailedPrecondition });
        await assert.rejects(reminders.remind({ cartId: "thrown", delayMs: 1n }), { code: Code.Internal });
        await sleep(600);
        assert.equal((await reminders.getReminder({ cartId: "rejected" })).fired, 0);
        assert.equal((await reminders.getReminder({ cartId: "thrown" })).fired, 0);
        await assert.rejects(
          service.timers.schedule("elsewhere", { delayMs: 10 }, ShoppingCartService.method.checkout, { cartId: "x" }),
          /timer "elsewhere" targets shop\.cart\.v1\.ShoppingCartService\/Checkout, which this service does not serve/,
        );
      } finally {
        await service.stop();
        await storage.cleanup();
      }
    });
  });
}

describe("the cart reminder in the test kit", () => {
  it("schedules its timer on the kit's clock, and a cancel removes it", async () => {
    const kit = KeyValueTestKit.of(cartReminder, { entityId: "c1" });
    await kit.call("remind", { cartId: "c1", delayMs: 60_000n });
    assert.deepEqual(kit.timers.scheduled.map((t) => [t.name, t.dueAt.getTime(), t.method.name]), [["cart-reminder-c1", 60_000, "Fire"]]);
    assert.deepEqual(kit.timers.advance(59_999), []);
    await kit.call("remind", { cartId: "c1", delayMs: 10n });
    await kit.call("cancel", { cartId: "c1" });
    assert.deepEqual(kit.timers.advance(60_000), []);
    await kit.call("remind", { cartId: "c1", delayMs: -1n }); // rejected: no timer
    assert.equal(kit.timers.scheduled.length, 0);
  });
});

describe("a timer due while PostgreSQL is unreachable", function () {
  this.timeout(60_000);

  it("fires once the database is back", async () => {
    const storage = await freshStorageOn("PostgreSQL");
    const target = new URL(storage.databaseUrl!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const service = createService({
      components: [cartReminder], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: Object.assign(new URL(target), { hostname: "127.0.0.1", port: String(proxy.port) }).toString(), dataDir: storage.dataDir,
    });
    try {
      const { url } = await service.start();
      const reminders = createClient(CartReminderService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
      await reminders.remind({ cartId: "outage", delayMs: 300n });
      proxy.cut();
      await sleep(2_500);
      proxy.restore();
      const back = Date.now();
      for (let i = 0; ; i++) {
        const reminder = await reminders.getReminder({ cartId: "outage" }).catch(() => undefined);
        if (reminder !== undefined && reminder.fired > 0) {
          console.log(`      fired ${Number(reminder.firedAtMs) - back} ms after the database was back (due ${back - Number(reminder.dueAtMs)} ms before that)`);
          assert.ok(reminder.firedAtMs >= BigInt(back) - 100n, "it did not fire during the outage");
          break;
        }
        if (i > 500) assert.fail("the timer did not fire within 10 s of the database's return");
        await sleep(20);
      }
    } finally {
      await service.stop();
      await proxy.close();
      await storage.cleanup();
    }
  });
});
