// Calls from inside handlers across two nodes on PostgreSQL: the nested call is
// forwarded to the node that owns its entity and still carries the caller's
// correlation id, metadata, chain and deadline; a cycle through both nodes is
// refused instead of deadlocking.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, fast, freshDatabase, idsOwnedBy } from "./cluster-fixtures.js";
import { Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import type { CounterHandlers } from "../../../sdk/test/fixtures.js";

type CallOptions = { headers?: Record<string, string>; timeoutMs?: number };
interface CounterClient {
  add(request: { counterId: string; amount: number }, options?: CallOptions): Promise<Message>;
}

describe("calls between components across nodes", function () {
  this.timeout(30_000);
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const services: OrreryService[] = [];
  /** Which counter each relaying counter calls; filled once the nodes' names are known. */
  const relays = new Map<string, string>();
  const seen = new Map<string, Headers>();
  const slow: { abortedAfter?: number; ran?: boolean } = {};

  const handlers: CounterHandlers = {
    ...counterHandlers,
    async add(state, command, ctx) {
      seen.set(ctx.entityId, new Headers(ctx.metadata));
      const target = relays.get(ctx.entityId);
      if (target === "slow") {
        slow.ran = true;
        const started = performance.now();
        await Promise.race([sleep(5_000), new Promise((resolve) => ctx.signal.addEventListener("abort", resolve))]);
        if (ctx.signal.aborted) slow.abortedAfter = performance.now() - started;
      } else if (target !== undefined) {
        const counters = ctx.components.forService(CounterService) as unknown as CounterClient;
        return ctx.reply(await counters.add({ counterId: target, amount: field(command, "amount") as number }, { headers: { "x-hop": ctx.entityId } }));
      }
      return counterHandlers.add(state, command, ctx);
    },
  };

  before(async () => {
    db = await freshDatabase();
    for (let i = 0; i < 2; i++) {
      const service = createService({
        components: [Counter.implement(handlers)], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false, ...fast, databaseUrl: db.url,
      });
      await service.start();
      services.push(service);
    }
    const [a, b] = services as [OrreryService, OrreryService];
    await eventually("both nodes hold their share of the shards", () =>
      a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024 && b.cluster!.ownedShards().length > 300);
    const names = [a.cluster!.name!, b.cluster!.name!];
    const onA = idsOwnedBy("counter", "a", names[0]!, names, 3);
    const onB = idsOwnedBy("counter", "b", names[1]!, names, 3);
    // a-hop (on A) calls b-leaf (on B); cycle: A → B → A; slow: A → a slow one on B.
    relays.set(onA[0]!, onB[0]!);
    relays.set(onA[1]!, onB[1]!).set(onB[1]!, onA[1]!);
    relays.set(onA[2]!, onB[2]!).set(onB[2]!, "slow");
    ids = { hop: onA[0]!, leaf: onB[0]!, cycleA: onA[1]!, cycleB: onB[1]!, slowHop: onA[2]!, slowLeaf: onB[2]! };
  });
  after(async () => {
    await Promise.allSettled(services.splice(0).map((s) => s.stop()));
    await db?.drop();
  });
  let ids: Record<"hop" | "leaf" | "cycleA" | "cycleB" | "slowHop" | "slowLeaf", string>;

  const clientOf = (service: OrreryService) =>
    createClient(CounterService, createConnectTransport({ baseUrl: service.url, httpVersion: "2" })) as unknown as CounterClient;

  async function failure(call: Promise<unknown>): Promise<ConnectError> {
    try {
      await call;
    } catch (error) {
      return ConnectError.from(error);
    }
    assert.fail("the call succeeded");
  }

  it("forwards the nested call to the owner with the correlation id, application metadata and chain", async () => {
    const reply = await clientOf(services[0]!).add({ counterId: ids.hop, amount: 3 }, { headers: { "orrery-correlation-id": "corr-x", "x-tenant": "acme" }, timeoutMs: 5_000 });
    assert.equal(field(reply, "value"), 3);
    const leaf = seen.get(ids.leaf)!;
    assert.equal(leaf.get("orrery-correlation-id"), "corr-x");
    assert.equal(leaf.get("x-tenant"), "acme");
    assert.equal(leaf.get("x-hop"), ids.hop);
    assert.equal(leaf.get("orrery-call-chain"), `counter:${ids.hop}`);
  });

  it("refuses a cycle through both nodes with FAILED_PRECONDITION, at once", async () => {
    const started = performance.now();
    const error = await failure(clientOf(services[0]!).add({ counterId: ids.cycleA, amount: 1 }, { timeoutMs: 5_000 }));
    assert.equal(error.code, Code.FailedPrecondition, error.message);
    assert.match(error.rawMessage, new RegExp(`called from a chain of calls that started in this entity \\(counter "${ids.cycleA}" → counter "${ids.cycleB}" → counter "${ids.cycleA}"\\)`));
    assert.ok(performance.now() - started < 4_000);
  });

  it("gives the forwarded call what is left of the first caller's deadline", async () => {
    const started = performance.now();
    const error = await failure(clientOf(services[0]!).add({ counterId: ids.slowHop, amount: 1 }, { timeoutMs: 500 }));
    assert.equal(error.code, Code.DeadlineExceeded, error.message);
    await eventually("the slow handler on the other node was given up on", () => slow.abortedAfter !== undefined, 3_000);
    assert.ok(slow.ran);
    assert.ok(slow.abortedAfter! < 2_000, `aborted after ${Math.round(slow.abortedAfter!)} ms`);
    assert.ok(performance.now() - started < 3_000);
  });
});
