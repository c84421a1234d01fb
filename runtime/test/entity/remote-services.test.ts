// Calls from a handler to a component of another service of the project, found
// through ORRERY_SERVICE_<NAME>_URL: two real services on their own ports and
// databases, a real HTTP/2 client.
import assert from "node:assert/strict";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { loadConfig } from "../../src/config.js";
import { Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import type { CounterHandlers } from "../../../sdk/test/fixtures.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { ProductPopularityService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/popularity_pb.js";

type CallOptions = { headers?: Record<string, string>; timeoutMs?: number };
interface CounterClient {
  add(request: { counterId: string; amount: number }, options?: CallOptions): Promise<Message>;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call succeeded");
}

describe("calls to another service of the project", function () {
  this.timeout(30_000);
  let shop: OrreryService | undefined;
  let counters: OrreryService;
  let client: CounterClient;

  /** Counter "cart-<id>" adds `amount` pens to cart <id> of the shop service, "pop" asks a service no one serves. */
  const handlers: CounterHandlers = {
    ...counterHandlers,
    async add(state, command, ctx) {
      const amount = field(command, "amount") as number;
      if (ctx.entityId.startsWith("cart-")) {
        const reply = await ctx.components.forService(ShoppingCartService).addItem({ cartId: ctx.entityId.slice(5), productId: "pen", name: "Pen", quantity: amount });
        return ctx.reply({ ...state, value: reply.items.reduce((n, i) => n + i.quantity, 0) } as never);
      }
      if (ctx.entityId === "pop") {
        await ctx.components.forService(ProductPopularityService).getPopularity({ productId: "pen" });
      }
      return counterHandlers.add(state, command, ctx);
    },
  };

  before(async () => {
    shop = createService({ components: [cart], serviceName: "shop", port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", handleSignals: false });
    const { url: shopUrl } = await shop.start();
    counters = createService({
      components: [Counter.implement(handlers)], serviceName: "counters", serviceUrls: new Map([["shop", shopUrl]]),
      port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", handleSignals: false,
    });
    const { url } = await counters.start();
    client = createClient(CounterService, createConnectTransport({ baseUrl: url, httpVersion: "2" })) as unknown as CounterClient;
  });
  after(async () => {
    await counters?.stop();
    await shop?.stop();
  });

  it("says what it serves at GET /orrery/services", async () => {
    const answer = await (await fetch(`${shop!.url}/orrery/services`)).json();
    assert.deepEqual(answer, { name: "shop", services: ["shop.cart.v1.ShoppingCartService"] });
  });

  it("calls the component in the service that serves it and gets its reply", async () => {
    assert.equal(field(await client.add({ counterId: "cart-c1", amount: 2 }), "value"), 2);
    assert.equal(field(await client.add({ counterId: "cart-c1", amount: 3 }), "value"), 5);
    const shopClient = createClient(ShoppingCartService, createConnectTransport({ baseUrl: shop!.url, httpVersion: "2" }));
    assert.equal((await shopClient.getCart({ cartId: "c1" })).items[0]?.quantity, 5, "the shop service applied both");
  });

  it("passes the other service's error on with its code", async () => {
    const error = await failure(client.add({ counterId: "cart-c2", amount: 0 }));
    assert.equal(error.code, Code.InvalidArgument, error.message);
    // The cart's validation rules reject quantity 0, and their message comes through unchanged.
    assert.match(error.rawMessage, /^CounterService\.Add for counter "cart-c2": ShoppingCartService\.AddItem: the request breaks its validation rules: quantity: must be greater than 0 \[int32\.gt\]$/);
  });

  it("answers UNIMPLEMENTED, naming the proto service and the fix, when no service of the project serves it", async () => {
    const error = await failure(client.add({ counterId: "pop", amount: 1 }));
    assert.equal(error.code, Code.Unimplemented, error.message);
    assert.match(error.rawMessage, /no service of the project serves shop\.cart\.v1\.ProductPopularityService: "shop" does not; add it to a service, or set ORRERY_SERVICE_<NAME>_URL/);
  });

  it("answers UNAVAILABLE without the other service's address when it is down", async () => {
    const port = new URL(shop!.url).port;
    await shop!.stop();
    shop = undefined;
    const error = await failure(client.add({ counterId: "cart-c3", amount: 1 }));
    assert.equal(error.code, Code.Unavailable, error.message);
    assert.match(error.rawMessage, /the service "shop" could not be reached; retry later/);
    assert.doesNotMatch(error.rawMessage, new RegExp(`127\\.0\\.0\\.1|:${port}`));
  });

  it("reads ORRERY_SERVICE_<NAME>_URL settings, and refuses one that is not a URL in one line", () => {
    const config = loadConfig({ ORRERY_SERVICE_WALLET_URL: "http://localhost:9001", ORRERY_SERVICE_FUNDS_TRANSFER_URL: "http://10.0.0.7:9002", ORRERY_SERVICE_NAME: "shop" });
    assert.deepEqual([...config.serviceUrls], [["wallet", "http://localhost:9001"], ["funds-transfer", "http://10.0.0.7:9002"]]);
    assert.equal(config.serviceName, "shop");
    assert.throws(() => loadConfig({ ORRERY_SERVICE_WALLET_URL: "localhost:9001" }), /ORRERY_SERVICE_WALLET_URL="localhost:9001" is not an http:\/\/ or https:\/\/ URL/);
  });
});
