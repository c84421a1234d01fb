// Checks after a fault: what the carts and the journal hold against the calls that were made.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { withDatabase } from "../../../../runtime/test/support/postgres-server.js";
import { ShoppingCartService } from "../../src/gen/shop/cart/v1/cart_pb.js";
import type { AddItemCall } from "./cart-load.js";

/**
 * Reads every cart back through the server and checks, against the calls made
 * and the journal: each acknowledged product is in its cart; every product in
 * a cart was sent to that cart and has quantity 1 (nothing applied twice); each
 * cart's sequence numbers are 1..n with one event per item.
 */
export async function checkCarts(url: string, timeoutMs: number, calls: readonly AddItemCall[], journal: Map<string, number[]>): Promise<string[]> {
  const problems: string[] = [];
  const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
  for (const cartId of new Set(calls.map((c) => c.cartId))) {
    const sentHere = calls.filter((c) => c.cartId === cartId);
    let items: Array<{ productId: string; quantity: number }>;
    try {
      items = (await client.getCart({ cartId }, { timeoutMs })).items;
    } catch (error) {
      problems.push(`GetCart(${cartId}) failed after recovery: ${String(error)}`);
      continue;
    }
    const present = new Set(items.map((i) => i.productId));
    const missing = sentHere.filter((c) => c.ok && !present.has(c.productId)).map((c) => c.productId);
    if (missing.length > 0) problems.push(`${cartId}: acknowledged products are missing: ${missing.join(", ")}`);
    const sent = new Set(sentHere.map((c) => c.productId));
    const wrong = items.filter((i) => i.quantity !== 1 || !sent.has(i.productId));
    if (wrong.length > 0) problems.push(`${cartId}: items applied twice or never sent here: ${wrong.map((i) => `${i.productId}×${i.quantity}`).join(", ")}`);
    const seqs = journal.get(cartId) ?? [];
    if (!isOneToN(seqs)) problems.push(`${cartId}: journal sequence numbers are not 1..n: ${seqs.join(",")}`);
    if (seqs.length !== items.length) problems.push(`${cartId}: ${seqs.length} events in the journal for ${items.length} items in the cart`);
  }
  return problems;
}

/** When the server died: the journal alone must still be gap-free and hold every acknowledged write's event. */
export function checkJournalOnly(calls: readonly AddItemCall[], journal: Map<string, number[]>): string[] {
  const problems: string[] = [];
  for (const cartId of new Set(calls.map((c) => c.cartId))) {
    const seqs = journal.get(cartId) ?? [];
    if (!isOneToN(seqs)) problems.push(`${cartId}: journal sequence numbers are not 1..n: ${seqs.join(",")}`);
    const acked = calls.filter((c) => c.cartId === cartId && c.ok).length;
    if (seqs.length < acked) problems.push(`${cartId}: ${seqs.length} events in the journal for ${acked} acknowledged writes`);
  }
  return problems;
}

/** Every cart's sequence numbers, read straight from the journal table. */
export async function readJournal(serverUrl: string, database: string): Promise<Map<string, number[]>> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, database) });
  await client.connect();
  try {
    const { rows } = await client.query<{ entity_id: string; seq_nr: number }>(
      "select entity_id, seq_nr::int as seq_nr from orrery_events where entity_type = 'shopping-cart' order by entity_id, seq_nr",
    );
    const out = new Map<string, number[]>();
    for (const r of rows) out.set(r.entity_id, [...(out.get(r.entity_id) ?? []), r.seq_nr]);
    return out;
  } finally {
    await client.end();
  }
}

function isOneToN(seqs: readonly number[]): boolean {
  return seqs.every((s, i) => s === i + 1);
}
