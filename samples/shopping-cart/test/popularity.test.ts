// The popular-products consumer end to end: cart events feed the product
// popularity entity through the component client, across a restart.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { ProductPopularityService } from "../src/gen/shop/cart/v1/popularity_pb.js";
import { popularity, popularProducts } from "../src/popularity.js";
import { freshStorage } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

describe("popular products, counted by a consumer of the carts' events", function () {
  let storage: TestStorage;
  let service: OrreryService;
  let baseUrl: string;
  const start = async () => {
    service = createService({
      components: [cart, popularity, popularProducts], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
    });
    baseUrl = (await service.start()).url;
  };
  before(async () => {
    storage = await freshStorage();
    await start();
  });
  after(async () => {
    await service?.stop();
    await storage?.cleanup();
  });

  /** Polls until the product's counts are `expected`, or fails with what was there. */
  async function expectCounts(productId: string, expected: { timesAdded: bigint; quantityAdded: bigint }) {
    const client = createClient(ProductPopularityService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    let last;
    for (let i = 0; i < 250; i++) {
      last = await client.getPopularity({ productId });
      if (last.timesAdded === expected.timesAdded && last.quantityAdded === expected.quantityAdded) return;
      await sleep(20);
    }
    assert.deepEqual({ timesAdded: last?.timesAdded, quantityAdded: last?.quantityAdded }, expected);
  }

  it("counts every ItemAdded of every cart, ignoring removals and checkouts", async () => {
    const carts = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => carts.addItem({ cartId: `pop-${i}`, productId: "pen", name: "Pen", quantity: i + 1 })));
    await carts.addItem({ cartId: "pop-0", productId: "ink", name: "Ink", quantity: 3 });
    await carts.removeItem({ cartId: "pop-0", productId: "ink" });
    await carts.checkout({ cartId: "pop-1" });
    await expectCounts("pen", { timesAdded: 10n, quantityAdded: 55n });
    await expectCounts("ink", { timesAdded: 1n, quantityAdded: 3n });
  });

  it("goes on after a restart from where it stopped, counting nothing twice", async () => {
    await service.stop();
    await start();
    const carts = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    await carts.addItem({ cartId: "pop-after", productId: "pen", name: "Pen", quantity: 5 });
    await expectCounts("pen", { timesAdded: 11n, quantityAdded: 60n });
  });
});
