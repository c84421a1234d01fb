import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import "../../support/postgres.js"; // its root hook stops the embedded server after the run
import { shardOf } from "../../../src/cluster/shard-hash.js";
import { ForwardedCallSchema, ForwardRequestSchema, NodeService } from "../../../src/gen/orrery/cluster/v1/node_pb.js";
import type { ForwardRequest } from "../../../src/gen/orrery/cluster/v1/node_pb.js";
import { AddItemRequestSchema, ShoppingCartService } from "../../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { shardCount, startCluster } from "./cluster-harness.js";
import type { NodeProcess, ProcessCluster } from "./cluster-harness.js";

/** A Forward request for AddItem, signed as call-signature.ts documents it (written out here, so the test checks the scheme too). */
function forwardRequest(secret: string, cartId: string, productId: string, { sender = "intruder/1", signedAtMs = Date.now() } = {}): ForwardRequest {
  const call = toBinary(ForwardedCallSchema, create(ForwardedCallSchema, {
    entityType: "shopping-cart", entityId: cartId, method: "AddItem",
    command: toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId, productId, name: "P", quantity: 1 })),
  }));
  const nonce = randomBytes(16);
  const bodyHash = createHash("sha256").update(call).digest("hex");
  const signature = createHmac("sha256", secret).update(`orrery-forward-v1\n${sender}\n${signedAtMs}\n${nonce.toString("hex")}\n${bodyHash}`).digest();
  return create(ForwardRequestSchema, { call, sender, signedAtMs: BigInt(signedAtMs), nonce, signature });
}

describe("the internal route of a cluster of processes", function () {
  this.timeout(60_000);
  let cluster: ProcessCluster;
  let n1: NodeProcess;
  let cartOfN1: string;
  let cartOfN2: string;
  before(async () => {
    cluster = await startCluster(2, { viaProxy: [1] }); // n2's database link can be cut, to hold a call there
    await cluster.settled();
    n1 = cluster.nodes[0]!;
    const owners = new Map((await cluster.shards()).map((row) => [row.shard, row.owner]));
    const cartOwnedBy = (name: string) => {
      for (let i = 0; ; i++) if (owners.get(shardOf("shopping-cart", `cart-${i}`, shardCount)) === name) return `cart-${i}`;
    };
    cartOfN1 = cartOwnedBy("n1");
    cartOfN2 = cartOwnedBy("n2");
  });
  after(async function () {
    const failed = this.test?.parent?.tests.some((t) => t.state === "failed");
    if (failed) console.log(cluster?.logs());
    await cluster?.close();
  });

  // Regression: the forwarding node passed the caller's remaining time, a fraction of a millisecond, as Connect-Timeout-Ms.
  it("forwards to its owner a client call that carries a deadline", async () => {
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: n1.url, httpVersion: "2" }));
    const reply = await client.addItem({ cartId: cartOfN2, productId: "with-deadline", name: "P", quantity: 1 }, { timeoutMs: 5_000 });
    assert.deepEqual(reply.items.map((i) => i.productId), ["with-deadline"]);
  });

  it("rejects a forged internal call with UNAUTHENTICATED: unsigned, wrongly signed, tampered, stale, or replayed; and runs a correctly signed one once", async () => {
    const node = createClient(NodeService, createConnectTransport({ baseUrl: n1.url, httpVersion: "2" }));
    const unauthenticated = (why: RegExp) => (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.Unauthenticated, error.message);
      assert.match(error.rawMessage, why);
      return true;
    };
    const unsigned = create(ForwardRequestSchema, { ...forwardRequest(cluster.secret, cartOfN1, "unsigned"), nonce: new Uint8Array(0), signature: new Uint8Array(0) });
    await assert.rejects(node.forward(unsigned), unauthenticated(/not signed/));
    await assert.rejects(node.forward(forwardRequest("not-the-cluster-secret", cartOfN1, "wrong-secret")), unauthenticated(/signature does not match/));
    const tampered = forwardRequest(cluster.secret, cartOfN1, "tampered");
    tampered.call = forwardRequest(cluster.secret, cartOfN1, "tampered-body").call;
    await assert.rejects(node.forward(tampered), unauthenticated(/signature does not match/));
    await assert.rejects(node.forward(forwardRequest(cluster.secret, cartOfN1, "stale", { signedAtMs: Date.now() - 60_000 })), unauthenticated(/outside the .* window/));

    const genuine = forwardRequest(cluster.secret, cartOfN1, "genuine");
    const reply = await node.forward(genuine);
    assert.ok(reply.reply.length > 0);
    await assert.rejects(node.forward(genuine), unauthenticated(/replay/));

    const { rows } = await sql<{ product: string }>`
      select encode(payload, 'escape') as product from orrery_events where entity_id = ${cartOfN1}`.execute(cluster.database.db);
    assert.equal(rows.length, 1, "only the genuine call wrote an event");
    assert.match(rows[0]!.product, /genuine/);
    assert.match(n1.process.output, /rejected an internal call/);
  });
  // Regression: the forwarding node passed the hop's CANCELED (connect-node's report of a peer that died mid-call) to its caller as if the caller had cancelled.
  it("answers UNAVAILABLE, not CANCELED, when the owner a call was forwarded to dies in the middle of it (the last test here: it kills n2)", async () => {
    const n2 = cluster.nodes[1]!;
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: n1.url, httpVersion: "2" }));
    n2.proxy!.blackhole(); // the forwarded call reaches n2 and waits there for the event store
    const pending = client.addItem({ cartId: cartOfN2, productId: "owner-dies", name: "P", quantity: 1 });
    await sleep(150);
    n2.signal("SIGKILL");
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.Unavailable, `${Code[error.code]}: ${error.rawMessage}`);
      return true;
    });
  });
});
