// Unit tests of the counter's behaviour with the test kit: no server, no database.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@orrery/sdk";
import { EventSourcedTestKit } from "@orrery/sdk/testkit";
import { counter } from "../src/counter.js";

describe("Counter", () => {
  it("starts at zero", async () => {
    const { reply, events } = await EventSourcedTestKit.of(counter, { entityId: "c1" }).call("getCounter", { counterId: "c1" });
    assert.equal(reply?.value, 0n);
    assert.equal(events.length, 0);
  });

  it("adds up its increases, one Increased event each", async () => {
    const kit = EventSourcedTestKit.of(counter, { entityId: "c1" });
    await kit.call("increase", { counterId: "c1", by: 2 });
    const { reply, events } = await kit.call("increase", { counterId: "c1", by: 3 });
    assert.equal(reply?.value, 5n);
    assert.deepEqual(events.map((e) => e.$typeName), ["counter.v1.Increased"]);
  });

  it("rejects an increase below 1 with INVALID_ARGUMENT and persists nothing", async () => {
    const { error, events } = await EventSourcedTestKit.of(counter, { entityId: "c1" }).call("increase", { counterId: "c1", by: 0 });
    assert.equal(error?.code, Code.InvalidArgument);
    assert.equal(events.length, 0);
  });

  it("resets to zero, and refuses to reset a counter that is zero", async () => {
    const kit = EventSourcedTestKit.of(counter, { entityId: "c1" });
    await kit.call("increase", { counterId: "c1", by: 4 });
    assert.equal((await kit.call("reset", { counterId: "c1" })).reply?.value, 0n);
    assert.equal((await kit.call("reset", { counterId: "c1" })).error?.code, Code.FailedPrecondition);
  });
});
