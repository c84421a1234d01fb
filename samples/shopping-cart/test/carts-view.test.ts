// The carts view end to end, on both databases: the same history gives the
// same rows and the same answers.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { cartsView } from "../src/carts-view.js";
import { CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { freshStorageOn } from "./support/storage.js";
import { tableRows } from "./support/table-rows.js";

/** Runs one fixed history of carts on `dialect`; returns the view's answers and its table's rows. */
async function runHistory(dialect: "PGlite" | "PostgreSQL") {
  const storage = await freshStorageOn(dialect);
  const service = createService({
    components: [cart, cartsView], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
    databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
  });
  try {
    const { url } = await service.start();
    const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
    const carts = createClient(ShoppingCartService, transport);
    const view = createClient(CartsView, transport);
    for (let i = 0; i < 12; i++) {
      await carts.addItem({ cartId: `cart-${String(i).padStart(2, "0")}`, productId: i % 3 === 0 ? "pen" : "ink", name: "P", quantity: i + 1 });
      if (i % 4 === 0) await carts.addItem({ cartId: `cart-${String(i).padStart(2, "0")}`, productId: "paper", name: "Paper", quantity: 1 });
      if (i === 0) await carts.removeItem({ cartId: `cart-${String(i).padStart(2, "0")}`, productId: i % 3 === 0 ? "pen" : "ink" });
      if (i % 2 === 0) await carts.checkout({ cartId: `cart-${String(i).padStart(2, "0")}` });
    }
    // The view applies the feed in commit order: once the last write (cart-11's item) shows, every earlier one does.
    for (let i = 0; ; i++) {
      const last = await view.getCartRow({ cartId: "cart-11" }).catch(() => undefined);
      if (last !== undefined && last.items.length === 1) break;
      if (i > 250) assert.fail("the view did not catch up within 5 s");
      await sleep(20);
    }
    const byProduct = Object.fromEntries(await Promise.all(["pen", "ink", "paper", "stamp"].map(async (productId) =>
      [productId, (await view.getCartsByProduct({ productId })).carts.map((c) => c.cartId)] as const)));
    const page1 = await view.getCartsByCheckedOut({ checkedOut: true, pageSize: 4 });
    const page2 = await view.getCartsByCheckedOut({ checkedOut: true, pageSize: 4, pageToken: page1.nextPageToken });
    const rows = await tableRows(cartsView.spec.tables[0]!.sqlName, storage, service);
    return { byProduct, pages: [page1.carts.map((c) => c.cartId), page2.carts.map((c) => c.cartId), page2.hasMore], rows };
  } finally {
    await service.stop();
    await storage.cleanup();
  }
}

describe("the carts view", function () {
  this.timeout(120_000);

  it("answers by product and by checked-out state, paged, with the same rows on PGlite and on PostgreSQL", async () => {
    const onPGlite = await runHistory("PGlite");
    const onPostgres = await runHistory("PostgreSQL");
    assert.deepEqual(onPGlite.byProduct, {
      pen: ["cart-03", "cart-06", "cart-09"],
      ink: ["cart-01", "cart-02", "cart-04", "cart-05", "cart-07", "cart-08", "cart-10", "cart-11"],
      paper: ["cart-00", "cart-04", "cart-08"],
      stamp: [],
    });
    assert.deepEqual(onPGlite.pages, [["cart-00", "cart-02", "cart-04", "cart-06"], ["cart-08", "cart-10"], false]);
    assert.equal(onPGlite.rows.length, 12);
    assert.deepEqual(onPostgres, onPGlite);
  });
});
