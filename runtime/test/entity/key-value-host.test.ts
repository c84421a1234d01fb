import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import { pino } from "pino";
import { createEntityHost } from "../../src/entity/entity-host.js";
import type { EntityHost } from "../../src/entity/entity-host.js";
import { keyValueModel } from "../../src/entity/key-value-model.js";
import { createKeyValueStore, migrateToLatest, openDatabase } from "../../src/storage/index.js";
import type { Database, KeyValueStore } from "../../src/storage/index.js";
// The counter as a key-value entity, built from an in-code descriptor (shared with the sdk's tests).
import { AddRequestSchema, CounterSchema, CounterService, field, KvCounter, kvCounterHandlers } from "../../../sdk/test/fixtures.js";
import type { KvCounterHandlers } from "../../../sdk/test/fixtures.js";

const add = CounterService.methods.find((m) => m.name === "Add")!;
const get = CounterService.methods.find((m) => m.name === "Get")!;
const noComponents: ComponentClient = { forService: () => { throw new Error("unused"); } };

describe("EntityHost with a key-value entity", () => {
  let database: Database;
  let store: KeyValueStore;
  let loads: string[];
  let host: EntityHost;
  before(async () => {
    database = await openDatabase({});
    await migrateToLatest(database);
  });
  after(() => database.close());

  function startHost(handlers: KvCounterHandlers = kvCounterHandlers, wrap: (s: KeyValueStore) => KeyValueStore = (s) => s): EntityHost {
    store = createKeyValueStore(database);
    loads = [];
    const counting: KeyValueStore = { ...store, load: (type, id) => { loads.push(id); return store.load(type, id); } };
    host = createEntityHost({
      model: keyValueModel(KvCounter.implement(handlers), wrap(counting)), components: () => noComponents, logger: pino({ level: "silent" }),
      passivateAfterMs: 60_000, maxActive: 1000,
    });
    return host;
  }
  afterEach(async () => {
    host.close();
    await store.close();
  });

  const addTo = (id: string, amount: number) => host.invoke(add, id, create(AddRequestSchema, { counterId: id, amount } as never));
  const value = (reply: Message) => field(reply, "value");

  it("keeps the state in memory: one read per activation, not per command", async () => {
    startHost();
    for (let i = 1; i <= 5; i++) assert.equal(value(await addTo("once", 1)), i);
    assert.equal(value(await host.invoke(get, "once", create(AddRequestSchema))), 5);
    assert.deepEqual(loads, ["once"]);
    assert.equal((await store.load(KvCounter.type, "once"))?.revision, 5);
  });

  it("commits the commands of one entity that queued up together as one write of the final state", async () => {
    startHost();
    const replies = await Promise.all(Array.from({ length: 20 }, () => addTo("burst", 1)));
    assert.deepEqual(replies.map(value).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 20 }, (_, i) => i + 1));
    const stored = await store.load(KvCounter.type, "burst");
    assert.ok(stored!.revision < 20, `expected fewer writes than commands, got revision ${stored!.revision}`);
  });

  it("group-commits the writes of concurrent commands for different entities", async () => {
    startHost();
    await Promise.all(Array.from({ length: 50 }, (_, i) => addTo(`group-${i}`, 1)));
    const stats = store.stats();
    assert.equal(stats.writes, 50);
    assert.ok(stats.flushes < 50, `expected fewer flushes than writes, got ${stats.flushes}`);
  });

  it("recovers the stored state after passivation, and a deleted entity as its initial state", async () => {
    startHost();
    await addTo("sleepy", 7);
    host.close();
    startHost();
    assert.equal(value(await addTo("sleepy", 1)), 8);
    assert.equal(value(await addTo("sleepy", -1)), 0);
    host.close();
    startHost();
    assert.equal(value(await host.invoke(get, "sleepy", create(AddRequestSchema))), 0);
    assert.equal(value(await addTo("sleepy", 2)), 2);
    assert.equal((await store.load(KvCounter.type, "sleepy"))?.revision, 4);
  });

  it("answers ABORTED when another writer changed the state, then reloads and carries on from what is stored", async () => {
    startHost();
    await addTo("raced", 1);
    // Another process writes revision 2 behind this host's back.
    await store.write({ entityType: KvCounter.type, entityId: "raced", revision: 2, state: { type: CounterSchema.typeName, payload: new Uint8Array([8, 40]) } });
    await assert.rejects(addTo("raced", 1), (error: ConnectError) => {
      assert.equal(error.code, Code.Aborted);
      assert.match(error.rawMessage, /CounterService.Add for kv-counter "raced": another writer changed this entity's state; it was reloaded, retry the command/);
      return true;
    });
    assert.equal(value(await addTo("raced", 1)), 41);
  });

  it("rejects a command without writing, and names the handler's mistake when it stores the wrong type", async () => {
    startHost({
      ...kvCounterHandlers,
      add: (state, command, ctx) => (field(command, "amount") === 99 ? ctx.updateState(command).thenReply((s) => s) : kvCounterHandlers.add(state, command, ctx)),
    });
    await assert.rejects(addTo("bad", 0), (error: ConnectError) => error.code === Code.InvalidArgument && /amount must not be 0/.test(error.rawMessage));
    assert.equal(await store.load(KvCounter.type, "bad"), undefined);
    await assert.rejects(addTo("bad", 99), (error: ConnectError) => {
      assert.equal(error.code, Code.Internal);
      assert.match(error.rawMessage, /stored test\.AddRequest as the state of "kv-counter"; the state is test\.Counter/);
      return true;
    });
    assert.equal(value(await addTo("bad", 3)), 3);
  });

  it("replies only after the write committed", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    startHost(kvCounterHandlers, (s) => ({ ...s, write: async (w) => { await gate; return s.write(w); } }));
    let replied = false;
    const reply = addTo("gated", 1).then((r) => { replied = true; return r; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(replied, false);
    release();
    assert.equal(value(await reply), 1);
  });

  it("refuses to load a state row of another message type, naming both", async () => {
    startHost();
    await store.write({ entityType: KvCounter.type, entityId: "renamed", revision: 1, state: { type: "test.OldCounter", payload: new Uint8Array(0) } });
    await assert.rejects(addTo("renamed", 1), (error: ConnectError) => {
      assert.equal(error.code, Code.Internal);
      assert.match(error.rawMessage, /the stored state of kv-counter "renamed" is a test\.OldCounter, but the entity's state is test\.Counter/);
      return true;
    });
  });
});
