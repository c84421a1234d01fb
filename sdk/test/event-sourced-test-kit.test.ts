import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HandlerFailure } from "../src/index.js";
import { EventSourcedTestKit } from "../src/testkit/index.js";
import { AddedSchema, Counter, counterHandlers, field, ResetSchema } from "./fixtures.js";

describe("EventSourcedTestKit", () => {
  it("persists events, applies them and replies from the new state", async () => {
    const kit = EventSourcedTestKit.of(Counter.implement(counterHandlers), { entityId: "c1" });
    const first = await kit.call("add", { counterId: "c1", amount: 2 } as never);
    const second = await kit.call("add", { counterId: "c1", amount: 3 } as never);
    assert.equal(first.events.length, 1);
    assert.equal(field(first.reply!, "value"), 2);
    assert.equal(field(second.reply!, "value"), 5);
    assert.equal(field(kit.state, "value"), 5);
    assert.deepEqual(kit.events.map((e) => field(e, "amount")), [2, 3]);
    assert.equal(field(kit.replay(), "value"), 5);
  });

  it("detaches the reply from the state that later commands change", async () => {
    const kit = EventSourcedTestKit.of(Counter.implement(counterHandlers));
    const first = await kit.call("add", { amount: 1 } as never);
    await kit.call("add", { amount: 10 } as never);
    assert.equal(field(first.reply!, "value"), 1);
  });

  it("returns a rejection as an error and changes nothing", async () => {
    const kit = EventSourcedTestKit.of(Counter.implement(counterHandlers));
    const result = await kit.call("add", { amount: 0 } as never);
    assert.deepEqual(result.error, { code: Code.InvalidArgument, message: "amount must not be 0" });
    assert.equal(result.reply, undefined);
    assert.equal(kit.events.length, 0);
  });

  it("resets the state to the initial state when a command deletes the entity", async () => {
    const kit = EventSourcedTestKit.of(
      Counter.implement({
        ...counterHandlers,
        add: (_s, c, ctx) => (field(c, "amount") === -1 ? ctx.persist(create(ResetSchema)).deleteEntity().thenReply((s) => s) : counterHandlers.add(_s, c, ctx)),
      }),
    );
    await kit.call("add", { amount: 4 } as never);
    const result = await kit.call("add", { amount: -1 } as never);
    assert.equal(kit.deleted, true);
    assert.equal(field(result.reply!, "value"), 0);
    assert.equal(field(kit.state, "value"), 0);
  });

  it("fails with the event's type name when a handler persists an undeclared event", async () => {
    const kit = EventSourcedTestKit.of(
      Counter.implement({ ...counterHandlers, add: (_s, c, ctx) => ctx.persist(c).thenReply((s) => s) }),
    );
    await assert.rejects(kit.call("add", { amount: 1 } as never), (err: unknown) => {
      assert.ok(err instanceof HandlerFailure);
      assert.equal(err.phase, "event");
      assert.match(err.message, /persisted test\.AddRequest, which is not an event of "counter" \(declared: test\.Added, test\.Reset\)/);
      return true;
    });
  });

  it("fails when a handler replies with the wrong message type", async () => {
    const kit = EventSourcedTestKit.of(
      Counter.implement({ ...counterHandlers, get: (_s, _c, ctx) => ctx.reply(create(AddedSchema)) }),
    );
    await assert.rejects(kit.call("get", {} as never), /replied with test\.Added; it must reply with test\.Counter/);
  });

  it("reports a handler that throws as a HandlerFailure keeping the cause", async () => {
    const boom = new TypeError("boom");
    const kit = EventSourcedTestKit.of(Counter.implement({ ...counterHandlers, get: () => { throw boom; } }));
    await assert.rejects(kit.call("get", {} as never), (err: unknown) => {
      assert.ok(err instanceof HandlerFailure);
      assert.equal(err.phase, "handler");
      assert.equal(err.cause, boom);
      return true;
    });
  });

  it("fails a read_only method that persists events, keeping the state", async () => {
    const kit = EventSourcedTestKit.of(
      Counter.implement({ ...counterHandlers, get: (_s, _c, ctx) => ctx.persist(create(AddedSchema, { amount: 1 } as never)).thenReply((s) => s) }),
    );
    await assert.rejects(kit.call("get", {} as never), (err: unknown) => {
      assert.ok(err instanceof HandlerFailure);
      assert.match(err.message, /the Get handler persisted 1 event, but Get is read_only/);
      return true;
    });
    assert.equal(kit.events.length, 0);
  });

  it("refuses handlers that miss a method", () => {
    const { get: _omitted, ...partial } = counterHandlers;
    assert.throws(() => Counter.implement(partial as never), /have no function "get"/);
  });
});
