import assert from "node:assert/strict";
import { Code } from "@orrery/sdk";
import { EventSourcedTestKit } from "@orrery/sdk/testkit";
import { cart } from "../src/cart.js";

function newCart(id = "cart-1") {
  return EventSourcedTestKit.of(cart, { entityId: id });
}

describe("ShoppingCart", () => {
  it("starts as an empty cart carrying its id", async () => {
    const { reply, events } = await newCart("c-9").call("getCart", { cartId: "c-9" });
    assert.equal(reply?.cartId, "c-9");
    assert.deepEqual(reply?.items, []);
    assert.equal(reply?.checkedOut, false);
    assert.equal(events.length, 0);
  });

  it("adds an item with an ItemAdded event", async () => {
    const kit = newCart();
    const { reply, events } = await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 2 });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.$typeName, "shop.cart.v1.ItemAdded");
    assert.deepEqual(reply?.items.map((i) => [i.productId, i.name, i.quantity]), [["p1", "Pen", 2]]);
  });

  it("raises the quantity when a product is added again", async () => {
    const kit = newCart();
    await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 2 });
    const { reply } = await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 3 });
    assert.deepEqual(reply?.items.map((i) => [i.productId, i.quantity]), [["p1", 5]]);
  });

  for (const quantity of [0, -1]) {
    it(`rejects quantity ${quantity} with INVALID_ARGUMENT and persists nothing`, async () => {
      const kit = newCart();
      const { error, events } = await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity });
      assert.equal(error?.code, Code.InvalidArgument);
      assert.match(error?.message ?? "", /quantity must be at least 1/);
      assert.equal(events.length, 0);
      assert.equal(kit.events.length, 0);
    });
  }

  it("removes an item with an ItemRemoved event", async () => {
    const kit = newCart();
    await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 1 });
    await kit.call("addItem", { cartId: "cart-1", productId: "p2", name: "Ink", quantity: 1 });
    const { reply, events } = await kit.call("removeItem", { cartId: "cart-1", productId: "p1" });
    assert.equal(events[0]?.$typeName, "shop.cart.v1.ItemRemoved");
    assert.deepEqual(reply?.items.map((i) => i.productId), ["p2"]);
  });

  it("answers NOT_FOUND when removing a product that is not in the cart", async () => {
    const { error } = await newCart().call("removeItem", { cartId: "cart-1", productId: "nope" });
    assert.equal(error?.code, Code.NotFound);
  });

  it("checks out a cart with items", async () => {
    const kit = newCart();
    await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 1 });
    const { reply, events } = await kit.call("checkout", { cartId: "cart-1" });
    assert.equal(events[0]?.$typeName, "shop.cart.v1.CheckedOut");
    assert.equal(reply?.checkedOut, true);
  });

  it("refuses to check out an empty cart", async () => {
    const { error } = await newCart().call("checkout", { cartId: "cart-1" });
    assert.equal(error?.code, Code.FailedPrecondition);
    assert.match(error?.message ?? "", /empty/);
  });

  it("refuses a second checkout and any change after checkout", async () => {
    const kit = newCart();
    await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 1 });
    await kit.call("checkout", { cartId: "cart-1" });
    assert.equal((await kit.call("checkout", { cartId: "cart-1" })).error?.code, Code.FailedPrecondition);
    assert.equal((await kit.call("addItem", { cartId: "cart-1", productId: "p2", name: "Ink", quantity: 1 })).error?.code, Code.FailedPrecondition);
    assert.equal((await kit.call("removeItem", { cartId: "cart-1", productId: "p1" })).error?.code, Code.FailedPrecondition);
    assert.equal(kit.events.length, 2);
  });

  it("rebuilds the same cart from its events", async () => {
    const kit = newCart();
    await kit.call("addItem", { cartId: "cart-1", productId: "p1", name: "Pen", quantity: 1 });
    await kit.call("addItem", { cartId: "cart-1", productId: "p2", name: "Ink", quantity: 4 });
    await kit.call("removeItem", { cartId: "cart-1", productId: "p1" });
    await kit.call("checkout", { cartId: "cart-1" });
    assert.deepEqual(kit.replay(), kit.state);
  });
});
