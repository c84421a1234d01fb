import { create } from "@bufbuild/protobuf";
import { Code } from "@orrery/sdk";
import { ShoppingCart } from "./gen/shop/cart/v1/cart_orrery.js";
import type { ShoppingCartEvent, ShoppingCartHandlers } from "./gen/shop/cart/v1/cart_orrery.js";
import { CartSchema, CheckedOutSchema, ItemAddedSchema, ItemRemovedSchema, LineItemSchema } from "./gen/shop/cart/v1/cart_pb.js";
import type { Cart } from "./gen/shop/cart/v1/cart_pb.js";

/** The largest quantity of one product a cart holds: LineItem.quantity is an int32. */
export const MAX_QUANTITY = 2 ** 31 - 1;

/** The shopping cart's handlers: commands decide, `applyEvent` folds events into the cart. */
export const cartHandlers: ShoppingCartHandlers = {
  initialState: (cartId) => create(CartSchema, { cartId }),

  applyEvent(cart: Cart, event: ShoppingCartEvent): Cart {
    switch (event.$typeName) {
      case "shop.cart.v1.ItemAdded": {
        const line = cart.items.find((i) => i.productId === event.productId);
        if (line) line.quantity += event.quantity;
        else cart.items.push(create(LineItemSchema, { productId: event.productId, name: event.name, quantity: event.quantity }));
        return cart;
      }
      case "shop.cart.v1.ItemRemoved":
        cart.items = cart.items.filter((i) => i.productId !== event.productId);
        return cart;
      case "shop.cart.v1.CheckedOut":
        cart.checkedOut = true;
        return cart;
    }
  },

  addItem(cart, cmd, ctx) {
    if (cart.checkedOut) return ctx.error(Code.FailedPrecondition, "the cart is checked out; start a new cart");
    if (cmd.quantity <= 0) return ctx.error(Code.InvalidArgument, `quantity must be at least 1, got ${cmd.quantity}`);
    if (cmd.productId === "") return ctx.error(Code.InvalidArgument, "product_id is required");
    const inCart = cart.items.find((i) => i.productId === cmd.productId)?.quantity ?? 0;
    if (inCart + cmd.quantity > MAX_QUANTITY) {
      return ctx.error(
        Code.FailedPrecondition,
        `adding ${cmd.quantity} of ${JSON.stringify(cmd.productId)} to the ${inCart} in the cart would exceed the most one line can hold (${MAX_QUANTITY})`,
      );
    }
    const added = create(ItemAddedSchema, { productId: cmd.productId, name: cmd.name, quantity: cmd.quantity });
    return ctx.persist(added).thenReply((c) => c);
  },

  removeItem(cart, cmd, ctx) {
    if (cart.checkedOut) return ctx.error(Code.FailedPrecondition, "the cart is checked out; start a new cart");
    if (!cart.items.some((i) => i.productId === cmd.productId)) {
      return ctx.error(Code.NotFound, `product ${JSON.stringify(cmd.productId)} is not in the cart`);
    }
    return ctx.persist(create(ItemRemovedSchema, { productId: cmd.productId })).thenReply((c) => c);
  },

  getCart(cart, _cmd, ctx) {
    return ctx.reply(cart);
  },

  checkout(cart, _cmd, ctx) {
    if (cart.checkedOut) return ctx.error(Code.FailedPrecondition, "the cart is already checked out");
    if (cart.items.length === 0) return ctx.error(Code.FailedPrecondition, "the cart is empty; add an item before checking out");
    return ctx.persist(create(CheckedOutSchema)).thenReply((c) => c);
  },
};

/** The shopping cart entity, ready to serve. */
export const cart = ShoppingCart.implement(cartHandlers);
