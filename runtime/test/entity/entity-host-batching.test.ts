import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { createEntityHost } from "../../src/entity/entity-host.js";
import type { EntityHost } from "../../src/entity/entity-host.js";
import { createEventJournal, migrateToLatest, openDatabase, StorageUnavailableError } from "../../src/storage/index.js";
import type { AppendRequest, Database, EventJournal } from "../../src/storage/index.js";
import { eventSourcedModel } from "../../src/entity/event-sourced-model.js";
import { AddRequestSchema, Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import type { CounterHandlers } from "../../../sdk/test/fixtures.js";

const add = CounterService.methods.find((m) => m.name === "Add")!;

/** A journal whose appends wait until the test lets each one through. */
function gatedJournal(journal: EventJournal) {
  const waiting: Array<() => void> = [];
  const appends: AppendRequest[] = [];
  let failNext: Error | undefined;
  const gated: EventJournal = {
    ...journal,
    async append(request) {
      await new Promise<void>((resolve) => waiting.push(resolve));
      appends.push(request);
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      return journal.append(request);
    },
  };
  return {
    journal: gated,
    appends,
    failNextWith: (error: Error) => (failNext = error),
    async releaseOne() {
      while (waiting.length === 0) await new Promise((r) => setTimeout(r, 5));
      waiting.shift()!();
      await new Promise((r) => setTimeout(r, 20));
    },
  };
}

describe("EntityHost batching of one entity's queued commands", () => {
  let database: Database;
  let journal: EventJournal;
  let host: EntityHost;

  before(async () => {
    database = await openDatabase({});
    await migrateToLatest(database);
  });
  after(() => database.close());
  afterEach(async () => {
    host.close();
    await journal.close();
  });

  function start(handlers: CounterHandlers = counterHandlers) {
    journal = createEventJournal(database);
    const gate = gatedJournal(journal);
    host = createEntityHost({
      model: eventSourcedModel(Counter.implement(handlers), gate.journal, 0), logger: pino({ level: "silent" }),
      components: () => ({ forService: () => { throw new Error("unused"); } }),
      passivateAfterMs: 60_000, maxActive: 100,
    });
    return gate;
  }
  const settle = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e: e as ConnectError }));
  const addTo = (id: string, amount: number) => settle(host.invoke(add, id, create(AddRequestSchema, { counterId: id, amount } as never)));
  const value = (m: Message) => field(m, "value");

  it("commits the commands that queued behind a commit as one append, replying in arrival order", async () => {
    const gate = start();
    const first = addTo("hot", 1);
    const rest = [2, 3, 4, 5].map((n) => addTo("hot", n));
    await gate.releaseOne();
    await gate.releaseOne();
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(results.map((r) => (r.ok ? value(r.v) : r.e)), [1, 3, 6, 10, 15]);
    assert.deepEqual(gate.appends.map((a) => a.events.map((e) => e.seqNr)), [[1], [2, 3, 4, 5]]);
  });

  it("releases a rejection only after the commit of the commands queued before it", async () => {
    const gate = start();
    const first = addTo("strict", 1);
    const second = addTo("strict", 2);
    let rejected = false;
    const refused = addTo("strict", 0).then((r) => { rejected = true; return r; });
    await gate.releaseOne();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(rejected, false, "the rejection waits for the commit of the command before it");
    await gate.releaseOne();
    const r = await refused;
    assert.equal(r.ok ? undefined : r.e.code, Code.InvalidArgument);
    assert.equal((await second).ok, true);
    assert.equal((await first).ok, true);
  });

  it("commits the commands before a failing one and reloads for those after it", async () => {
    const gate = start({
      ...counterHandlers,
      applyEvent(state, event) {
        const next = counterHandlers.applyEvent(state, event);
        if (field(event, "amount") === 13) throw new Error("unlucky");
        return next;
      },
    });
    const first = addTo("unlucky", 1);
    const queued = [2, 13, 4].map((n) => addTo("unlucky", n));
    await gate.releaseOne();
    await gate.releaseOne();
    await gate.releaseOne();
    const [two, thirteen, four] = (await Promise.all(queued)).map((r) => (r.ok ? value(r.v) : r.e.code));
    assert.equal((await first).ok, true);
    assert.equal(two, 3);
    assert.equal(thirteen, Code.Internal);
    assert.equal(four, 7, "the half-applied 13 is gone after the reload");
    assert.deepEqual((await journal.readEvents(Counter.type, "unlucky")).map((e) => e.seqNr), [1, 2, 3]);
  });

  it("rejects every command of a batch whose commit failed, rejections included, and recovers", async () => {
    const gate = start();
    const first = addTo("flaky", 1);
    const queued = [addTo("flaky", 5), addTo("flaky", 0)];
    await gate.releaseOne();
    assert.equal((await first).ok, true);
    gate.failNextWith(new StorageUnavailableError("connection lost"));
    await gate.releaseOne();
    for (const r of await Promise.all(queued)) assert.equal(r.ok ? undefined : r.e.code, Code.Unavailable);
    const after = addTo("flaky", 2);
    await gate.releaseOne();
    const r = await after;
    assert.equal(r.ok && value(r.v), 3);
  });
});
