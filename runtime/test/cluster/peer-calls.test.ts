import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { createCallSigner, createCallVerifier } from "../../src/cluster/call-signature.js";
import { streamResults } from "../../src/cluster/node-service.js";
import { createPeerCalls, NOT_SERVED_HEADER } from "../../src/cluster/peer-calls.js";
import type { CallToForward } from "../../src/cluster/peer-calls.js";
import { ForwardedCallSchema, ForwardResponseSchema, NodeService } from "../../src/gen/orrery/cluster/v1/node_pb.js";
import type { ForwardRequest, ForwardResponse } from "../../src/gen/orrery/cluster/v1/node_pb.js";
import { createConnectHandler, createHttpServer } from "../../src/server/index.js";
import type { HttpServer } from "../../src/server/index.js";
import { freePort } from "../support/embedded-postgres.js";

const secret = "peer-calls-test-secret";

/** A peer whose NodeService does what the test says with each call, batched as a node's is. */
async function startPeer(forward: (request: ForwardRequest, ctx: HandlerContext) => Promise<ForwardResponse>): Promise<{ url: string; server: HttpServer }> {
  const server = createHttpServer({
    handler: createConnectHandler({
      routes: (router) => router.service(NodeService, {
        forward,
        forwardBatch: (batch, ctx) => streamResults(batch.calls, async (request) => (await forward(request, ctx)).reply),
      }),
    }),
  });
  const { url } = await server.listen(0, "127.0.0.1");
  return { url, server };
}

const call = (more: Partial<CallToForward> = {}): CallToForward => ({
  entityType: "shopping-cart", entityId: "c1", method: "AddItem", command: new Uint8Array([1, 2, 3]),
  headers: new Headers({ "x-tenant": "t1", "content-type": "application/json", "connect-protocol-version": "1", authorization: "Bearer x" }),
  timeoutMs: 2_000, callerDeadline: true, signal: undefined, ...more,
});

describe("forwarding to a peer (the hop's client)", function () {
  this.timeout(10_000);
  const servers: HttpServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
  });
  const peers = createPeerCalls(createCallSigner(secret, () => "sender/1"));

  it("sends a signed call with the caller's metadata (not the protocol's) and its deadline, and returns the reply", async () => {
    const verifier = createCallVerifier(secret);
    let seen: { problem: string | undefined; timeoutMs: number | undefined; request: ForwardRequest } | undefined;
    const peer = await startPeer(async (request, ctx) => {
      seen = { problem: verifier.verify(request), timeoutMs: ctx.timeoutMs(), request };
      return create(ForwardResponseSchema, { reply: new Uint8Array([9, 8, 7]) });
    });
    servers.push(peer.server);
    const outcome = await peers.forward({ name: "p", address: peer.url }, call());
    assert.equal(outcome.kind, "reply");
    assert.deepEqual([...(outcome as { reply: Uint8Array }).reply], [9, 8, 7]);
    assert.equal(seen?.problem, undefined, "the signature verifies");
    assert.equal(seen?.request.sender, "sender/1");
    const forwarded = fromBinary(ForwardedCallSchema, seen!.request.call);
    assert.deepEqual(forwarded.headers.map((h) => [h.name, h.value]).sort(), [["authorization", "Bearer x"], ["x-tenant", "t1"]]);
    // The call carries its own deadline; the batch's stream may last a little longer than its longest call.
    assert.ok(Number(forwarded.timeoutMs) > 1_500 && Number(forwarded.timeoutMs) <= 2_000, `the call carried a deadline of ${forwarded.timeoutMs} ms`);
    assert.ok(seen!.timeoutMs! >= Number(forwarded.timeoutMs), `the batch's stream had ${seen?.timeoutMs} ms`);
  });

  it("passes the peer's error on with its code, text, details and metadata, without the hop's own headers", async () => {
    const peer = await startPeer(async () => {
      throw new ConnectError("ShoppingCartService.AddItem for shopping-cart \"c1\": no", Code.FailedPrecondition, { "x-why": "because", "trailer-x-late": "yes" }, [
        { desc: ForwardResponseSchema, value: { reply: new Uint8Array([1]) } },
      ]);
    });
    servers.push(peer.server);
    const outcome = await peers.forward({ name: "p", address: peer.url }, call());
    assert.equal(outcome.kind, "error");
    const error = (outcome as { error: ConnectError }).error;
    assert.equal(error.code, Code.FailedPrecondition);
    assert.equal(error.rawMessage, "ShoppingCartService.AddItem for shopping-cart \"c1\": no");
    assert.equal(error.metadata.get("x-why"), "because");
    assert.equal(error.metadata.get("content-type"), null);
    assert.equal(error.details.length, 1);
    assert.equal((error.details[0] as { type: string }).type, "orrery.cluster.v1.ForwardResponse");
  });

  it("reports a peer that does not serve the shard, or refuses the connection, as not applied (safe to send elsewhere)", async () => {
    const peer = await startPeer(async () => {
      throw new ConnectError("GetCart for shopping-cart \"c1\": shard 3 has no owner right now", Code.Unavailable, { [NOT_SERVED_HEADER]: "3" });
    });
    servers.push(peer.server);
    const notServed = await peers.forward({ name: "p", address: peer.url }, call());
    assert.equal(notServed.kind, "not-applied");
    assert.match((notServed as { reason: string }).reason, /node p does not serve it: shard 3 has no owner right now/);
    const closed = `http://127.0.0.1:${await freePort()}`;
    const refused = await peers.forward({ name: "gone", address: closed }, call());
    assert.deepEqual(refused, { kind: "not-applied", reason: `node gone at ${closed} refused the connection` });
  });

  it("a peer that does not answer in time: the caller's deadline is DEADLINE_EXCEEDED, the node's own bound is UNAVAILABLE with the outcome unknown", async () => {
    const peer = await startPeer(async (_request, ctx) => {
      await sleep(5_000, undefined, { signal: ctx.signal }).catch(() => undefined);
      return create(ForwardResponseSchema);
    });
    servers.push(peer.server);
    const theirs = await peers.forward({ name: "p", address: peer.url }, call({ timeoutMs: 200, callerDeadline: true }));
    assert.equal(theirs.kind, "error");
    assert.equal((theirs as { error: ConnectError }).error.code, Code.DeadlineExceeded);
    const ours = await peers.forward({ name: "p", address: peer.url }, call({ timeoutMs: 200, callerDeadline: false }));
    assert.equal(ours.kind, "error");
    const error = (ours as { error: ConnectError }).error;
    assert.equal(error.code, Code.Unavailable);
    assert.match(error.rawMessage, /forwarded to node p, the entity's owner, which did not answer within 200 ms; whether the command was applied is not known/);
  });

  it("sends the calls of one turn in one batch and answers each as soon as its result is there", async () => {
    let batches = 0;
    const server = createHttpServer({
      handler: createConnectHandler({
        routes: (router) => router.service(NodeService, {
          forward: () => Promise.reject(new ConnectError("not used", Code.Internal)),
          forwardBatch: (batch) => {
            batches++;
            return streamResults(batch.calls, async (request) => {
              const id = fromBinary(ForwardedCallSchema, request.call).entityId;
              if (id === "slow") await sleep(600);
              if (id === "bad") throw new ConnectError("no such thing", Code.NotFound, { "x-why": "bad" });
              return new TextEncoder().encode(id);
            });
          },
        }),
      }),
    });
    servers.push(server);
    const { url } = await server.listen(0, "127.0.0.1");
    const started = performance.now();
    const settledAt = new Map<string, number>();
    const outcomes = await Promise.all(["slow", "fast", "bad"].map(async (entityId) => {
      const outcome = await peers.forward({ name: "p", address: url }, call({ entityId }));
      settledAt.set(entityId, performance.now() - started);
      return outcome;
    }));
    assert.equal(batches, 1, "one batch for the three calls of one turn");
    assert.deepEqual(outcomes.map((o) => o.kind), ["reply", "reply", "error"]);
    assert.equal(new TextDecoder().decode((outcomes[1] as { reply: Uint8Array }).reply), "fast");
    const error = (outcomes[2] as { error: ConnectError }).error;
    assert.equal(error.code, Code.NotFound);
    assert.equal(error.rawMessage, "no such thing");
    assert.equal(error.metadata.get("x-why"), "bad");
    assert.ok(settledAt.get("fast")! < 400 && settledAt.get("bad")! < 400, `the fast calls waited for the slow one: ${[...settledAt].join(", ")}`);
    assert.ok(settledAt.get("slow")! >= 600);
  });

  it("a caller that goes away cancels the hop", async () => {
    let cancelled = false;
    const peer = await startPeer(async (_request, ctx) => {
      await sleep(5_000, undefined, { signal: ctx.signal }).catch(() => (cancelled = true));
      return create(ForwardResponseSchema);
    });
    servers.push(peer.server);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const outcome = await peers.forward({ name: "p", address: peer.url }, call({ signal: controller.signal }));
    assert.equal(outcome.kind, "error");
    assert.equal((outcome as { error: ConnectError }).error.code, Code.Canceled);
    await sleep(100);
    assert.ok(cancelled, "the peer's handler saw the cancellation");
  });
});

describe("call signatures", () => {
  it("accept a call once, and reject another secret, a changed body, an old or future time and a replay", () => {
    const signer = createCallSigner(secret, () => "a/1");
    let now = Date.now();
    const verifier = createCallVerifier(secret, 10_000, () => now);
    const body = toBinary(ForwardResponseSchema, create(ForwardResponseSchema, { reply: new Uint8Array([1]) }));
    const signed = signer.sign(body);
    assert.equal(verifier.verify(signed), undefined);
    assert.match(verifier.verify(signed)!, /replay/);
    assert.match(verifier.verify(createCallSigner("some-other-secret!", () => "a/1").sign(body))!, /does not match/);
    assert.match(verifier.verify({ ...signer.sign(body), call: new Uint8Array([2]) })!, /does not match/);
    assert.match(verifier.verify({ ...signer.sign(body), sender: "b/1" })!, /does not match/);
    const later = signer.sign(body);
    now += 11_000;
    assert.match(verifier.verify(later)!, /signed 1\d{4} ms ago by a\/1, outside the 10000 ms window/);
    now -= 22_000;
    assert.match(verifier.verify(signer.sign(body))!, /in the future/);
    // Nonces are remembered across the rotation of their sets for as long as a call's time is accepted.
    now = Date.now();
    const fresh = signer.sign(body);
    assert.equal(verifier.verify(fresh), undefined);
    now += 9_000;
    assert.match(verifier.verify(fresh)!, /replay/);
  });
});
