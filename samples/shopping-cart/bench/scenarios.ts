// The measured calls: the no-op ceiling (grpc.health.v1.Health/Check, which
// does no I/O) and the cart's AddItem and GetCart, each at a fixed concurrency
// over a fixed set of carts; AddItem and GetCart also over their REST routes,
// and GetCart with a bearer token that the server verifies on every call.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod } from "@bufbuild/protobuf";
// The runtime's package entry does not export the health messages; its generated code is the one definition.
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
} from "../../../runtime/src/gen/grpc/health/v1/health_pb.js";
import { AddItemRequestSchema, CartSchema, GetCartRequestSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { CartRowRequestSchema, CartsByCheckedOutRequestSchema, CartsPageSchema, CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import {
  GetPopularityRequestSchema,
  ProductPopularitySchema,
  ProductPopularityService,
  RecordAddedRequestSchema,
} from "../src/gen/shop/cart/v1/popularity_pb.js";
import type { BenchIssuer } from "./bench-token.js";
import type { UnaryCall } from "./load-generator.js";

/** One row of the benchmark table. */
export interface Scenario {
  /** Stable name, used in the JSON and by BENCH_SCENARIOS. */
  readonly id: string;
  readonly rpc: "no-op" | "AddItem" | "GetCart" | "RecordAdded" | "GetCartRow" | "GetCartsByCheckedOut";
  /** How the calls go: Connect (binary protobuf) over every BENCH_CLIENTS shape, or REST (JSON) over h1×64 only. */
  readonly protocol: "connect" | "rest";
  /** The table's scenario column. */
  readonly label: string;
  /** Distinct carts (or, for RecordAdded, products: key-value entities) the requests spread over (0 for the no-op). */
  readonly carts: number;
  readonly concurrency: number;
  readonly call: UnaryCall;
  /** Sent once per cart before the warm-up, so every cart is an active entity when timing starts. */
  readonly activate?: UnaryCall;
}

/** Products each cart receives; quantities add up, so a cart stays this small. */
export const PRODUCTS = ["pen", "ink", "paper", "stamp"] as const;

/**
 * The scenarios of one storage, in the order they run. The no-op at c=64 runs
 * first and again last: the ceiling is the better of the two, so a burst of
 * other work on the machine during one of them does not flatter the ratios.
 * `issuer` signs the bearer token of the GetCart-with-JWT row (the server
 * trusts it through `issuer.serverEnv`); without one that row is left out.
 */
export function scenarios(manyCarts: number, issuer?: BenchIssuer): Scenario[] {
  const one = cartIds("bench-single", 1);
  const many = cartIds("bench-cart", manyCarts); // the REST rows use the same carts as the Connect rows
  const noop = noopCall();
  const rows: Array<Omit<Scenario, "protocol"> & { protocol?: Scenario["protocol"] }> = [
    { id: "noop-c1", rpc: "no-op", label: "no-op", carts: 0, concurrency: 1, call: noop },
    { id: "noop-c64", rpc: "no-op", label: "no-op", carts: 0, concurrency: 64, call: noop },
    { id: "additem-1cart-c1", rpc: "AddItem", label: "AddItem", carts: 1, concurrency: 1, call: addItemCall(one), activate: getCartCall(one) },
    { id: "additem-1cart-c64", rpc: "AddItem", label: "AddItem", carts: 1, concurrency: 64, call: addItemCall(one), activate: getCartCall(one) },
    { id: `additem-${manyCarts}carts-c1`, rpc: "AddItem", label: "AddItem", carts: manyCarts, concurrency: 1, call: addItemCall(many), activate: getCartCall(many) },
    { id: `additem-${manyCarts}carts-c64`, rpc: "AddItem", label: "AddItem", carts: manyCarts, concurrency: 64, call: addItemCall(many), activate: getCartCall(many) },
    { id: `getcart-${manyCarts}carts-c64`, rpc: "GetCart", label: "GetCart", carts: manyCarts, concurrency: 64, call: getCartCall(many), activate: getCartCall(many) },
    // GetCart again, each call with a bearer token the server verifies (signature, iss, exp): beside the GetCart row, the cost of a JWT.
    ...(issuer === undefined ? [] : [
      { id: `getcart-jwt-${manyCarts}carts-c64`, rpc: "GetCart" as const, label: `GetCart + JWT ${issuer.algorithm}`, carts: manyCarts, concurrency: 64, call: { ...getCartCall(many), headers: { authorization: `Bearer ${issuer.token("bench-user")}` } }, activate: getCartCall(many) },
    ]),
    // The same two calls over their google.api.http routes, as JSON: POST /carts/{cart_id}/items and GET /carts/{cart_id}.
    { id: `rest-additem-${manyCarts}carts-c64`, rpc: "AddItem", protocol: "rest", label: "REST AddItem", carts: manyCarts, concurrency: 64, call: restAddItemCall(many), activate: getCartCall(many) },
    { id: `rest-getcart-${manyCarts}carts-c64`, rpc: "GetCart", protocol: "rest", label: "REST GetCart", carts: manyCarts, concurrency: 64, call: restGetCartCall(many), activate: getCartCall(many) },
    // A key-value entity (the product popularity) updated over as many keys: its state replaced and written whole each time.
    { id: `kv-update-${manyCarts}keys-c64`, rpc: "RecordAdded", label: "key-value update", carts: manyCarts, concurrency: 64, call: recordAddedCall(manyCarts), activate: getPopularityCall(manyCarts) },
    // The carts view, filled by the AddItem rows before: a query by key, and a filtered, ordered, paged one (10 carts a page).
    { id: `view-bykey-${manyCarts}carts-c64`, rpc: "GetCartRow", label: "view by key", carts: manyCarts, concurrency: 64, call: cartRowCall(many) },
    { id: `view-page-${manyCarts}carts-c64`, rpc: "GetCartsByCheckedOut", label: "view page of 10", carts: manyCarts, concurrency: 64, call: openCartsPageCall() },
    { id: "noop-c64-again", rpc: "no-op", label: "no-op (again)", carts: 0, concurrency: 64, call: noop },
  ];
  return rows.map((row) => ({ ...row, protocol: row.protocol ?? "connect" }));
}

function cartIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function noopCall(): UnaryCall {
  return {
    path: pathOf(Health.method.check),
    bodies: [toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema))],
    check: (reply) => fromBinary(HealthCheckResponseSchema, reply).status === HealthCheckResponse_ServingStatus.SERVING,
  };
}

/** AddItem of quantity 1; body `i` is cart `i / PRODUCTS.length`, product `i % PRODUCTS.length`. */
function addItemCall(carts: readonly string[]): UnaryCall {
  const bodies = carts.flatMap((cartId) =>
    PRODUCTS.map((product) => toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId, productId: product, name: product, quantity: 1 }))),
  );
  return {
    path: pathOf(ShoppingCartService.method.addItem),
    bodies,
    check: (reply, i) => {
      const cart = fromBinary(CartSchema, reply);
      return cart.cartId === carts[Math.floor(i / PRODUCTS.length)] && cart.items.length > 0;
    },
  };
}

function getCartCall(carts: readonly string[]): UnaryCall {
  return {
    path: pathOf(ShoppingCartService.method.getCart),
    bodies: carts.map((cartId) => toBinary(GetCartRequestSchema, create(GetCartRequestSchema, { cartId }))),
    check: (reply, i) => fromBinary(CartSchema, reply).cartId === carts[i],
  };
}

/** AddItem over POST /carts/{cart_id}/items, the rest of the request as the JSON body; body `i` as in {@link addItemCall}. */
function restAddItemCall(carts: readonly string[]): UnaryCall {
  const requests = carts.flatMap((cartId) => PRODUCTS.map((product) => ({ cartId, product })));
  return {
    path: "POST /carts/{cart_id}/items",
    bodies: requests.map(({ product }) => Buffer.from(JSON.stringify({ productId: product, name: product, quantity: 1 }))),
    rest: { method: "POST", paths: requests.map(({ cartId }) => `/carts/${encodeURIComponent(cartId)}/items`) },
    check: (reply, i) => {
      const cart = JSON.parse(Buffer.from(reply).toString("utf8")) as { cartId?: string; items?: unknown[] };
      return cart.cartId === requests[i]!.cartId && (cart.items?.length ?? 0) > 0;
    },
  };
}

/** GetCart over GET /carts/{cart_id}. */
function restGetCartCall(carts: readonly string[]): UnaryCall {
  return {
    path: "GET /carts/{cart_id}",
    bodies: carts.map(() => new Uint8Array()),
    rest: { method: "GET", paths: carts.map((cartId) => `/carts/${encodeURIComponent(cartId)}`) },
    check: (reply, i) => (JSON.parse(Buffer.from(reply).toString("utf8")) as { cartId?: string }).cartId === carts[i],
  };
}

/** Product ids for the key-value scenario, apart from the products the carts hold (which the consumer counts). */
function benchProducts(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench-product-${i}`);
}

/** RecordAdded of quantity 1 on product `i`: a read-modify-write of a key-value entity's whole state. */
function recordAddedCall(count: number): UnaryCall {
  const products = benchProducts(count);
  return {
    path: pathOf(ProductPopularityService.method.recordAdded),
    bodies: products.map((productId) => toBinary(RecordAddedRequestSchema, create(RecordAddedRequestSchema, { productId, quantity: 1 }))),
    check: (reply, i) => {
      const counts = fromBinary(ProductPopularitySchema, reply);
      return counts.productId === products[i] && counts.timesAdded > 0n;
    },
  };
}

function getPopularityCall(count: number): UnaryCall {
  const products = benchProducts(count);
  return {
    path: pathOf(ProductPopularityService.method.getPopularity),
    bodies: products.map((productId) => toBinary(GetPopularityRequestSchema, create(GetPopularityRequestSchema, { productId }))),
    check: (reply, i) => fromBinary(ProductPopularitySchema, reply).productId === products[i],
  };
}

/** The carts view's row of cart `i`, by key. */
function cartRowCall(carts: readonly string[]): UnaryCall {
  return {
    path: pathOf(CartsView.method.getCartRow),
    bodies: carts.map((cartId) => toBinary(CartRowRequestSchema, create(CartRowRequestSchema, { cartId }))),
    check: (reply, i) => fromBinary(CartSchema, reply).cartId === carts[i],
  };
}

/** One of the first ten pages of open carts, ten a page, ordered by cart id: a filtered, ordered, paged view query. */
function openCartsPageCall(): UnaryCall {
  const tokens = Array.from({ length: 10 }, (_, page) => (page === 0 ? "" : Buffer.from(String(page * 10)).toString("base64url")));
  return {
    path: pathOf(CartsView.method.getCartsByCheckedOut),
    bodies: tokens.map((pageToken) => toBinary(CartsByCheckedOutRequestSchema, create(CartsByCheckedOutRequestSchema, { checkedOut: false, pageSize: 10, pageToken }))),
    check: (reply) => {
      const page = fromBinary(CartsPageSchema, reply);
      return page.carts.length === 10 && page.hasMore;
    },
  };
}
