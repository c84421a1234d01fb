// Checks a cluster's journal against what the load client saw: dense
// sequence numbers, every acknowledged command exactly once, nothing that was
// never sent, and every row written by the node that owned its shard.
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { sql } from "kysely";
import { shardOf } from "../../../src/cluster/shard-hash.js";
import { ItemAddedSchema } from "../../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import type { ProcessCluster } from "./cluster-harness.js";
import { shardCount } from "./cluster-harness.js";
import type { CallRecord } from "./load-client.js";
import { auditedWrites } from "./write-audit.js";
import type { AuditedWrite } from "./write-audit.js";

/** What the journal held, for the test's log line. */
export interface JournalReport {
  readonly entities: number;
  readonly events: number;
  readonly acknowledged: number;
  /** Calls that failed (or were in doubt) whose event is in the journal anyway. */
  readonly failedButWritten: number;
  readonly writes: readonly AuditedWrite[];
}

/**
 * Asserts, over every shopping-cart entity: sequence numbers 1..n without gap
 * or duplicate; each event an ItemAdded of a call the client made, to that
 * cart, at most once; every acknowledged call's event exactly once; and,
 * from the write audit, that each row was written by a process of the node
 * that owned the row's shard when the row was written.
 */
export async function checkJournal(cluster: ProcessCluster, calls: readonly CallRecord[]): Promise<JournalReport> {
  const { rows } = await sql<{ entity_id: string; seq_nr: number; event_type: string; payload: Uint8Array }>`
    select entity_id, seq_nr, event_type, payload from orrery_events where entity_type = 'shopping-cart' order by entity_id, seq_nr`.execute(cluster.database.db);
  const byProduct = new Map(calls.map((call) => [call.productId, call]));
  const seen = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  for (const row of rows) {
    const previous = lastSeq.get(row.entity_id) ?? 0;
    assert.equal(Number(row.seq_nr), previous + 1, `${row.entity_id}: seq_nr ${row.seq_nr} follows ${previous}`);
    lastSeq.set(row.entity_id, previous + 1);
    assert.equal(row.event_type, "shop.cart.v1.ItemAdded", `${row.entity_id}/${row.seq_nr}`);
    const { productId } = fromBinary(ItemAddedSchema, row.payload);
    const call = byProduct.get(productId);
    assert.ok(call !== undefined, `${row.entity_id}/${row.seq_nr} holds ${productId}, which no call sent`);
    assert.equal(call.cartId, row.entity_id, `${productId} was sent to ${call.cartId}`);
    seen.set(productId, (seen.get(productId) ?? 0) + 1);
  }
  const twice = [...seen].filter(([, n]) => n > 1).map(([p]) => p);
  assert.deepEqual(twice, [], "products written more than once");
  const acknowledged = calls.filter((call) => call.ok);
  const lost = acknowledged.filter((call) => !seen.has(call.productId));
  assert.deepEqual(lost.map((call) => `${call.productId} (${call.cartId}, via ${call.tried.join(" > ")})`), [], "acknowledged calls missing from the journal");

  const writes = await auditedWrites(cluster.database);
  assert.equal(writes.length, rows.length, "every journal row was audited");
  for (const write of writes) {
    const writer = cluster.nodeOfPid(write.pid);
    assert.equal(write.shard, shardOf("shopping-cart", write.entityId, shardCount), `the audit's shard of ${write.entityId}`);
    assert.ok(writer !== undefined, `${write.entityId}/${write.seqNr} was written by session ${write.session}, not by a node of this test`);
    assert.equal(write.owner, writer, `${write.entityId}/${write.seqNr} (shard ${write.shard}) was written by ${writer} while ${write.owner} owned the shard at epoch ${write.epoch}`);
  }
  return { entities: lastSeq.size, events: rows.length, acknowledged: acknowledged.length, failedButWritten: seen.size - acknowledged.length, writes };
}
