import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { ComponentClient, TimerTarget } from "../src/index.js";
import { EventSourcedTestKit, KeyValueTestKit, TestTimers } from "../src/testkit/index.js";
import { AddedSchema, AddRequestSchema, Counter, counterHandlers, CounterSchema, CounterService, field, KvCounter, kvCounterHandlers } from "./fixtures.js";

const add = CounterService.methods.find((m) => m.localName === "add") as unknown as TimerTarget<DescMessage>;

/** A counter whose `add` schedules a follow-up `add` of the same amount after `amount` seconds, and whose amount 5 cancels it. */
const timed = Counter.implement({
  ...counterHandlers,
  add(state, command, ctx) {
    const amount = field(command, "amount") as number;
    if (amount === 5) ctx.timers.cancel("again");
    else ctx.timers.schedule("again", { delayMs: amount * 1000 }, add, { counterId: ctx.entityId, amount } as never);
    if (amount === 7) return ctx.error(9, "rejected after scheduling");
    return ctx.persist(create(AddedSchema, { amount } as never)).thenReply((s) => s);
  },
});

describe("TestTimers", () => {
  it("shows the timers of accepted commands and hands over the due ones when the clock advances", async () => {
    const kit = EventSourcedTestKit.of(timed, { entityId: "c1" });
    await kit.call("add", { counterId: "c1", amount: 2 } as never);
    await kit.call("add", { counterId: "c1", amount: 7 } as never); // rejected: its timer change never happens
    assert.deepEqual(kit.timers.scheduled.map((t) => [t.name, t.dueAt.getTime(), field(t.request, "amount")]), [["again", 2000, 2]]);
    assert.deepEqual(kit.timers.advance(1999), []);
    const [due] = kit.timers.advance(1);
    assert.equal(due?.name, "again");
    assert.equal(due?.method.name, "Add");
    assert.equal(kit.timers.scheduled.length, 0);
  });

  it("replaces a timer rescheduled under its name, and forgets a cancelled one", async () => {
    const kit = EventSourcedTestKit.of(timed);
    await kit.call("add", { amount: 3 } as never);
    await kit.call("add", { amount: 1 } as never);
    assert.deepEqual(kit.timers.scheduled.map((t) => t.dueAt.getTime()), [1000]);
    await kit.call("add", { amount: 5 } as never);
    assert.deepEqual(kit.timers.advance(10_000), []);
  });

  it("fires due timers through the component client it was given", async () => {
    const calls: Message[] = [];
    const components: ComponentClient = {
      forService: () => ({ add: (request: Message) => (calls.push(request), Promise.resolve(create(CounterSchema, { value: 1 } as never))) }) as never,
    };
    const timers = new TestTimers({ components, now: new Date("2030-01-01T00:00:00Z") });
    await timers.schedule("direct", { at: new Date("2030-01-01T00:00:02Z") }, add, create(AddRequestSchema, { amount: 4 } as never) as never);
    const kv = KeyValueTestKit.of(KvCounter.implement({
      ...kvCounterHandlers,
      add(state, command, ctx) {
        ctx.timers.schedule("kv", { delayMs: 500 }, add, { amount: 9 } as never);
        return kvCounterHandlers.add(state, command, ctx);
      },
    }), { timers });
    await kv.call("add", { amount: 1 } as never);
    const replies = await timers.fireDue(2000);
    assert.deepEqual(calls.map((c) => field(c, "amount")), [9, 4]);
    assert.equal(replies.length, 2);
  });

  it("rejects a bad schedule naming the timer", async () => {
    const timers = new TestTimers();
    await assert.rejects(timers.schedule("late", { delayMs: -1 }, add, {} as never), /timer "late": delayMs must be a finite number/);
    await assert.rejects(timers.cancel(""), /a timer name must be a non-empty string/);
    const kit = EventSourcedTestKit.of(Counter.implement({ ...counterHandlers, add: (_s, _c, ctx) => (ctx.timers.schedule("x", { delayMs: Number.NaN }, add, {} as never), ctx.reply(_s)) }));
    await assert.rejects(kit.call("add", {} as never), /timer "x": delayMs must be a finite number/);
  });
});
