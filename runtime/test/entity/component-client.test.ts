// Calls between components from inside handlers, through a real server and a
// real HTTP/2 Connect client: what a nested call inherits (deadline,
// correlation id, application metadata), how its errors arrive, and that a
// call back into a waiting entity is refused instead of deadlocking.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Message } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import type { CounterHandlers } from "../../../sdk/test/fixtures.js";
import { failure } from "../support/call-failure.js";

type CallOptions = { headers?: Record<string, string>; timeoutMs?: number };
interface CounterClient {
  add(request: { counterId: string; amount: number }, options?: CallOptions): Promise<Message>;
  get(request: { counterId: string }, options?: CallOptions): Promise<Message>;
}

/** Which counter each relaying counter calls when it is added to. */
const relays: Record<string, string> = { hop: "leaf", self: "self", cycA: "cycB", cycB: "cycA", slowHop: "slow", badHop: "leaf" };

describe("the component client inside handlers", () => {
  let service: OrreryService;
  /** The counter service's client, typed by hand (the fixture's descriptor is made in code). */
  let client: CounterClient;
  /** The request headers each counter's last Add saw. */
  const seen = new Map<string, Headers>();
  /** When the slow counter's handler saw its signal abort, after how long. */
  const slow: { abortedAfter?: number } = {};

  const handlers: CounterHandlers = {
    ...counterHandlers,
    async add(state, command, ctx) {
      const id = ctx.entityId;
      seen.set(id, new Headers(ctx.metadata));
      const target = relays[id];
      if (target !== undefined) {
        const amount = id === "badHop" ? 0 : (field(command, "amount") as number);
        const counters = ctx.components.forService(CounterService) as unknown as CounterClient;
        return ctx.reply(await counters.add({ counterId: target, amount }, { headers: { "x-hop": id } }));
      }
      if (id === "slow") {
        const started = performance.now();
        await Promise.race([sleep(5_000), new Promise((resolve) => ctx.signal.addEventListener("abort", resolve))]);
        if (ctx.signal.aborted) slow.abortedAfter = performance.now() - started;
      }
      return counterHandlers.add(state, command, ctx);
    },
  };

  before(async () => {
    service = createService({ components: [Counter.implement(handlers)], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent" });
    const { url } = await service.start();
    client = createClient(CounterService, createConnectTransport({ baseUrl: url, httpVersion: "2" })) as unknown as CounterClient;
  });
  after(() => service?.stop());

  const add = (counterId: string, amount: number, options?: CallOptions) => client.add({ counterId, amount }, { timeoutMs: 5_000, ...options });

  it("calls the other entity and returns its reply, which persisted its event", async () => {
    const reply = await add("hop", 3);
    assert.equal(field(reply, "value"), 3);
    const again = await add("hop", 2);
    assert.equal(field(again, "value"), 5);
    // The leaf's own state, read directly: the nested calls were applied to it.
    assert.equal(field(await client.get({ counterId: "leaf" }), "value"), 5);
  });

  it("passes on the correlation id, application metadata and trace context, but not credentials", async () => {
    await add("hop", 1, { headers: { "orrery-correlation-id": "corr-42", "x-tenant": "acme", authorization: "Bearer secret", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
    const leaf = seen.get("leaf")!;
    assert.equal(leaf.get("orrery-correlation-id"), "corr-42");
    assert.equal(leaf.get("x-tenant"), "acme");
    assert.equal(leaf.get("x-hop"), "hop", "the handler's own headers on the call");
    assert.equal(leaf.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(leaf.get("authorization"), null);
    assert.equal(leaf.get("orrery-call-chain"), "counter:hop");
  });

  it("makes up a correlation id when the first caller sent none", async () => {
    await add("hop", 1);
    assert.match(seen.get("leaf")!.get("orrery-correlation-id") ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(seen.get("hop")!.get("orrery-correlation-id"), null);
  });

  it("rejects a handler's call to its own entity at once with FAILED_PRECONDITION instead of deadlocking its mailbox", async () => {
    const started = performance.now();
    const error = await failure(add("self", 1));
    assert.equal(error.code, Code.FailedPrecondition, error.message);
    assert.match(error.rawMessage, /^CounterService\.Add for counter "self": called from inside a handler of the same entity/);
    assert.match(error.rawMessage, /Do the work in the handler itself/);
    assert.ok(performance.now() - started < 4_000, "answered before the caller's deadline");
    // The entity is not stuck: it still serves a direct command afterwards.
    assert.equal(field(await client.get({ counterId: "self" }), "value"), 0);
  });

  it("rejects a cycle through other entities (a calls b calls a), naming the chain", async () => {
    const error = await failure(add("cycA", 1));
    assert.equal(error.code, Code.FailedPrecondition, error.message);
    assert.match(error.rawMessage, /called from a chain of calls that started in this entity \(counter "cycA" → counter "cycB" → counter "cycA"\)/);
  });

  it("gives the nested call what is left of the caller's deadline", async () => {
    delete slow.abortedAfter;
    const started = performance.now();
    const error = await failure(add("slowHop", 1, { timeoutMs: 400 }));
    assert.equal(error.code, Code.DeadlineExceeded, error.message);
    await sleep(200);
    const after = slow.abortedAfter;
    assert.ok(after !== undefined, "the slow handler's signal was aborted by the inherited deadline");
    assert.ok(after < 2_000, `the inner call was given up after ${Math.round(after)} ms, not the 5 s it would have taken`);
    assert.ok(performance.now() - started < 3_000);
  });

  it("lets the other component's error arrive with its Connect code and message", async () => {
    const error = await failure(add("badHop", 1));
    assert.equal(error.code, Code.InvalidArgument, error.message);
    assert.match(error.rawMessage, /CounterService\.Add for counter "badHop": CounterService\.Add for counter "leaf": amount must not be 0/);
    // The relaying entity persisted nothing and still serves.
    assert.equal(field(await client.get({ counterId: "badHop" }), "value"), 0);
  });
});
