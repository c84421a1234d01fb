import { Code } from "@orrery/sdk";
import { CustomerOrdersView, Order } from "./gen/customer/registry/v1/orders_orrery.js";
import type { OrderHandlers } from "./gen/customer/registry/v1/orders_orrery.js";
import { MAX_TEXT } from "./customer.js";

/** The orders' handlers: an order is placed once and then only read. */
export const orderHandlers: OrderHandlers = {
  placeOrder(order, cmd, ctx) {
    if (order.orderId !== "") return ctx.error(Code.AlreadyExists, `order ${JSON.stringify(cmd.orderId)} already exists`);
    if (cmd.customerId === "") return ctx.error(Code.InvalidArgument, "customer_id is required");
    if (cmd.item.trim() === "" || cmd.item.length > MAX_TEXT) return ctx.error(Code.InvalidArgument, `item is required, at most ${MAX_TEXT} characters`);
    if (cmd.quantity <= 0) return ctx.error(Code.InvalidArgument, `quantity must be at least 1, not ${cmd.quantity}`);
    return ctx.updateState({ ...order, orderId: cmd.orderId, customerId: cmd.customerId, item: cmd.item, quantity: cmd.quantity }).thenReply((o) => o);
  },

  getOrder(order, cmd, ctx) {
    if (order.orderId === "") return ctx.error(Code.NotFound, `order ${JSON.stringify(cmd.orderId)} does not exist`);
    return ctx.reply(order);
  },
};

/** Orders, ready to serve. */
export const order = Order.implement(orderHandlers);

/** Customers joined to their orders: each table keeps its entity's latest state. */
export const customerOrdersView = CustomerOrdersView.implement({
  onCustomer: (_row, customer, ctx) => ctx.updateRow(customer),
  onOrder: (_row, placed, ctx) => ctx.updateRow(placed),
});
