import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HandlerFailure } from "../src/index.js";
import { KeyValueTestKit } from "../src/testkit/index.js";
import { AddedSchema, CounterSchema, field, KvCounter, kvCounterHandlers } from "./fixtures.js";

describe("KeyValueTestKit", () => {
  it("stores the new state, counts revisions and replies from the new state", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement(kvCounterHandlers), { entityId: "k1" });
    const first = await kit.call("add", { counterId: "k1", amount: 2 } as never);
    const second = await kit.call("add", { counterId: "k1", amount: 3 } as never);
    assert.equal(field(first.reply!, "value"), 2);
    assert.equal(field(second.reply!, "value"), 5);
    assert.equal(first.stateWritten, true);
    assert.equal(kit.revision, 2);
    assert.equal(field(kit.state, "value"), 5);
  });

  it("writes nothing for a plain reply and nothing for a rejection", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement(kvCounterHandlers));
    await kit.call("add", { amount: 4 } as never);
    const read = await kit.call("get", {} as never);
    const rejected = await kit.call("add", { amount: 0 } as never);
    assert.equal(read.stateWritten, false);
    assert.equal(field(read.reply!, "value"), 4);
    assert.deepEqual(rejected.error, { code: Code.InvalidArgument, message: "amount must not be 0" });
    assert.equal(rejected.reply, undefined);
    assert.equal(kit.revision, 1);
  });

  it("detaches the reply from the state that later commands change", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement({
      ...kvCounterHandlers,
      add(state, command, ctx) {
        (state as unknown as { value: number }).value += field(command, "amount") as number;
        return ctx.updateState(state).thenReply((s) => s);
      },
    }));
    const first = await kit.call("add", { amount: 1 } as never);
    await kit.call("add", { amount: 10 } as never);
    assert.equal(field(first.reply!, "value"), 1);
  });

  it("deletes the entity: the next command sees the initial state and the revision goes on", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement(kvCounterHandlers));
    await kit.call("add", { amount: 4 } as never);
    const deleted = await kit.call("add", { amount: -1 } as never);
    assert.equal(kit.deleted, true);
    assert.equal(field(deleted.reply!, "value"), 0);
    const again = await kit.call("add", { amount: 1 } as never);
    assert.equal(field(again.reply!, "value"), 1);
    assert.equal(kit.deleted, false);
    assert.equal(kit.revision, 3);
  });

  it("fails naming both types when a handler stores a message that is not the state", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement({ ...kvCounterHandlers, add: (_s, _c, ctx) => ctx.updateState(create(AddedSchema)).thenReply((s) => s) }));
    await assert.rejects(kit.call("add", { amount: 1 } as never), (err: unknown) => {
      assert.ok(err instanceof HandlerFailure);
      assert.equal(err.phase, "state");
      assert.match(err.message, /stored test\.Added as the state of "kv-counter"; the state is test\.Counter/);
      return true;
    });
  });

  it("refuses a state change from a read_only method", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement({ ...kvCounterHandlers, get: (_s, _c, ctx) => ctx.updateState(create(CounterSchema)).thenReply((s) => s) }));
    await assert.rejects(kit.call("get", {} as never), /the Get handler updated the state, but Get is read_only/);
  });

  it("names the effect builders when a handler returns something else", async () => {
    const kit = KeyValueTestKit.of(KvCounter.implement({ ...kvCounterHandlers, add: () => undefined as never }));
    await assert.rejects(kit.call("add", { amount: 1 } as never), /returned undefined instead of an effect; return ctx\.reply\(\.\.\.\), ctx\.updateState\(\.\.\.\)\.thenReply\(\.\.\.\) or ctx\.error/);
  });

  it("says which function is missing when implement() gets too few handlers", () => {
    assert.throws(() => KvCounter.implement({ add: kvCounterHandlers.add } as never), /have no function "get"; add get\(state, command, ctx\) to the "kv-counter" implementation/);
  });
});

describe("KeyValueTestKit principal", () => {
  it("shows a handler the principal the test gives, and a component's by default", async () => {
    const seen: string[] = [];
    const kit = KeyValueTestKit.of(KvCounter.implement({
      ...kvCounterHandlers,
      get(state, _command, ctx) {
        seen.push(`${ctx.principal.source} ${ctx.principal.subject ?? "-"} ${String(ctx.principal.claims?.["scope"] ?? "-")}`);
        return ctx.reply(state);
      },
    }));
    await kit.call("get", {} as never);
    await kit.call("get", {} as never, { principal: { source: "internet", subject: "alice", claims: { sub: "alice", scope: "read" } } });
    assert.deepEqual(seen, ["component - -", "internet alice read"]);
  });
});
