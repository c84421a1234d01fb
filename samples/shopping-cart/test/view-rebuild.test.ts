// A changed view definition, end to end on both databases: the new tables are
// built from the journal while the previous ones keep answering, and queries
// switch to them once they caught up.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import type { AnyViewUpdateHandler, View } from "@orrery/sdk";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { cartsView } from "../src/carts-view.js";
import { CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import type { Cart } from "../src/gen/shop/cart/v1/cart_pb.js";
import { freshStorageOn } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";
import { tableRows } from "./support/table-rows.js";

/**
 * The carts view as a changed definition would be generated: new table (and
 * index) names, and handlers that write something else (item names in upper
 * case), held back until `release` so the test can look at the rebuild: they
 * fail until then, and the projection retries them (a handler that waited
 * instead would hold PGlite's one connection).
 */
function changedCartsView(options: { upperCase: boolean } = { upperCase: true }): { view: View; release(): void } {
  const base = cartsView.spec.tables[0]!.sqlName.slice(1).split("__")[0]!;
  const rename = (text: string) => text.replaceAll(base, `${base}_v2`);
  let released = false;
  const release = () => void (released = true);
  const spec = {
    ...cartsView.spec,
    name: `${cartsView.spec.name}_v2`,
    tables: cartsView.spec.tables.map((t) => ({ ...t, sqlName: rename(t.sqlName), indexes: t.indexes.map(rename) })),
    queries: JSON.parse(rename(JSON.stringify(cartsView.spec.queries))) as typeof cartsView.spec.queries,
  };
  const upper = (handler: AnyViewUpdateHandler): AnyViewUpdateHandler => async (row, update, ctx) => {
    if (!released) throw new Error("held back by the test");
    const effect = await handler(row, update, ctx);
    if (effect.kind !== "update" || !options.upperCase) return effect;
    const next = effect.row as Cart;
    return ctx.updateRow({ ...next, items: next.items.map((i) => ({ ...i, name: i.name.toUpperCase() })) } as never);
  };
  return {
    view: { kind: "view", spec, handler: (name) => { const h = cartsView.handler(name); return h && upper(h); } } as View,
    release,
  };
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`a view whose definition changed (${dialect})`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService | undefined;

    async function start(components: Parameters<typeof createService>[0]["components"]) {
      service = createService({ components, port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false, databaseUrl: storage.databaseUrl, dataDir: storage.dataDir });
      const { url } = await service.start();
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      return { carts: createClient(ShoppingCartService, transport), view: createClient(CartsView, transport) };
    }

    async function rowOf(view: Client<typeof CartsView>, cartId: string): Promise<string> {
      try {
        const row = await view.getCartRow({ cartId });
        return row.items.map((i) => i.name).join(",");
      } catch (error) {
        if (ConnectError.from(error).code === Code.NotFound) return "(none)";
        throw error;
      }
    }

    async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
      for (let i = 0; i < 500; i++) {
        if (await check()) return;
        await sleep(20);
      }
      assert.fail(`${what} within 10 s`);
    }

    beforeEach(async () => (storage = await freshStorageOn(dialect)));
    afterEach(async () => {
      await service?.stop();
      service = undefined;
      await storage?.cleanup();
    });

    it("keeps answering from the previous tables while the new ones are built, then switches", async () => {
      const first = await start([cart, cartsView]);
      for (const cartId of ["r1", "r2"]) await first.carts.addItem({ cartId, productId: "pen", name: "Pen", quantity: 1 });
      await eventually(async () => (await rowOf(first.view, "r2")) === "Pen", "the first definition's rows did not show");
      await service!.stop();

      const changed = changedCartsView();
      const second = await start([cart, changed.view]);
      // The new table is being built (its handlers are held back): queries answer from the previous one, as it was.
      await second.carts.addItem({ cartId: "r3", productId: "ink", name: "Ink", quantity: 1 });
      await sleep(300);
      assert.equal(await rowOf(second.view, "r1"), "Pen", "the previous definition's row, not NOT_FOUND from the empty new table");
      assert.equal(await rowOf(second.view, "r3"), "(none)", "the previous tables no longer change");

      changed.release();
      await eventually(async () => (await rowOf(second.view, "r1")) === "PEN", "queries did not switch to the rebuilt table");
      assert.equal(await rowOf(second.view, "r2"), "PEN");
      assert.equal(await rowOf(second.view, "r3"), "INK", "the rebuilt table has what was written during the rebuild");
      await second.carts.addItem({ cartId: "r1", productId: "cap", name: "Cap", quantity: 1 });
      await eventually(async () => (await rowOf(second.view, "r1")) === "PEN,CAP", "the rebuilt table does not follow new writes");
      await service!.stop();

      // A restart of the same definition keeps its tables: nothing is rebuilt.
      const again = changedCartsView();
      again.release();
      const third = await start([cart, again.view]);
      assert.equal(await rowOf(third.view, "r1"), "PEN,CAP");
    });

    it("rebuilds from the journal exactly the rows the incremental build made", async () => {
      const first = await start([cart, cartsView]);
      for (let i = 0; i < 12; i++) {
        const cartId = `h-${String(i).padStart(2, "0")}`;
        await first.carts.addItem({ cartId, productId: i % 3 === 0 ? "pen" : "ink", name: "P", quantity: i + 1 });
        if (i % 4 === 0) await first.carts.addItem({ cartId, productId: "paper", name: "Paper", quantity: 1 });
        if (i % 8 === 0) await first.carts.removeItem({ cartId, productId: i % 3 === 0 ? "pen" : "ink" });
        if (i % 2 === 0) await first.carts.checkout({ cartId });
      }
      await eventually(async () => (await rowOf(first.view, "h-11")) === "P", "the incremental build did not catch up");
      await service!.stop();

      const same = changedCartsView({ upperCase: false });
      same.release();
      const second = await start([cart, same.view]);
      // The previous table no longer changes: a cart written now shows once queries read the rebuilt table.
      await second.carts.addItem({ cartId: "probe", productId: "pen", name: "Pen", quantity: 1 });
      await eventually(async () => (await rowOf(second.view, "probe")) === "Pen", "queries did not switch to the rebuilt table");
      const rebuilt = (await tableRows(same.view.spec.tables[0]!.sqlName, storage, service!)).filter((r) => (r as { key: string }).key !== "probe");
      await service!.stop();
      const incremental = await tableRows(cartsView.spec.tables[0]!.sqlName, storage, service!);
      assert.equal(incremental.length, 12);
      assert.deepEqual(rebuilt, incremental);
    });
  });
}
