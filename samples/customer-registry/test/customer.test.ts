// The customer registry's handlers in the test kit: no server, no database.
import assert from "node:assert/strict";
import { Code } from "@orrery/sdk";
import { KeyValueTestKit } from "@orrery/sdk/testkit";
import { customer, MAX_TEXT } from "../src/customer.js";

const address = { street: "1 Main St", city: "Springfield" };

describe("customer registry handlers", () => {
  it("creates a customer and reads it back", async () => {
    const kit = KeyValueTestKit.of(customer, { entityId: "c1" });
    const { reply, stateWritten } = await kit.call("create", { customerId: "c1", email: "ann@example.com", name: "Ann", address });
    assert.equal(stateWritten, true);
    assert.equal(reply?.name, "Ann");
    assert.deepEqual(kit.state.address?.city, "Springfield");
    const read = await kit.call("getCustomer", { customerId: "c1" });
    assert.equal(read.stateWritten, false);
    assert.equal(read.reply?.email, "ann@example.com");
  });

  it("refuses a second create with ALREADY_EXISTS and keeps the first", async () => {
    const kit = KeyValueTestKit.of(customer, { entityId: "c1" });
    await kit.call("create", { customerId: "c1", email: "ann@example.com", name: "Ann" });
    const again = await kit.call("create", { customerId: "c1", email: "bob@example.com", name: "Bob" });
    assert.equal(again.error?.code, Code.AlreadyExists);
    assert.equal(kit.state.name, "Ann");
    assert.equal(kit.revision, 1);
  });

  it("renames and moves a customer, each a new revision", async () => {
    const kit = KeyValueTestKit.of(customer, { entityId: "c1" });
    await kit.call("create", { customerId: "c1", email: "ann@example.com", name: "Ann" });
    await kit.call("changeName", { customerId: "c1", newName: "Annie" });
    const moved = await kit.call("changeAddress", { customerId: "c1", newAddress: { street: "2 Elm St", city: "Shelbyville" } });
    assert.equal(moved.reply?.name, "Annie");
    assert.equal(moved.reply?.address?.city, "Shelbyville");
    assert.equal(kit.revision, 3);
  });

  it("answers NOT_FOUND for every command on an unknown or deleted customer", async () => {
    const kit = KeyValueTestKit.of(customer, { entityId: "c1" });
    for (const [method, command] of [
      ["getCustomer", { customerId: "c1" }], ["changeName", { customerId: "c1", newName: "X" }],
      ["changeAddress", { customerId: "c1", newAddress: address }], ["delete", { customerId: "c1" }],
    ] as const) {
      assert.equal((await kit.call(method, command as never)).error?.code, Code.NotFound, method);
    }
    await kit.call("create", { customerId: "c1", email: "ann@example.com", name: "Ann" });
    await kit.call("delete", { customerId: "c1" });
    assert.equal(kit.deleted, true);
    assert.equal((await kit.call("getCustomer", { customerId: "c1" })).error?.code, Code.NotFound);
    // The id is free again after a deletion.
    assert.equal((await kit.call("create", { customerId: "c1", email: "new@example.com", name: "New" })).reply?.name, "New");
  });

  it("rejects bad input with INVALID_ARGUMENT and writes nothing", async () => {
    const kit = KeyValueTestKit.of(customer, { entityId: "c1" });
    for (const command of [
      { customerId: "c1", email: "not-an-email", name: "Ann" },
      { customerId: "c1", email: "ann@example.com", name: "  " },
      { customerId: "c1", email: "ann@example.com", name: "x".repeat(MAX_TEXT + 1) },
    ]) {
      const result = await kit.call("create", command);
      assert.equal(result.error?.code, Code.InvalidArgument, JSON.stringify(command).slice(0, 80));
    }
    assert.equal(kit.revision, 0);
    await kit.call("create", { customerId: "c1", email: "ann@example.com", name: "Ann" });
    assert.equal((await kit.call("changeAddress", { customerId: "c1" })).error?.message, "new_address is required");
  });
});
