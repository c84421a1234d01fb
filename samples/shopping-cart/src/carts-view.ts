import { create } from "@bufbuild/protobuf";
import { cartHandlers } from "./cart.js";
import { CartsView } from "./gen/shop/cart/v1/carts_view_orrery.js";
import { CartSchema } from "./gen/shop/cart/v1/cart_pb.js";

/** The carts view: each cart's row is the cart, folded from its events by the cart's own applyEvent. */
export const cartsView = CartsView.implement({
  onItemAdded: (row, event, ctx) => ctx.updateRow(cartHandlers.applyEvent(row ?? create(CartSchema, { cartId: ctx.entityId }), event)),
  onItemRemoved: (row, event, ctx) => ctx.updateRow(cartHandlers.applyEvent(row ?? create(CartSchema, { cartId: ctx.entityId }), event)),
  onCheckedOut: (row, event, ctx) => ctx.updateRow(cartHandlers.applyEvent(row ?? create(CartSchema, { cartId: ctx.entityId }), event)),
});
