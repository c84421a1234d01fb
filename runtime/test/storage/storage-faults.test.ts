import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import {
  CommitOutcomeUnknownError,
  createEventJournal,
  migrateToLatest,
  openDatabase,
  SequenceConflictError,
  StorageUnavailableError,
  type Database,
  type EventJournal,
  type EventJournalOptions,
} from "../../src/storage/index.js";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { createEntityHost } from "../../src/entity/entity-host.js";
import { eventSourcedModel } from "../../src/entity/event-sourced-model.js";
import { AddRequestSchema, Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import { capturingLogger } from "../support/capturing-logger.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../support/embedded-postgres.js";
import { bytes, event, newId } from "../support/journal-fixtures.js";
import { withDatabase } from "../support/postgres-server.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

// Faults between the journal and PostgreSQL: a TCP proxy in front of an
// embedded server of this file's own, so the server can be restarted too.
describe("EventJournal through network faults and a restarting PostgreSQL", function () {
  this.timeout(30_000);
  let server: EmbeddedPostgres;
  let proxy: TcpProxy;
  let database: Database;
  /** Straight to the server, past the proxy: to see what committed. */
  let direct: pg.Client;
  const journals: EventJournal[] = [];

  before(async () => {
    server = await startEmbeddedPostgres();
    const setup = new pg.Client({ connectionString: server.url });
    await setup.connect();
    await setup.query("create database faults");
    await setup.end();
    proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    database = await openDatabase({ url: urlThroughProxy(), connectTimeoutMs: 1_000 });
    await migrateToLatest(database);
    await connectDirect();
  });
  afterEach(async () => {
    proxy.restore();
    await Promise.allSettled(journals.splice(0).map((journal) => journal.close()));
  });
  after(async () => {
    await direct?.end().catch(() => undefined);
    await database?.close();
    await proxy?.close();
    await server?.stop();
  });

  const urlThroughProxy = () => `postgres://postgres@127.0.0.1:${proxy.port}/faults`;

  async function connectDirect(): Promise<void> {
    await direct?.end().catch(() => undefined);
    direct = new pg.Client({ connectionString: withDatabase(server.url, "faults") });
    direct.on("error", () => undefined); // a restart ends it
    await direct.connect();
  }

  /** A journal of its own per test (its own health), warmed up so the pool holds an open connection. */
  async function journalWith(options: EventJournalOptions): Promise<EventJournal> {
    const journal = createEventJournal(database, options);
    journals.push(journal);
    await journal.append({ entityType: "warm-up", entityId: newId(), events: [event(1)] });
    return journal;
  }

  /** The real database, noting each session it names as in doubt. */
  function notingInDoubt(): { noting: Database; inDoubt: string[] } {
    const inDoubt: string[] = [];
    const noting: Database = { ...database, inDoubtSession: (error) => {
      const session = database.inDoubtSession(error);
      if (session !== undefined) inDoubt.push(session);
      return session;
    } };
    return { noting, inDoubt };
  }

  /** How many times the server holds event 1 of `entityId`, asked past the proxy. */
  async function stored(entityId: string): Promise<number> {
    const { rows } = await direct.query("select count(*)::int as n from orrery_events where entity_id = $1", [entityId]);
    return rows[0].n as number;
  }

  async function eventually(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
    const started = performance.now();
    while (!(await condition())) {
      if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(10);
    }
    return performance.now() - started;
  }

  it("fails an append with StorageUnavailableError after waitMs while cut off, with the error id of the outage it logged", async () => {
    const { at, logger } = capturingLogger();
    const journal = await journalWith({ waitMs: 300, logger });
    proxy.cut();
    const started = performance.now();
    const error = await journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] }).then(() => undefined, (e: unknown) => e);
    const waited = performance.now() - started;

    assert.ok(error instanceof StorageUnavailableError, String(error));
    assert.match(error.errorId ?? "", /^[0-9a-f]{8}$/);
    assert.ok(waited >= 280 && waited < 1_500, `rejected after ${waited.toFixed(0)} ms`);
    assert.equal(journal.health.state, "down");
    assert.equal(journal.health.outage?.errorId, error.errorId);
    const outageWarnings = at("warn").filter((line) => /unreachable/.test(line.message));
    assert.equal(outageWarnings.length, 1);
    assert.equal(outageWarnings[0]!.fields["errorId"], error.errorId);
    assert.match(outageWarnings[0]!.message, new RegExp(`error id ${error.errorId}`));
  });

  it("comes back up by itself once the network is restored, and says so in one line", async () => {
    const { at, logger } = capturingLogger();
    const journal = await journalWith({ waitMs: 200, logger });
    proxy.cut();
    await assert.rejects(journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] }), StorageUnavailableError);
    proxy.restore();
    const took = await eventually(() => journal.health.state === "up", 1_000, "health up after restore");
    assert.ok(took < 1_000);
    assert.equal(at("info").length, 1);
    assert.match(at("info")[0]!.message, /reachable again .*1 calls failed during the outage/);
    await journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] });
  });

  it("retries an append that waited through a short cut, and stores it exactly once", async () => {
    const journal = await journalWith({ waitMs: 3_000 });
    const id = newId();
    proxy.cut();
    setTimeout(() => proxy.restore(), 500);
    const started = performance.now();
    await journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
    assert.ok(performance.now() - started >= 450, "it did wait for the restore");
    assert.equal(await stored(id), 1);
    assert.equal(journal.health.state, "up");
  });

  it("retries a read that waited through a short cut", async () => {
    const journal = await journalWith({ waitMs: 3_000 });
    const id = newId();
    await journal.append({ entityType: "cart", entityId: id, events: [event(1), event(2)] });
    proxy.cut();
    setTimeout(() => proxy.restore(), 300);
    const loaded = await journal.load("cart", id);
    assert.deepEqual(loaded.events.map((e) => e.seqNr), [1, 2]);
  });

  it("counts the store down when a statement goes unanswered past stallMs, with nothing failed, and completes it after restore", async () => {
    const { at, logger } = capturingLogger();
    const journal = await journalWith({ waitMs: 5_000, stallMs: 300, logger });
    const id = newId();
    proxy.blackhole();
    let settled = false;
    const appending = journal.append({ entityType: "cart", entityId: id, events: [event(1)] }).finally(() => (settled = true));
    await eventually(() => journal.health.state === "down", 1_000, "health down while blackholed");
    assert.equal(settled, false);
    assert.equal(journal.health.outage?.failedCalls, 0);
    assert.match(at("warn")[0]?.message ?? "", /is not answering .*no answer for 300 ms/);
    proxy.restore();
    await appending;
    assert.equal(journal.health.state, "up");
    assert.equal(await stored(id), 1);
  });

  it("fails an append at once when maxPending appends already wait for the store", async () => {
    const journal = await journalWith({ waitMs: 2_000, maxPending: 2 });
    const [first, second] = [newId(), newId()];
    proxy.cut();
    const waiting = [first, second].map((id) => journal.append({ entityType: "cart", entityId: id, events: [event(1)] }));
    const started = performance.now();
    const error = await journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] }).then(() => undefined, (e: unknown) => e);
    assert.ok(performance.now() - started < 100, "at once");
    assert.ok(error instanceof StorageUnavailableError, String(error));
    assert.match(error.message, /2 appends are already waiting for the event store; try again shortly/);
    assert.ok(error.errorId);
    proxy.restore();
    await Promise.all(waiting);
    assert.deepEqual([await stored(first), await stored(second)], [1, 1]);
  });

  it("settles an append whose statement was lost on the way as not committed, retries it, and stores it once", async () => {
    const { noting, inDoubt } = notingInDoubt();
    const journal = createEventJournal(noting, { waitMs: 3_000 });
    journals.push(journal);
    await journal.append({ entityType: "warm-up", entityId: newId(), events: [event(1)] });
    const id = newId();
    proxy.blackhole();
    const appending = journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
    await sleep(100); // sent, and held by the proxy: it never reaches the server
    proxy.cut();
    setTimeout(() => proxy.restore(), 300);
    await appending;
    assert.equal(inDoubt.length, 1, "the lost statement was in doubt");
    assert.equal(await stored(id), 1);
  });

  it("settles an append that committed but whose answer was lost as committed, without an error, and stores it once", async () => {
    const { noting, inDoubt } = notingInDoubt();
    const journal = createEventJournal(noting, { waitMs: 3_000 });
    journals.push(journal);
    await journal.append({ entityType: "warm-up", entityId: newId(), events: [event(1)] });
    const id = newId();
    proxy.deafen();
    const appending = journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
    await eventually(async () => (await stored(id)) === 1, 2_000, "the statement commits on the server");
    proxy.cut();
    setTimeout(() => proxy.restore(), 300);
    await appending;
    assert.equal(inDoubt.length, 1, "the unanswered statement was in doubt");
    assert.equal(await stored(id), 1);
  });

  it("fails an append with CommitOutcomeUnknownError when its answer was lost and the store stays out of reach past waitMs", async () => {
    const { at, logger } = capturingLogger();
    const journal = await journalWith({ waitMs: 400, logger });
    const id = newId();
    proxy.deafen();
    const appending = journal.append({ entityType: "cart", entityId: id, events: [event(1)] }).then(() => undefined, (e: unknown) => e);
    await eventually(async () => (await stored(id)) === 1, 2_000, "the statement commits on the server");
    proxy.cut();
    const error = await appending;
    assert.ok(error instanceof CommitOutcomeUnknownError, String(error));
    assert.match(error.message, /lost its connection mid-statement and the database could not be asked in time whether it committed/);
    assert.equal(error.errorId, journal.health.outage?.errorId);
    assert.ok(at("error").some((line) => line.fields["errorId"] === error.errorId), "logged with its error id");
    proxy.restore();
    assert.equal(await stored(id), 1, "it had committed, once");
  });

  it("gives up on a statement unanswered for statement_timeout + 2 s, settles it as not committed, and commits it once the network is back", async () => {
    const impatient = await openDatabase({ url: urlThroughProxy(), statementTimeoutMs: 300, connectTimeoutMs: 1_000 });
    try {
      const inDoubt: unknown[] = [];
      const noting: Database = { ...impatient, inDoubtSession: (error) => {
        const session = impatient.inDoubtSession(error);
        if (session !== undefined) inDoubt.push(error);
        return session;
      } };
      const journal = createEventJournal(noting, { waitMs: 6_000 });
      journals.push(journal);
      await journal.append({ entityType: "warm-up", entityId: newId(), events: [event(1)] });
      const id = newId();
      proxy.blackhole();
      const started = performance.now();
      const appending = journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
      await eventually(() => inDoubt.length > 0, 3_000, "the connection is given up");
      const gaveUp = performance.now() - started;
      assert.ok(gaveUp >= 2_250 && gaveUp < 2_800, `gave up after ${gaveUp.toFixed(0)} ms`);
      assert.equal((inDoubt[0] as { code?: string }).code, "ETIMEDOUT");
      assert.match(String(inDoubt[0]), /PostgreSQL did not answer within 2300 ms/);
      proxy.restore();
      await appending;
      assert.equal(await stored(id), 1);
      await journal.close();
    } finally {
      await impatient.close();
    }
  });

  it("loses no acknowledged append when the server restarts under 8 appenders, and their later appends succeed", async () => {
    const journal = await journalWith({ waitMs: 10_000 });
    const ids = Array.from({ length: 8 }, newId);
    const acknowledged = new Map(ids.map((id) => [id, 0]));
    const failures: string[] = [];
    let running = true;
    const appenders = ids.map(async (id, n) => {
      let seqNr = 1;
      while (running) {
        try {
          await journal.append({ entityType: "restart", entityId: id, events: [event(seqNr, "test.v1.Happened", bytes(n, seqNr % 256))] });
          acknowledged.set(id, seqNr++);
        } catch (error) {
          failures.push(`${id}#${seqNr}: ${(error as Error).constructor.name}: ${(error as Error).message}`);
          if (error instanceof SequenceConflictError) seqNr++; // an attempt that failed did commit; go on after it
          await sleep(20);
        }
      }
    });
    await sleep(200);
    assert.ok([...acknowledged.values()].every((n) => n > 0), "every appender was appending when the server went down");
    await server.restart("fast");
    const before = [...acknowledged.values()];
    await eventually(() => ids.every((id, i) => acknowledged.get(id)! > before[i]! + 2), 10_000, "every appender appends again");
    const failedBeforeEnd = failures.length;
    await sleep(100);
    running = false;
    await Promise.all(appenders);
    await connectDirect();
    assert.equal(failures.length, failedBeforeEnd, `later appends failed: ${failures.slice(failedBeforeEnd).join("; ")}`);

    for (const [n, id] of ids.entries()) {
      const { rows } = await direct.query("select seq_nr, payload from orrery_events where entity_id = $1 order by seq_nr", [id]);
      const last = acknowledged.get(id)!;
      assert.ok(rows.length >= last, `${id}: ${rows.length} stored, ${last} acknowledged`);
      rows.forEach((row: { seq_nr: string; payload: Buffer }, index: number) => {
        assert.equal(Number(row.seq_nr), index + 1);
        assert.deepEqual([...row.payload], [n, (index + 1) % 256], `${id}#${index + 1} is this appender's own`);
      });
    }
    assert.deepEqual(failures, [], "no append failed across a fast restart within waitMs");
  });

  it("keeps serving reads of active entities while the event store is cut off, and fails writes with UNAVAILABLE naming the entity", async () => {
    const journal = await journalWith({ waitMs: 300 });
    const host = createEntityHost({
      model: eventSourcedModel(Counter.implement(counterHandlers), journal, 0), components: () => ({ forService: () => { throw new Error("unused"); } }),
      logger: pino({ level: "silent" }), passivateAfterMs: 60_000, maxActive: 100, storageWaitMs: 300,
    });
    try {
      const id = newId();
      const addMethod = CounterService.methods.find((m) => m.name === "Add")!;
      const getMethod = CounterService.methods.find((m) => m.name === "Get")!;
      await host.invoke(addMethod, id, create(AddRequestSchema, { counterId: id, amount: 5 } as never));
      proxy.cut();
      await sleep(100); // let the pool see its connections close: a statement sent on one already cut would be in doubt
      const read = await host.invoke(getMethod, id, create(AddRequestSchema, { counterId: id } as never));
      assert.equal(field(read, "value"), 5, "an active entity answers reads from memory");
      await assert.rejects(host.invoke(addMethod, id, create(AddRequestSchema, { counterId: id, amount: 1 } as never)), (err: ConnectError) => {
        assert.equal(err.code, Code.Unavailable);
        assert.match(err.rawMessage, /CounterService\.Add for counter "[^"]+": the event store is unreachable or overloaded; the command was not applied and the call is safe to retry \(error id [0-9a-f]{8}\)/);
        assert.doesNotMatch(err.rawMessage, /127\.0\.0\.1|ECONN|terminated/);
        return true;
      });
      proxy.restore();
      const after = await host.invoke(addMethod, id, create(AddRequestSchema, { counterId: id, amount: 1 } as never));
      assert.equal(field(after, "value"), 6, "reloaded from the journal once the store is back: the failed command left no trace");
    } finally {
      host.close();
    }
  });
});
