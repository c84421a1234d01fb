// SIGKILL the server while clients send commands; after a restart every
// acknowledged command's effect must be there, with no sequence number
// duplicated or skipped, and the carts view (also killed mid-batch) must hold
// every cart exactly as it is; the popular-products consumer must have
// counted every acknowledged addition at least once.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import { ProductPopularityService } from "../src/gen/shop/cart/v1/popularity_pb.js";
import { startServerProcess } from "./support/server-process.js";
import { freshStorageOn } from "./support/storage.js";

const CARTS = 8;
const WORKERS = 32;

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`a server killed with SIGKILL mid-load, on ${dialect}`, function () {
    this.timeout(120_000);

    it("keeps every acknowledged command and a gap-free journal", async () => {
      const storage = await freshStorageOn(dialect);
      const env = { DATABASE_URL: storage.databaseUrl ?? "", ORRERY_DATA_DIR: storage.dataDir, ORRERY_SNAPSHOT_EVERY: "5" };
      try {
        const first = await startServerProcess(env);
        const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: first.url, httpVersion: "2" }));
        const acked = new Map<string, Set<string>>();
        let stop = false;
        let sent = 0;
        const workers = Array.from({ length: WORKERS }, async (_, w) => {
          for (let n = 0; !stop; n++) {
            const cartId = `crash-${(w + n) % CARTS}`;
            const productId = `w${w}-n${n}`;
            sent++;
            try {
              await client.addItem({ cartId, productId, name: "P", quantity: 1 });
              if (!acked.has(cartId)) acked.set(cartId, new Set());
              acked.get(cartId)!.add(productId);
            } catch {
              return; // the server is gone
            }
          }
        });
        // Let real load build up, then kill without warning.
        while ([...acked.values()].reduce((a, s) => a + s.size, 0) < 300) await new Promise((r) => setTimeout(r, 20));
        first.child.kill("SIGKILL");
        assert.equal(await first.exited, "SIGKILL");
        stop = true;
        await Promise.all(workers);
        const ackedCount = [...acked.values()].reduce((a, s) => a + s.size, 0);
        assert.ok(ackedCount >= 300 && sent > ackedCount, `sent ${sent}, acknowledged ${ackedCount}`);

        const second = await startServerProcess(env);
        const after = createClient(ShoppingCartService, createConnectTransport({ baseUrl: second.url, httpVersion: "2" }));
        const itemsPerCart = new Map<string, number>();
        for (let c = 0; c < CARTS; c++) {
          const cartId = `crash-${c}`;
          const cart = await after.getCart({ cartId });
          const present = new Set(cart.items.map((i) => i.productId));
          for (const productId of acked.get(cartId) ?? []) {
            assert.ok(present.has(productId), `${cartId}: acknowledged ${productId} is missing after the crash`);
          }
          assert.ok(cart.items.every((i) => i.quantity === 1), `${cartId}: an AddItem was applied twice`);
          itemsPerCart.set(cartId, cart.items.length);
        }
        // The carts view, killed mid-batch too, ends up with each cart exactly as the cart is: nothing lost, nothing applied twice.
        const view = createClient(CartsView, createConnectTransport({ baseUrl: second.url, httpVersion: "2" }));
        for (let c = 0; c < CARTS; c++) {
          const cartId = `crash-${c}`;
          const expected = await after.getCart({ cartId });
          for (let i = 0; ; i++) {
            const row = await view.getCartRow({ cartId }).catch(() => undefined);
            if (row !== undefined && row.items.length === expected.items.length) {
              assert.deepEqual(row, expected, `${cartId}: the view's row differs from the cart`);
              break;
            }
            if (i > 500) assert.fail(`${cartId}: the view has ${row?.items.length ?? "no"} items after 10 s, the cart ${expected.items.length}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        // The popular-products consumer, killed too, has counted every acknowledged addition at least once.
        const popularity = createClient(ProductPopularityService, createConnectTransport({ baseUrl: second.url, httpVersion: "2" }));
        const ackedProducts = [...acked.values()].flatMap((set) => [...set]);
        for (let i = 0; ; i++) {
          const counts = await Promise.all(ackedProducts.map(async (productId) => (await popularity.getPopularity({ productId })).timesAdded));
          if (counts.every((n) => n >= 1n)) break;
          if (i > 250) assert.fail(`${counts.filter((n) => n === 0n).length} acknowledged additions were never counted`);
          await new Promise((r) => setTimeout(r, 40));
        }
        second.child.kill("SIGTERM");
        assert.equal(await second.exited, 0, `graceful shutdown failed:\n${second.output()}`);

        const journal = await readJournal(storage.databaseUrl, storage.dataDir);
        for (const [cartId, items] of itemsPerCart) {
          const seqs = journal.get(cartId) ?? [];
          assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${cartId}: sequence numbers are not 1..n`);
          assert.equal(seqs.length, items, `${cartId}: ${seqs.length} events for ${items} items`);
        }
      } finally {
        await storage.cleanup();
      }
    });
  });
}

/** Reads every cart's sequence numbers straight from the journal table. */
async function readJournal(databaseUrl: string | undefined, dataDir: string): Promise<Map<string, number[]>> {
  const sql = "SELECT entity_id, seq_nr::int AS seq_nr FROM orrery_events WHERE entity_type = 'shopping-cart' ORDER BY entity_id, seq_nr";
  let rows: Array<{ entity_id: string; seq_nr: number }>;
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    rows = (await client.query(sql)).rows;
    await client.end();
  } else {
    const db = new PGlite(dataDir);
    rows = (await db.query<{ entity_id: string; seq_nr: number }>(sql)).rows;
    await db.close();
  }
  const out = new Map<string, number[]>();
  for (const r of rows) {
    if (!out.has(r.entity_id)) out.set(r.entity_id, []);
    out.get(r.entity_id)!.push(r.seq_nr);
  }
  return out;
}
