import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@orrery/sdk";
import { Customer, CustomersView } from "./gen/customer/registry/v1/customer_orrery.js";
import type { CustomerHandlers } from "./gen/customer/registry/v1/customer_orrery.js";
import { AddressSchema, CustomerSchema } from "./gen/customer/registry/v1/customer_pb.js";
import type { Customer as CustomerState } from "./gen/customer/registry/v1/customer_pb.js";

/** The longest name or street accepted. */
export const MAX_TEXT = 200;

// A plausible address, not RFC 5322: one "@", something on each side, a dot in the domain, no spaces.
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** A customer exists once created and until deleted; its stored id is then set. */
const exists = (customer: CustomerState) => customer.customerId !== "";

/** The customer registry's handlers: each command reads the customer in memory and stores the whole new state. */
export const customerHandlers: CustomerHandlers = {
  create(customer, cmd, ctx) {
    if (exists(customer)) return ctx.error(Code.AlreadyExists, `customer ${JSON.stringify(cmd.customerId)} already exists`);
    if (!emailPattern.test(cmd.email)) return ctx.error(Code.InvalidArgument, `email ${JSON.stringify(cmd.email)} is not an email address`);
    const problem = textProblem("name", cmd.name);
    if (problem) return ctx.error(Code.InvalidArgument, problem);
    const created = create(CustomerSchema, {
      customerId: cmd.customerId,
      email: cmd.email,
      name: cmd.name,
      address: cmd.address ?? create(AddressSchema),
    });
    return ctx.updateState(created).thenReply((c) => c);
  },

  changeName(customer, cmd, ctx) {
    if (!exists(customer)) return ctx.error(Code.NotFound, `customer ${JSON.stringify(cmd.customerId)} does not exist`);
    const problem = textProblem("new_name", cmd.newName);
    if (problem) return ctx.error(Code.InvalidArgument, problem);
    return ctx.updateState({ ...customer, name: cmd.newName }).thenReply((c) => c);
  },

  changeAddress(customer, cmd, ctx) {
    if (!exists(customer)) return ctx.error(Code.NotFound, `customer ${JSON.stringify(cmd.customerId)} does not exist`);
    if (cmd.newAddress === undefined) return ctx.error(Code.InvalidArgument, "new_address is required");
    if ((cmd.newAddress.street.length > MAX_TEXT) || (cmd.newAddress.city.length > MAX_TEXT)) {
      return ctx.error(Code.InvalidArgument, `street and city are at most ${MAX_TEXT} characters`);
    }
    return ctx.updateState({ ...customer, address: cmd.newAddress }).thenReply((c) => c);
  },

  getCustomer(customer, cmd, ctx) {
    if (!exists(customer)) return ctx.error(Code.NotFound, `customer ${JSON.stringify(cmd.customerId)} does not exist`);
    return ctx.reply(customer);
  },

  delete(customer, cmd, ctx) {
    if (!exists(customer)) return ctx.error(Code.NotFound, `customer ${JSON.stringify(cmd.customerId)} does not exist`);
    return ctx.deleteEntity().thenReply(create(EmptySchema));
  },
};

function textProblem(field: string, value: string): string | undefined {
  if (value.trim() === "") return `${field} is required`;
  if (value.length > MAX_TEXT) return `${field} is ${value.length} characters; at most ${MAX_TEXT} are allowed`;
  return undefined;
}

/** The customer registry, ready to serve. */
export const customer = Customer.implement(customerHandlers);

/** The customers view: a row per customer, as it is now. */
export const customersView = CustomersView.implement({
  onCustomerChanged: (_row, customer, ctx) => ctx.updateRow(customer),
});
