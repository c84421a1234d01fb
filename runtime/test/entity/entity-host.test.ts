import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import { pino } from "pino";
import { createEntityHost } from "../../src/entity/entity-host.js";
import type { EntityHost, EntityHostOptions } from "../../src/entity/entity-host.js";
import { createEventJournal, migrateToLatest, openDatabase } from "../../src/storage/index.js";
import type { Database, EventJournal } from "../../src/storage/index.js";
import { eventSourcedModel } from "../../src/entity/event-sourced-model.js";
// A counter entity built from an in-code descriptor (shared with the sdk's tests).
import { AddedSchema, AddRequestSchema, Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";

const add = CounterService.methods.find((m) => m.name === "Add")!;
const get = CounterService.methods.find((m) => m.name === "Get")!;
const noComponents: ComponentClient = { forService: () => { throw new Error("unused"); } };

describe("EntityHost", () => {
  let database: Database;
  let journal: EventJournal;
  let loads: string[];
  let host: EntityHost;

  before(async () => {
    database = await openDatabase({});
    await migrateToLatest(database);
  });
  after(() => database.close());

  function startHost(options: Partial<EntityHostOptions> & { snapshotEvery?: number } = {}, handlers = counterHandlers): EntityHost {
    journal = createEventJournal(database);
    loads = [];
    const counting: EventJournal = { ...journal, load: (type, id) => { loads.push(id); return journal.load(type, id); } };
    const { snapshotEvery = 0, ...rest } = options;
    host = createEntityHost({
      model: eventSourcedModel(Counter.implement(handlers), counting, snapshotEvery), components: () => noComponents, logger: pino({ level: "silent" }),
      passivateAfterMs: 60_000, maxActive: 1000, ...rest,
    });
    return host;
  }
  afterEach(async () => {
    host.close();
    await journal.close();
  });

  const addTo = (id: string, amount: number) => host.invoke(add, id, create(AddRequestSchema, { counterId: id, amount } as never));
  const value = (reply: Message) => field(reply, "value");

  it("answers a command before its caller's deadline when the store does not confirm its write: outcome unknown; one still queued behind it: not applied, and it never runs", async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let appends = 0;
    startHost();
    const silent: EventJournal = { ...journal, append: async (request) => { appends++; await held; return journal.append(request); } };
    host.close();
    host = createEntityHost({
      model: eventSourcedModel(Counter.implement(counterHandlers), silent, 0), components: () => noComponents, logger: pino({ level: "silent" }),
      passivateAfterMs: 60_000, maxActive: 1000,
    });
    const started = performance.now();
    const deadline = started + 500;
    const first = host.invoke(add, "silent", create(AddRequestSchema, { counterId: "silent", amount: 1 } as never), { deadline }).catch((e: unknown) => e);
    const second = host.invoke(add, "silent", create(AddRequestSchema, { counterId: "silent", amount: 10 } as never), { deadline }).catch((e: unknown) => e);
    const [a, b] = (await Promise.all([first, second])) as [ConnectError, ConnectError];
    const ms = performance.now() - started;
    assert.ok(ms < 500 && ms >= 400, `answered after ${ms} ms, the deadline being 500 ms`);
    assert.equal(a.code, Code.Unavailable);
    assert.match(a.rawMessage, /did not confirm the command's write before the caller's deadline; whether it was applied is not known/);
    assert.equal(b.code, Code.Unavailable);
    assert.match(b.rawMessage, /the command was not applied before the caller's deadline \(0 commands of this entity were ahead of it\); it is safe to retry/);
    release!();
    await host.drain();
    assert.equal(appends, 1, "the second command never ran");
    assert.equal(value(await host.invoke(get, "silent", create(AddRequestSchema))), 1);
  });

  it("reads the journal once per activation, not per command", async () => {
    startHost();
    for (let i = 1; i <= 5; i++) assert.equal(value(await addTo("once", 1)), i);
    assert.equal(value(await host.invoke(get, "once", create(AddRequestSchema))), 5);
    assert.deepEqual(loads, ["once"]);
  });

  it("group-commits the appends of concurrent commands for different entities", async () => {
    startHost();
    await Promise.all(Array.from({ length: 50 }, (_, i) => addTo(`group-${i}`, 1)));
    const stats = journal.stats();
    assert.equal(stats.appends, 50);
    assert.ok(stats.flushes < 50, `expected fewer flushes than appends, got ${stats.flushes}`);
  });

  it("passivates idle entities and recovers them from the snapshot and later events", async () => {
    startHost({ passivateAfterMs: 60, snapshotEvery: 3 });
    for (let i = 0; i < 7; i++) await addTo("sleepy", 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(host.activeCount, 0);
    const loaded = await journal.load(Counter.type, "sleepy");
    assert.equal(loaded.snapshot?.seqNr, 6);
    assert.deepEqual(loaded.events.map((e) => e.seqNr), [7]);
    assert.equal(value(await addTo("sleepy", 1)), 15);
    assert.deepEqual(loads, ["sleepy", "sleepy"]);
  });

  it("keeps at most maxActive entities, dropping the least recently used", async () => {
    startHost({ maxActive: 2, passivateAfterMs: 100 });
    for (const id of ["lru-a", "lru-b", "lru-c"]) await addTo(id, 1);
    await addTo("lru-a", 1);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(host.activeCount, 2);
    loads.length = 0;
    await addTo("lru-a", 1);
    await addTo("lru-c", 1);
    assert.deepEqual(loads, [], "the two most recently used stayed active");
  });

  it("answers ABORTED when another writer took the sequence number, then reloads and carries on", async () => {
    startHost();
    await addTo("contended", 1);
    // A second writer (a stale owner, say) appends behind the host's back.
    const payload = new Uint8Array([8, 10]); // Added { amount: 10 }
    await journal.append({ entityType: Counter.type, entityId: "contended", events: [{ seqNr: 2, eventType: AddedSchema.typeName, payload }] });
    await assert.rejects(addTo("contended", 1), (err: ConnectError) => {
      assert.equal(err.code, Code.Aborted);
      assert.match(err.rawMessage, /CounterService\.Add for counter "contended": another writer appended/);
      return true;
    });
    assert.equal(value(await addTo("contended", 1)), 12);
  });

  it("replies only after the append committed", async () => {
    startHost();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: EventJournal = { ...journal, append: async (req) => { await gate; return journal.append(req); } };
    host = createEntityHost({
      model: eventSourcedModel(Counter.implement(counterHandlers), slow, 0), components: () => noComponents, logger: pino({ level: "silent" }),
      passivateAfterMs: 60_000, maxActive: 10,
    });
    let replied = false;
    const reply = addTo("gated", 1).then((r) => { replied = true; return r; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(replied, false);
    release();
    assert.equal(value(await reply), 1);
    assert.equal((await journal.readEvents(Counter.type, "gated")).length, 1);
  });

  it("continues sequence numbers after a delete and starts from the initial state", async () => {
    // Add with amount -1 deletes (Get is read_only, so it may not).
    const deleting = {
      ...counterHandlers,
      add: (s: Message, c: Message, ctx: Parameters<typeof counterHandlers.add>[2]) =>
        field(c, "amount") === -1 ? ctx.deleteEntity().thenReply((state) => state) : counterHandlers.add(s, c, ctx),
    };
    startHost({}, deleting as never);
    await addTo("gone", 5);
    await addTo("gone", -1);
    assert.equal(value(await addTo("gone", 1)), 1);
    const events = await journal.readEvents(Counter.type, "gone");
    assert.deepEqual(events.map((e) => [e.seqNr, e.eventType]), [[1, "test.Added"], [2, "orrery.v1.EntityDeleted"], [3, "test.Added"]]);
    // A fresh host recovers the post-delete state from the journal.
    host.close();
    startHost({}, deleting as never);
    assert.equal(value(await host.invoke(get, "gone", create(AddRequestSchema))), 1);
  });

  it("skips a command whose caller gave up while it waited", async () => {
    startHost();
    const controller = new AbortController();
    controller.abort(new ConnectError("deadline", Code.DeadlineExceeded));
    await assert.rejects(host.invoke(add, "late", create(AddRequestSchema, { amount: 1 } as never), { signal: controller.signal }), (err: ConnectError) => err.code === Code.DeadlineExceeded);
    assert.equal((await journal.readEvents(Counter.type, "late")).length, 0);
  });
});

describe("EntityHost recovery", () => {
  let database: Database;
  let journal: EventJournal;

  before(async () => {
    database = await openDatabase({});
    await migrateToLatest(database);
    journal = createEventJournal(database);
  });
  after(async () => {
    await journal.close();
    await database.close();
  });

  function hostWith(handlers = counterHandlers): EntityHost {
    return createEntityHost({
      model: eventSourcedModel(Counter.implement(handlers), journal, 0), components: () => noComponents, logger: pino({ level: "silent" }),
      passivateAfterMs: 60_000, maxActive: 10,
    });
  }

  it("refuses to serve an entity whose journal holds an event type no longer declared, naming the type and the fix", async () => {
    await journal.append({ entityType: Counter.type, entityId: "legacy", events: [{ seqNr: 1, eventType: "test.Removed", payload: new Uint8Array(0) }] });
    const host = hostWith();
    try {
      await assert.rejects(host.invoke(get, "legacy", create(AddRequestSchema)), (err: ConnectError) => {
        assert.equal(err.code, Code.Internal);
        assert.match(err.rawMessage, /CounterService\.Get for counter "legacy": could not recover the entity from its journal: event 1 of counter "legacy" has type test\.Removed, which is not among the entity's events .*must stay declared/);
        return true;
      });
    } finally {
      host.close();
    }
  });

  it("answers INTERNAL when applyEvent throws during recovery, and serves again once it is fixed", async () => {
    await journal.append({ entityType: Counter.type, entityId: "brittle", events: [{ seqNr: 1, eventType: AddedSchema.typeName, payload: new Uint8Array([8, 3]) }] });
    const broken = hostWith({ ...counterHandlers, applyEvent: () => { throw new Error("bug in applyEvent"); } });
    try {
      await assert.rejects(broken.invoke(get, "brittle", create(AddRequestSchema)), (err: ConnectError) => {
        assert.equal(err.code, Code.Internal);
        assert.match(err.rawMessage, /could not recover the entity from its journal: applyEvent threw an Error on event 1 \(test\.Added\) \(error id [0-9a-f]{8}\)/);
        assert.doesNotMatch(err.rawMessage, /bug in applyEvent/, "what user code threw stays in the log");
        return true;
      });
    } finally {
      broken.close();
    }
    const fixed = hostWith();
    try {
      assert.equal(field(await fixed.invoke(get, "brittle", create(AddRequestSchema)), "value"), 3);
    } finally {
      fixed.close();
    }
  });
});
